"""Open Spark event-log files as streams of decompressed bytes.

Spark compresses event logs with ``spark.eventLog.compression.codec``, and the formats are Spark's
own, not the command-line tools': ``.lz4`` is lz4-java's ``LZ4BlockOutputStream`` block stream,
``.snappy`` is snappy-java's ``SnappyOutputStream`` stream, ``.lzf`` is ning compress-lzf chunks and
``.zstd`` is standard zstd frames. Logs also travel as ``.gz`` (Databricks rolled parts) and ``.zip``
(the History Server's ``/logs`` download); ``.bz2`` and ``.xz`` are accepted for hand-archived logs.

The codec is decided by the file's magic bytes, falling back to its extension: a file whose
extension names a codec but whose content is neither a known magic nor JSON is an
:class:`UnsupportedCodec` error naming that codec, never silently read as text. Everything
decompresses incrementally, so a multi-gigabyte log costs a few hundred kilobytes of buffers (plus,
for zstd, the window the file declares: 8 MiB at most for what Spark writes).

A compressed stream that stops inside a block or frame (an ``.inprogress`` log being written, or a
copy cut short) is not an error: everything complete is returned and :attr:`DecodedStream.truncated`
is set. Bytes that cannot be decoded raise :class:`CorruptStream`.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, cast

__all__ = [
    "CODECS",
    "CorruptStream",
    "DecodedStream",
    "EventLogError",
    "UnsupportedCodec",
    "codec_from_name",
    "detect_codec",
    "lzf_decompress",
    "open_stream",
    "sniff_codec",
    "zip_members",
]

#: Codec names this module can read (``plain`` is no compression).
CODECS: Final[tuple[str, ...]] = (
    "plain",
    "zstd",
    "lz4",
    "snappy",
    "lzf",
    "gzip",
    "bz2",
    "xz",
    "zip",
)

# File-name extension → codec. Spark names files ``<app>.<codec short name>[.inprogress]``.
_EXTENSIONS: Final[dict[str, str]] = {
    "zstd": "zstd",
    "zst": "zstd",
    "lz4": "lz4",
    "snappy": "snappy",
    "lzf": "lzf",
    "gz": "gzip",
    "gzip": "gzip",
    "bz2": "bz2",
    "xz": "xz",
    "zip": "zip",
}

# Extensions that say "compressed" in a format we do not read: refuse them by name rather than
# parse compressed bytes as JSON lines.
_FOREIGN_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {"lzo", "br", "brotli", "lzma", "lz", "7z", "z", "zlib", "sz", "tar", "tgz", "rar", "deflate"}
)

_LZ4_MAGIC: Final = b"LZ4Block"
_SNAPPY_MAGIC: Final = b"\x82SNAPPY\x00"
_MAGICS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (_LZ4_MAGIC, "lz4"),
    (_SNAPPY_MAGIC, "snappy"),
    (b"ZV\x00", "lzf"),
    (b"ZV\x01", "lzf"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip
)
_HEAD: Final = 16

# Input is read in chunks this big; output buffers are the same order of size, so memory stays flat.
_CHUNK: Final = 1 << 16
# Largest block any of the block formats may declare (lz4-java's maximum is 32 MiB); a bigger
# length is corruption, and refusing it keeps a garbled header from allocating gigabytes.
_MAX_BLOCK: Final = 1 << 25


class EventLogError(Exception):
    """Base class of the errors raised while opening or reading an event log."""


class UnsupportedCodec(EventLogError):
    """The log is compressed in a way this reader cannot decode; ``codec`` names it."""

    def __init__(self, codec: str, detail: str) -> None:
        super().__init__(f"unsupported codec {codec!r}: {detail}")
        self.codec = codec


class CorruptStream(EventLogError):
    """The compressed bytes of a log cannot be decoded; ``codec`` names the codec."""

    def __init__(self, codec: str, detail: str) -> None:
        super().__init__(f"corrupt {codec} stream: {detail}")
        self.codec = codec


def _strip_inprogress(name: str) -> str:
    return name[: -len(".inprogress")] if name.endswith(".inprogress") else name


def _extension(name: str) -> str:
    base = _strip_inprogress(os.path.basename(name))
    _, dot, ext = base.rpartition(".")
    return ext.lower() if dot else ""


def codec_from_name(name: str) -> str | None:
    """Return the codec a file name announces (``app-1.zstd.inprogress`` → ``zstd``), or None."""
    return _EXTENSIONS.get(_extension(name))


def sniff_codec(head: bytes) -> str | None:
    """Return the codec whose magic bytes start ``head``, or None when none matches."""
    for magic, codec in _MAGICS:
        if head.startswith(magic):
            return codec
    return None


def detect_codec(name: str, head: bytes) -> str:
    """Decide how to decode a file from its name and its first bytes.

    Magic bytes win over the extension (a renamed file still reads); an empty file or one starting
    with ``{`` is plain. A file shorter than its codec's magic that begins it (an in-progress log
    cut right after it was created) is that codec, so the decoder reports it as truncated.
    Otherwise a codec extension means the data is damaged or foreign: :class:`UnsupportedCodec`
    names the codec. Anything else is read as plain JSON lines, so a plain log whose first line is
    garbage still reads (that line is counted bad, like any other).
    """
    magic = sniff_codec(head)
    if magic is not None:
        return magic
    ext = _extension(name)
    named = _EXTENSIONS.get(ext)
    if named is not None and head and any(c == named and m.startswith(head) for m, c in _MAGICS):
        return named
    if not head or head.lstrip(b" \t\r\n").startswith(b"{"):
        return "plain"  # empty (a log just created), or JSON lines whatever the name says
    shown = head[:8]
    if named is not None:
        raise UnsupportedCodec(named, f"{name}: expected {named} data but it starts with {shown!r}")
    if ext in _FOREIGN_EXTENSIONS:
        raise UnsupportedCodec(ext, f"{name}: .{ext} files are not a Spark event-log format")
    return "plain"


def _read_exact(src: IO[bytes], n: int) -> bytes:
    """Read ``n`` bytes, fewer only at end of input."""
    data = src.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _Counter(io.RawIOBase):
    """Counts the bytes read from the file, i.e. the compressed size consumed so far."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.count += n
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Decoder(io.RawIOBase):
    """A readable raw stream over decoded chunks; subclasses implement :meth:`_next_chunk`."""

    codec = "?"

    def __init__(self, src: IO[bytes]) -> None:
        super().__init__()
        self._src = src
        self._pending = memoryview(b"")
        self._pos = 0
        self._done = False
        self.truncated = False
        self.produced = 0

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes | memoryview | None:
        """Return the next piece of decoded output (may be empty), or None at the end of the data."""
        raise NotImplementedError

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._pending):
            if self._done:
                return 0
            chunk = self._next_chunk()
            if chunk is None:
                self._done = True
                return 0
            self._pending = memoryview(chunk)
            self._pos = 0
        n = min(len(buffer), len(self._pending) - self._pos)
        buffer[:n] = self._pending[self._pos : self._pos + n]
        self._pos += n
        self.produced += n
        return n


class _ZstdFrameWalker:
    """Follows the zstd frame layout of the bytes read (headers only, payloads skipped).

    zstandard's ``stream_reader`` bounds its output but says nothing when the input stops inside a
    frame, and ``decompressobj`` says so but may return a whole run of megabytes for a few input
    bytes (a highly repetitive log, an RLE block). So the reader decompresses, and this walker,
    fed the same bytes, tells at the end whether they stopped on a frame boundary.
    """

    _ZSTD_MAGIC = 0xFD2FB528

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4
        self._header = bytearray()
        self._skip = 0
        self._checksum = False

    @property
    def at_boundary(self) -> bool:
        """True when the bytes so far end exactly between frames (or nothing was read)."""
        # "invalid" is not a cut: the decompressor raises on such bytes itself.
        return self._state == "invalid" or (self._state == "magic" and not self._header and not self._skip)

    def feed(self, data: bytes | memoryview) -> None:
        """Advance over ``data``."""
        pos, n = 0, len(data)
        while pos < n and self._state != "invalid":
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._header), n - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) == self._need:
                header = bytes(self._header)
                self._header.clear()
                self._advance(header)

    def _advance(self, h: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(h, "little")
            if magic == self._ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame: 4-byte size, then data
                self._state, self._need = "skippable", 4
            else:  # not zstd: the decompressor reports it
                self._state = "invalid"
        elif state == "skippable":
            self._skip = int.from_bytes(h, "little")
            self._state, self._need = "magic", 4
        elif state == "descriptor":
            fhd = h[0]
            single_segment = (fhd >> 5) & 1
            self._checksum = bool((fhd >> 2) & 1)
            size = (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3]
            size += (single_segment, 2, 4, 8)[fhd >> 6]
            self._state, self._need = "block", 3
            self._skip = size  # window descriptor, dictionary id, content size
        elif state == "block":
            value = int.from_bytes(h, "little")
            kind = (value >> 1) & 3
            if kind == 3:
                self._state = "invalid"
                return
            self._skip = 1 if kind == 1 else value >> 3  # an RLE block stores one byte
            if not value & 1:
                self._state, self._need = "block", 3
            elif self._checksum:
                self._state, self._need = "checksum", 4
            else:
                self._state, self._need = "magic", 4
        else:  # checksum read
            self._state, self._need = "magic", 4


class _Walked(io.RawIOBase):
    """Reads ``src`` and shows every byte read to a frame walker."""

    def __init__(self, src: IO[bytes], walker: _ZstdFrameWalker) -> None:
        super().__init__()
        self._src = src
        self._walker = walker

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._src.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._walker.feed(data)
        return n


class _ZstdDecoder(_Decoder):
    """Standard zstd frames, possibly several back to back (zstd-jni flushes, rolled parts)."""

    codec = "zstd"

    def __init__(self, src: IO[bytes]) -> None:
        super().__init__(src)
        try:
            import zstandard
        except ImportError as exc:
            raise UnsupportedCodec("zstd", "needs the 'zstandard' Python package") from exc
        self._zstd_error: type[Exception] = zstandard.ZstdError
        self._walker = _ZstdFrameWalker()
        walked = cast(IO[bytes], _Walked(src, self._walker))
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            walked, read_size=_CHUNK, read_across_frames=True, closefd=False
        )

    def _next_chunk(self) -> bytes | None:
        try:
            data: bytes = self._reader.read(_CHUNK)
        except self._zstd_error as exc:
            raise CorruptStream("zstd", str(exc)) from exc
        if data:
            return data
        self.truncated = not self._walker.at_boundary
        return None


class _Lz4BlockDecoder(_Decoder):
    """lz4-java's ``LZ4BlockOutputStream``: blocks of ``"LZ4Block"`` + 13-byte header + payload.

    Header after the magic: token (high nibble: 0x10 raw, 0x20 lz4; low nibble: block size
    exponent), compressed length, decompressed length and an xxhash32 checksum, all little-endian
    int32. A block with decompressed length 0 ends a stream; Spark reads on past it (concatenated
    streams), and so does this. The checksum is not verified (no xxhash in the allowed
    dependencies); lz4's own bounds checks and the declared length still catch garbled blocks.
    """

    codec = "lz4"
    _HEADER = struct.Struct("<8sBiii")

    def __init__(self, src: IO[bytes]) -> None:
        super().__init__(src)
        try:
            import lz4.block
        except ImportError as exc:
            raise UnsupportedCodec("lz4", "needs the 'lz4' Python package") from exc
        self._decompress: Callable[..., bytes] = lz4.block.decompress
        self._lz4_error: type[Exception] = lz4.block.LZ4BlockError
        self._offset = 0

    def _next_chunk(self) -> bytes | None:
        header = _read_exact(self._src, self._HEADER.size)
        if not header:
            return None  # end of input on a block boundary: nothing lost
        if len(header) < self._HEADER.size:
            self.truncated = True
            return None
        magic, token, clen, dlen, _checksum = self._HEADER.unpack(header)
        where = f"block at offset {self._offset}"
        if magic != _LZ4_MAGIC:
            raise CorruptStream("lz4", f"{where}: bad magic {magic!r}")
        method = token & 0xF0
        if method not in (0x10, 0x20) or not 0 <= clen <= _MAX_BLOCK or not 0 <= dlen <= _MAX_BLOCK:
            raise CorruptStream("lz4", f"{where}: bad header (token {token:#x}, {clen}/{dlen})")
        self._offset += self._HEADER.size + clen
        if dlen == 0:
            return b""  # end-of-stream marker; another stream may follow
        payload = _read_exact(self._src, clen)
        if len(payload) < clen:
            self.truncated = True
            return None
        if method == 0x10:
            if clen != dlen:
                raise CorruptStream("lz4", f"{where}: raw block {clen} != {dlen} bytes")
            return payload
        try:
            out = self._decompress(payload, uncompressed_size=dlen)
        except self._lz4_error as exc:
            raise CorruptStream("lz4", f"{where}: {exc}") from exc
        if len(out) != dlen:
            raise CorruptStream("lz4", f"{where}: {len(out)} bytes decoded, header says {dlen}")
        return out


class _SnappyStreamDecoder(_Decoder):
    """snappy-java's ``SnappyOutputStream``: a 16-byte header then ``[int32 BE length][raw block]``.

    The header (magic, version, compatible version) may repeat where two streams were concatenated;
    a length can never look like it because its first byte would make it negative.
    """

    codec = "snappy"

    def __init__(self, src: IO[bytes]) -> None:
        super().__init__(src)
        try:
            import cramjam
        except ImportError as exc:
            raise UnsupportedCodec("snappy", "needs the 'cramjam' Python package") from exc
        self._decompress_raw: Callable[[bytes], Any] = cramjam.snappy.decompress_raw
        self._raw_len: Callable[[bytes], int] = cramjam.snappy.decompress_raw_len
        self._decompress_error: type[Exception] = cramjam.DecompressionError

    def _next_chunk(self) -> memoryview | bytes | None:
        head = _read_exact(self._src, 4)
        if not head:
            return None
        if len(head) < 4:
            self.truncated = True
            return None
        if head == _SNAPPY_MAGIC[:4]:
            rest = _read_exact(self._src, 12)
            if len(rest) < 12:
                self.truncated = True
                return None
            if head + rest[:4] != _SNAPPY_MAGIC:
                raise CorruptStream("snappy", f"bad stream header {head + rest[:4]!r}")
            return b""
        (length,) = struct.unpack(">i", head)
        if not 0 <= length <= _MAX_BLOCK:
            raise CorruptStream("snappy", f"bad chunk length {length}")
        block = _read_exact(self._src, length)
        if len(block) < length:
            self.truncated = True
            return None
        try:
            # A raw block declares its size up front: check it before letting it allocate.
            size = self._raw_len(block)
            if size > _MAX_BLOCK:
                raise CorruptStream("snappy", f"chunk declares {size} bytes")
            return memoryview(self._decompress_raw(block))
        except self._decompress_error as exc:
            raise CorruptStream("snappy", str(exc)) from exc


def lzf_decompress(data: bytes, size: int) -> bytes:
    """Decode one LZF block (liblzf format) that must expand to exactly ``size`` bytes."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            end = i + ctrl + 1
            if end > n:
                raise CorruptStream("lzf", "literal run past the end of the block")
            out += data[i:end]
            i = end
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise CorruptStream("lzf", "block ends inside a back-reference")
            length += data[i]
            i += 1
        if i >= n:
            raise CorruptStream("lzf", "block ends inside a back-reference")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        length += 2
        if ref < 0:
            raise CorruptStream("lzf", "back-reference before the start of the block")
        dist = len(out) - ref
        if length <= dist:
            out += out[ref : ref + length]
        else:  # overlapping copy repeats the last `dist` bytes
            pattern = bytes(out[ref:])
            out += (pattern * (length // dist + 1))[:length]
        if len(out) > size:  # stop a garbled block early instead of letting it grow
            break
    if len(out) != size:
        raise CorruptStream("lzf", f"block decoded to {len(out)} bytes, header says {size}")
    return bytes(out)


class _LzfDecoder(_Decoder):
    """ning compress-lzf chunks, as Spark's ``LZFCompressionCodec`` writes them.

    Each chunk is ``"ZV"``, then type 0 (stored; u16 length) or 1 (LZF; u16 compressed length, u16
    original length), big-endian. Pure Python: correct but slow (Spark rarely uses lzf).
    """

    codec = "lzf"

    def _next_chunk(self) -> bytes | None:
        head = _read_exact(self._src, 5)
        if not head:
            return None
        if len(head) < 5:
            self.truncated = True
            return None
        if head[:2] != b"ZV" or head[2] not in (0, 1):
            raise CorruptStream("lzf", f"bad chunk header {head[:3]!r}")
        (length,) = struct.unpack_from(">H", head, 3)
        if head[2] == 0:
            data = _read_exact(self._src, length)
            if len(data) < length:
                self.truncated = True
                return None
            return data
        more = _read_exact(self._src, 2)
        if len(more) < 2:
            self.truncated = True
            return None
        (size,) = struct.unpack(">H", more)
        data = _read_exact(self._src, length)
        if len(data) < length:
            self.truncated = True
            return None
        return lzf_decompress(data, size)


class _FileDecoder(_Decoder):
    """Adapts the standard library's gzip / bz2 / lzma file objects (multi-member aware)."""

    def __init__(self, src: IO[bytes], codec: str) -> None:
        super().__init__(src)
        self.codec = codec
        inner: io.BufferedIOBase
        # Corruption surfaces as OSError (BadGzipFile, bz2), zlib.error or LZMAError.
        errors: tuple[type[Exception], ...] = (OSError, ValueError)
        if codec == "gzip":
            import gzip
            import zlib

            inner = gzip.GzipFile(fileobj=src, mode="rb")
            errors += (zlib.error,)
        elif codec == "bz2":
            import bz2

            inner = bz2.BZ2File(src, mode="rb")
        else:
            try:
                import lzma
            except ImportError as exc:  # Python built without liblzma
                raise UnsupportedCodec("xz", "this Python has no lzma module") from exc
            inner = lzma.LZMAFile(src, mode="rb")
            errors += (lzma.LZMAError,)
        self._inner = inner
        self._errors = errors

    def _next_chunk(self) -> bytes | None:
        try:
            data = self._inner.read(_CHUNK)
        except EOFError:  # the compressed stream ends mid-member
            self.truncated = True
            return None
        except self._errors as exc:
            raise CorruptStream(self.codec, str(exc)) from exc
        return data if data else None

    def close(self) -> None:
        self._inner.close()
        super().close()


def _make_decoder(codec: str, src: IO[bytes]) -> _Decoder:
    if codec == "zstd":
        return _ZstdDecoder(src)
    if codec == "lz4":
        return _Lz4BlockDecoder(src)
    if codec == "snappy":
        return _SnappyStreamDecoder(src)
    if codec == "lzf":
        return _LzfDecoder(src)
    if codec in ("gzip", "bz2", "xz"):
        return _FileDecoder(src, codec)
    raise UnsupportedCodec(codec, "no decoder")


def _peek(src: Any, n: int) -> bytes:
    """Return the first ``n`` bytes of a buffered stream, without consuming them."""
    return bytes(src.peek(n)[:n])


class DecodedStream:
    """A log file's decompressed bytes, read line by line (``for line in stream``) or in blocks.

    ``codec`` is what was detected; ``compressed_bytes`` counts bytes read from disk so far (for a
    zip member: from the whole zip file), ``decompressed_bytes`` the bytes handed out by the
    decoder, and ``truncated`` says the compressed stream ended inside a block or frame.
    """

    def __init__(
        self,
        reader: io.BufferedReader,
        codec: str,
        counter: _Counter,
        decoder: _Decoder | None,
        closers: list[Callable[[], None]],
    ) -> None:
        self._reader = reader
        self.codec = codec
        self._counter = counter
        self._decoder = decoder
        self._closers = closers

    @property
    def compressed_bytes(self) -> int:
        """Bytes read from the file so far."""
        return self._counter.count

    @property
    def decompressed_bytes(self) -> int:
        """Decompressed bytes produced so far (equal to ``compressed_bytes`` for plain files)."""
        return self._decoder.produced if self._decoder is not None else self._counter.count

    @property
    def truncated(self) -> bool:
        """True once the decoder met the end of input inside a compressed block or frame."""
        return self._decoder.truncated if self._decoder is not None else False

    def readline(self, size: int = -1) -> bytes:
        """Read one line, newline included (none on a last unterminated line); ``b""`` at the end."""
        return self._reader.readline(size)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes (all remaining ones when negative)."""
        return self._reader.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._reader)

    def close(self) -> None:
        """Close the decoder and the file."""
        self._reader.close()
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> DecodedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _PassThrough(_Decoder):
    """An uncompressed zip member: counted like a decoder's output."""

    codec = "plain"

    def _next_chunk(self) -> bytes | None:
        data = self._src.read(_CHUNK)
        return data if data else None


def _decode(src: IO[bytes], name: str, counter: _Counter, closers: list[Callable[[], None]]) -> DecodedStream:
    """Wrap ``src`` (buffered, positioned at its start) in the decoder its magic/name calls for."""
    codec = detect_codec(name, _peek(src, _HEAD))
    if codec == "zip":
        raise UnsupportedCodec("zip", f"{name}: a zip inside a zip is not read")
    if codec == "plain" and isinstance(src, io.BufferedReader):
        return DecodedStream(src, codec, counter, None, closers)
    decoder = _PassThrough(src) if codec == "plain" else _make_decoder(codec, src)
    return DecodedStream(io.BufferedReader(decoder, _CHUNK), codec, counter, decoder, closers)


def zip_members(path: str | os.PathLike[str]) -> list[str]:
    """List the names of the regular files in a zip, in archive order."""
    with zipfile.ZipFile(path) as zf:
        return [info.filename for info in zf.infolist() if not info.is_dir()]


def open_stream(path: str | os.PathLike[str], member: str | None = None) -> DecodedStream:
    """Open a log file, or the member ``member`` of a zip, as a stream of decompressed bytes.

    Opening a zip without ``member`` opens its only file; a zip holding several must be opened
    member by member (:func:`sparkprobe.sources.eventlog.discover` does that).

    Raises :class:`UnsupportedCodec` when the codec is unknown or its module is missing, and
    :class:`CorruptStream` (while reading) on undecodable data.
    """
    raw = open(path, "rb", buffering=0)  # closed by DecodedStream.close
    counter = _Counter(raw)
    closers: list[Callable[[], None]] = [counter.close]
    try:
        name = Path(path).name
        src = io.BufferedReader(counter, _CHUNK)
        if sniff_codec(_peek(src, _HEAD)) != "zip":
            if member is not None:
                raise UnsupportedCodec("zip", f"{name} is not a zip; cannot open member {member!r}")
            return _decode(src, name, counter, closers)
        # ZipFile seeks around the file, so it reads through the counter, not the buffer; detach
        # the buffer so that collecting it does not close the file.
        src.detach()
        counter.seek(0)
        counter.count = 0
        try:
            zf = zipfile.ZipFile(counter)
        except zipfile.BadZipFile as exc:
            raise CorruptStream("zip", f"{name}: {exc}") from exc
        closers.append(zf.close)
        if member is None:
            files = [i.filename for i in zf.infolist() if not i.is_dir()]
            if len(files) != 1:
                raise UnsupportedCodec("zip", f"{name} holds {len(files)} files: open them one by one (discover())")
            member = files[0]
        try:
            inner = zf.open(member)
        except (KeyError, zipfile.BadZipFile, NotImplementedError) as exc:
            raise UnsupportedCodec("zip", f"{name}: cannot open member {member!r}: {exc}") from exc
        closers.append(inner.close)
        return _decode(inner, member, counter, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
