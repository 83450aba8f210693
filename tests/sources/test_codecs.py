"""Codecs of Spark event logs: every supported format decodes to the exact original bytes.

The reference is a real plain log (pyspark 4.0.1, recorded/). It is compressed here with the
Python writers (zstandard, gzip, bz2, lzma, zipfile), with small encoders of Spark's own stream
formats written for this test (lz4-java blocks, snappy-java stream, ning LZF chunks), and, when a
JVM is available, with Spark's own ``CompressionCodec`` through py4j.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import struct
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EVENTLOGS
from sparkprobe.sources.codecs import (
    CorruptStream,
    UnsupportedCodec,
    codec_from_name,
    detect_codec,
    lzf_decompress,
    open_stream,
    sniff_codec,
)

PLAIN_LOG = EVENTLOGS / "recorded" / "spark-4.0.1-plain" / "app-20261124030112-0000"

pytestmark = pytest.mark.skipif(not PLAIN_LOG.is_file(), reason=f"real event logs not found at {EVENTLOGS}")


@pytest.fixture(scope="module")
def plain() -> bytes:
    return PLAIN_LOG.read_bytes()


def read_all(path: Path, member: str | None = None) -> tuple[bytes, Any]:
    with open_stream(path, member) as s:
        data = s.read()
        return data, (s.codec, s.compressed_bytes, s.decompressed_bytes, s.truncated)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --- encoders of Spark's stream formats (test-only, independent of the decoders) ------------------


def spark_lz4(data: bytes, block: int = 1 << 15, *, end_marker: bool = True) -> bytes:
    """lz4-java LZ4BlockOutputStream layout; incompressible blocks are stored raw like lz4-java does."""
    import lz4.block

    level = block.bit_length() - 1 - 10
    out = bytearray()
    for piece in chunks(data, block):
        packed = lz4.block.compress(piece, store_size=False)
        if len(packed) >= len(piece):
            out += b"LZ4Block" + struct.pack("<Biii", 0x10 | level, len(piece), len(piece), 0) + piece
        else:
            out += b"LZ4Block" + struct.pack("<Biii", 0x20 | level, len(packed), len(piece), 0) + packed
    if end_marker:
        out += b"LZ4Block" + struct.pack("<Biii", 0x10 | level, 0, 0, 0)
    return bytes(out)


def spark_snappy(data: bytes, block: int = 1 << 15) -> bytes:
    """snappy-java SnappyOutputStream layout: header, then [int32 BE length][raw snappy] chunks."""
    import cramjam

    out = bytearray(b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1))
    for piece in chunks(data, block):
        raw = bytes(cramjam.snappy.compress_raw(piece))
        out += struct.pack(">i", len(raw)) + raw
    return bytes(out)


def lzf_compress(data: bytes) -> bytes:
    """A greedy LZF encoder (liblzf format) good enough to exercise every decoder branch."""
    out = bytearray()
    literals = bytearray()
    table: dict[bytes, int] = {}

    def flush_literals() -> None:
        for piece in chunks(bytes(literals), 32):
            out.append(len(piece) - 1)
            out.extend(piece)
        literals.clear()

    i = 0
    while i < len(data):
        key = data[i : i + 3]
        ref = table.get(key) if len(key) == 3 else None
        table[key] = i
        if ref is not None and 0 < i - ref <= 8192:
            length = 3
            while i + length < len(data) and length < 264 and data[ref + length] == data[i + length]:
                length += 1
            flush_literals()
            off = i - ref - 1
            if length - 2 < 7:
                out.append(((length - 2) << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(length - 2 - 7)
            out.append(off & 0xFF)
            i += length
        else:
            literals.append(data[i])
            i += 1
    flush_literals()
    return bytes(out)


def spark_lzf(data: bytes, block: int = 0xFFFF) -> bytes:
    """ning compress-lzf chunks: compressed ones, and a stored one where LZF does not help."""
    out = bytearray()
    for piece in chunks(data, block):
        packed = lzf_compress(piece)
        if len(packed) < len(piece):
            out += b"ZV\x01" + struct.pack(">HH", len(packed), len(piece)) + packed
        else:
            out += b"ZV\x00" + struct.pack(">H", len(piece)) + piece
    return bytes(out)


def zstd_frames(data: bytes, pieces: int) -> bytes:
    import zstandard

    size = len(data) // pieces + 1
    return b"".join(zstandard.ZstdCompressor(level=3).compress(p) for p in chunks(data, size))


def zstd_flushed(data: bytes) -> bytes:
    """One frame written like a streaming writer that flushes after every line (in-progress logs)."""
    import zstandard

    buf = io.BytesIO()
    w = zstandard.ZstdCompressor().stream_writer(buf, closefd=False)
    for line in data.splitlines(keepends=True):
        w.write(line)
        w.flush(zstandard.FLUSH_BLOCK)
    w.close()  # type: ignore[no-untyped-call]
    return buf.getvalue()


def gzip_members(data: bytes) -> bytes:
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "zstd-one-frame": (".zstd", lambda d: zstd_frames(d, 1)),
    "zstd-many-frames": (".zstd", lambda d: zstd_frames(d, 5)),
    "zstd-flushed": (".zst", zstd_flushed),
    "lz4-spark": (".lz4", spark_lz4),
    "lz4-small-blocks": (".lz4", lambda d: spark_lz4(d, 1 << 10)),
    "lz4-concatenated": (".lz4", lambda d: spark_lz4(d[:1000]) + spark_lz4(d[1000:])),
    "lz4-no-end-marker": (".lz4", lambda d: spark_lz4(d, end_marker=False)),
    "snappy-spark": (".snappy", spark_snappy),
    "snappy-concatenated": (".snappy", lambda d: spark_snappy(d[:5000]) + spark_snappy(d[5000:])),
    "lzf-spark": (".lzf", spark_lzf),
    "gzip": (".gz", gzip.compress),
    "gzip-two-members": (".gz", gzip_members),
    "bz2": (".bz2", bz2.compress),
    "xz": (".xz", lzma.compress),
}
EXPECTED_CODEC = {
    ".zstd": "zstd",
    ".zst": "zstd",
    ".lz4": "lz4",
    ".snappy": "snappy",
    ".lzf": "lzf",
    ".gz": "gzip",
    ".bz2": "bz2",
    ".xz": "xz",
}


@pytest.mark.parametrize("variant", sorted(ENCODERS))
def test_codec_roundtrip_gives_the_exact_bytes(variant: str, plain: bytes, tmp_path: Path) -> None:
    ext, encode = ENCODERS[variant]
    path = tmp_path / f"app-1{ext}"
    path.write_bytes(encode(plain))
    data, (codec, compressed, decompressed, truncated) = read_all(path)
    assert codec == EXPECTED_CODEC[ext]
    assert data == plain
    assert (compressed, decompressed, truncated) == (path.stat().st_size, len(plain), False)


@pytest.mark.parametrize("variant", sorted(ENCODERS))
def test_magic_wins_over_a_missing_or_wrong_extension(variant: str, plain: bytes, tmp_path: Path) -> None:
    ext, encode = ENCODERS[variant]
    for name in ("app-2", "app-2.inprogress", "app-2.txt"):
        path = tmp_path / name
        path.write_bytes(encode(plain))
        data, (codec, *_rest) = read_all(path)
        assert (codec, data == plain) == (EXPECTED_CODEC[ext], True)


def test_line_iteration_matches_the_plain_lines(plain: bytes, tmp_path: Path) -> None:
    path = tmp_path / "app.lz4"
    path.write_bytes(spark_lz4(plain, 1 << 10))  # lines straddle many blocks
    with open_stream(path) as s:
        assert list(s) == plain.splitlines(keepends=True)


def test_zip_members_and_nested_codecs(plain: bytes, tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app-plain", plain)
        zf.writestr("app-z.zstd", zstd_frames(plain, 2))
        zf.writestr("eventlog_v2_app/events_1_app.lz4", spark_lz4(plain))
    for member, codec in (
        ("app-plain", "plain"),
        ("app-z.zstd", "zstd"),
        ("eventlog_v2_app/events_1_app.lz4", "lz4"),
    ):
        data, (got_codec, compressed, decompressed, _) = read_all(path, member)
        assert (data == plain, got_codec, decompressed) == (True, codec, len(plain))
        assert 0 < compressed <= path.stat().st_size
    with pytest.raises(UnsupportedCodec, match="holds 3 files") as err:
        open_stream(path)
    assert err.value.codec == "zip"


def test_single_member_zip_opens_without_naming_the_member(plain: bytes, tmp_path: Path) -> None:
    path = tmp_path / "one.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("application_1", plain)
    assert read_all(path)[0] == plain


@pytest.mark.parametrize(
    ("name", "content", "codec"),
    [
        ("app.lz4", b"LZ4Blokk" + bytes(13), "lz4"),
        ("app.snappy", b"\x82SNAPPX\x00" + bytes(8), "snappy"),
        ("app.zstd", b"\x28\xb5\x2f\xfe" + bytes(12), "zstd"),
        ("app.zst", b"garbage!" * 4, "zstd"),
        ("app.lzf", b"ZX\x01\x00\x10", "lzf"),
        ("app.gz", b"\x1f\x8c" + bytes(20), "gzip"),
        ("app.zip", b"PKzz" + bytes(30), "zip"),
        ("app.lz4.inprogress", b"LZ5Block" + bytes(13), "lz4"),
        ("app.lzo", b"\x89LZO\x00\r\n", "lzo"),
        ("app.br", b"\x0b\x02\x80", "br"),
    ],
)
def test_garbled_magic_names_the_codec(name: str, content: bytes, codec: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedCodec) as err:
        read_all(path)
    assert err.value.codec == codec
    assert codec in str(err.value) and name in str(err.value)


def test_unrecognised_content_without_codec_extension_is_read_as_plain(tmp_path: Path) -> None:
    path = tmp_path / "application_1_1"
    path.write_bytes(b"\x00garbage\n{}\n")
    assert read_all(path)[1][0] == "plain"


@pytest.mark.parametrize(
    ("module", "ext", "codec"),
    [("zstandard", ".zstd", "zstd"), ("lz4", ".lz4", "lz4"), ("cramjam", ".snappy", "snappy")],
)
def test_missing_module_is_an_unsupported_codec(
    module: str, ext: str, codec: str, plain: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"app{ext}"
    encoders: dict[str, Callable[[bytes], bytes]] = {
        ".zstd": lambda d: zstd_frames(d, 1),
        ".lz4": spark_lz4,
        ".snappy": spark_snappy,
    }
    encode = encoders[ext]
    path.write_bytes(encode(plain))
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    if module == "lz4":
        monkeypatch.setitem(sys.modules, "lz4.block", None)
    with pytest.raises(UnsupportedCodec, match=module) as err:
        read_all(path)
    assert err.value.codec == codec


@pytest.mark.parametrize(
    "variant",
    [
        "zstd-flushed",
        "zstd-many-frames",
        "lz4-small-blocks",
        "snappy-spark",
        "lzf-spark",
        "gzip",
        "bz2",
        "xz",
    ],
)
def test_truncated_stream_gives_a_prefix_and_the_flag(variant: str, plain: bytes, tmp_path: Path) -> None:
    ext, encode = ENCODERS[variant]
    full = encode(plain)
    flagged = 0
    for cut in (len(full) - 1, len(full) - 7, len(full) // 2, len(full) // 3 + 5, 9, 3):
        path = tmp_path / f"cut{cut}{ext}.inprogress"
        path.write_bytes(full[:cut])
        data, (codec, _c, _d, truncated) = read_all(path)
        assert codec == EXPECTED_CODEC[ext]
        assert plain.startswith(data)  # all of it when only a frame epilogue or end marker is cut
        flagged += truncated
    # Cutting at an arbitrary byte lands inside a block/frame almost always; a block boundary is fine.
    assert flagged >= 5


def test_lz4_cut_on_a_block_boundary_is_not_truncated(plain: bytes, tmp_path: Path) -> None:
    full = spark_lz4(plain, end_marker=False)
    first_block = 21 + struct.unpack_from("<i", full, 9)[0]
    path = tmp_path / "app.lz4"
    path.write_bytes(full[:first_block])
    data, (_codec, _c, _d, truncated) = read_all(path)
    assert (data, truncated) == (plain[: 1 << 15], False)


@pytest.mark.parametrize(
    ("ext", "corrupt"),
    [
        (".lz4", lambda d: d[:21] + b"\xff" * 40 + d[61:]),  # garbage inside an lz4 block
        (".lz4", lambda d: d + b"LZ4Blocx" + bytes(13)),  # a second stream with a bad magic
        (".snappy", lambda d: d[:20] + b"\xff" * 40 + d[60:]),
        (".snappy", lambda d: d[:16] + struct.pack(">i", -5) + d[20:]),
        (".lzf", lambda d: d[:5] + struct.pack(">H", struct.unpack_from(">H", d, 5)[0] - 1) + d[7:]),
        (".lzf", lambda d: d + b"ZV\x07\x00\x01"),
        (".zstd", lambda d: d[:6] + b"\xff" * 64 + d[70:]),
        (".gz", lambda d: d[:12] + b"\xff" * 64 + d[76:]),
    ],
)
def test_corrupt_data_raises_corrupt_stream(
    ext: str, corrupt: Callable[[bytes], bytes], plain: bytes, tmp_path: Path
) -> None:
    encoders: dict[str, Callable[[bytes], bytes]] = {
        ".lz4": spark_lz4,
        ".snappy": spark_snappy,
        ".lzf": spark_lzf,
        ".zstd": lambda d: zstd_frames(d, 1),
        ".gz": gzip.compress,
    }
    encode = encoders[ext]
    path = tmp_path / f"app{ext}"
    path.write_bytes(corrupt(encode(plain)))
    with pytest.raises(CorruptStream) as err:
        read_all(path)
    assert err.value.codec == EXPECTED_CODEC[ext]


def test_lzf_decoder_handles_overlapping_back_references() -> None:
    # "ab" literal, then a back-reference of length 8 at distance 2 (overlapping copy)
    block = bytes([1]) + b"ab" + bytes([(6 << 5) | 0, 1])
    assert lzf_decompress(block, 10) == b"ababababab"
    data = b"spark " * 500 + bytes(range(256)) * 3
    assert lzf_decompress(lzf_compress(data), len(data)) == data
    with pytest.raises(CorruptStream):
        lzf_decompress(block, 11)


def test_detection_rules() -> None:
    assert codec_from_name("app-1.zstd.inprogress") == "zstd"
    assert codec_from_name("events_1_app-1.zst") == "zstd"
    assert codec_from_name("application_1536831636016_59384_1") is None
    assert codec_from_name("eventlog-2021-06-15--15-00.gz") == "gzip"
    assert detect_codec("app.lz4.inprogress", b"LZ4Bl") == "lz4"  # cut inside its magic: still lz4
    assert detect_codec("app.inprogress", b"LZ4Bl") == "plain"  # no extension to say so
    assert sniff_codec(b"LZ4Bl") is None
    assert sniff_codec(b'{"Event"') is None
    assert detect_codec("app.zstd", b'{"Event":"x"}') == "plain"  # decompressed but not renamed
    with pytest.raises(UnsupportedCodec):
        detect_codec("app.zstd", b"not zstd")
    assert detect_codec("app", b'{"Event"') == "plain"
    assert detect_codec("app", b"") == "plain"


def test_empty_files_are_empty_logs(tmp_path: Path) -> None:
    # Spark creates the file before the codec writes its first block: nothing to decode yet.
    for name in ("app.inprogress", "app.lz4.inprogress", "app.zstd"):
        path = tmp_path / name
        path.write_bytes(b"")
        assert read_all(path) == (b"", ("plain", 0, 0, False))


# --- Spark's own codecs, through the JVM --------------------------------------------------------


@pytest.fixture(scope="module")
def spark_jvm() -> Iterator[Any]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no JVM")
    pytest.importorskip("pyspark")
    from pyspark.java_gateway import launch_gateway

    gateway = launch_gateway()  # type: ignore[no-untyped-call]
    try:
        yield gateway.jvm
    finally:
        gateway.shutdown()
        gateway.proc.stdin.close()  # the JVM exits when its stdin closes (what SparkContext.stop does)
        gateway.proc.wait(timeout=60)


@pytest.mark.spark
@pytest.mark.parametrize("codec", ["lz4", "lzf", "snappy", "zstd"])
def test_streams_written_by_sparks_own_codecs(codec: str, spark_jvm: Any, plain: bytes, tmp_path: Path) -> None:
    path = tmp_path / f"app-1.{codec}"
    conf = spark_jvm.org.apache.spark.SparkConf()
    out = spark_jvm.org.apache.spark.io.CompressionCodec.createCodec(conf, codec).compressedOutputStream(
        spark_jvm.java.io.FileOutputStream(str(path))
    )
    # Write line by line with a flush now and then, like Spark's event logger.
    for i, line in enumerate(plain.splitlines(keepends=True)):
        out.write(line)
        if i % 40 == 0:
            out.flush()
    out.close()
    data, (got, _c, decompressed, truncated) = read_all(path)
    assert (got, data == plain, decompressed, truncated) == (codec, True, len(plain), False)


@pytest.mark.spark
@pytest.mark.parametrize(
    "log",
    [
        "recorded/spark-3.5.9-lz4/app-20261124025953-0000.lz4",
        "recorded/spark-3.5.9-snappy/app-20261124030034-0000.snappy",
    ],
)
def test_real_logs_decode_like_sparks_own_reader(log: str, spark_jvm: Any) -> None:
    path = EVENTLOGS / log
    codec = path.suffix[1:]
    conf = spark_jvm.org.apache.spark.SparkConf()
    stream = spark_jvm.org.apache.spark.io.CompressionCodec.createCodec(conf, codec).compressedInputStream(
        spark_jvm.java.io.FileInputStream(str(path))
    )
    expected = bytes(spark_jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    stream.close()
    assert read_all(path)[0] == expected


# --- the zstd frame walker that detects cut streams -------------------------------------------

_segment = st.one_of(
    st.tuples(
        st.just("zstd"),
        st.sampled_from([b"", b"x", b"\x00" * 300_000, b"spark event log line\n" * 5000]),
        st.binary(max_size=3000),
        st.booleans(),
        st.booleans(),
    ),
    st.tuples(st.just("skippable"), st.just(b""), st.binary(max_size=40), st.just(False), st.just(False)),
)


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(_segment, min_size=1, max_size=4),
    cuts=st.lists(st.floats(0, 1), min_size=1, max_size=12),
    chunk=st.integers(1, 5000),
)
def test_zstd_frame_walker_finds_frame_boundaries(
    segments: list[tuple[str, bytes, bytes, bool, bool]], cuts: list[float], chunk: int
) -> None:
    import zstandard

    from sparkprobe.sources.codecs import _ZstdFrameWalker

    data = b""
    boundaries = {0}
    for kind, base, noise, checksum, content_size in segments:
        if kind == "skippable":
            data += struct.pack("<II", 0x184D2A5E, len(noise)) + noise
        else:  # repetitive, random and RLE-friendly data give raw, RLE and compressed blocks
            cctx = zstandard.ZstdCompressor(write_checksum=checksum, write_content_size=content_size)
            data += cctx.compress(base + noise + base)
        boundaries.add(len(data))
    positions = {int(f * len(data)) for f in cuts} | boundaries
    for cut in sorted(positions):
        walker = _ZstdFrameWalker()
        for piece in chunks(data[:cut], chunk):
            walker.feed(piece)
        assert walker.at_boundary == (cut in boundaries), (cut, sorted(boundaries))
