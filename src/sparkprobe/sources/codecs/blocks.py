"""The block formats of Spark's JVM codecs: lz4-java, snappy-java and ning compress-lzf streams.

Each is a sequence of length-prefixed blocks; a block may declare at most
:data:`~sparkprobe.sources.codecs.base.MAX_BLOCK` bytes, so a garbled header never allocates more.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import IO, Any

from sparkprobe.sources.codecs.base import DEFAULT_LIMITS, MAX_BLOCK, DecodeLimits, Decoder, read_exact
from sparkprobe.sources.codecs.detect import LZ4_MAGIC, SNAPPY_MAGIC
from sparkprobe.sources.codecs.errors import CorruptStream, UnsupportedCodec

__all__ = ["Lz4BlockDecoder", "LzfDecoder", "SnappyStreamDecoder", "lzf_decompress"]


class Lz4BlockDecoder(Decoder):
    """lz4-java's ``LZ4BlockOutputStream``: blocks of ``"LZ4Block"`` + 13-byte header + payload.

    Header after the magic: token (high nibble: 0x10 raw, 0x20 lz4; low nibble: block size
    exponent), compressed length, decompressed length and an xxhash32 checksum, all little-endian
    int32. A block with decompressed length 0 ends a stream; Spark reads on past it (concatenated
    streams), and so does this. The checksum is not verified (no xxhash in the allowed
    dependencies); lz4's own bounds checks and the declared length still catch garbled blocks.
    """

    codec = "lz4"
    _HEADER = struct.Struct("<8sBiii")

    def __init__(self, src: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__(src, limits)
        try:
            import lz4.block
        except ImportError as exc:
            raise UnsupportedCodec("lz4", "needs the 'lz4' Python package") from exc
        self._decompress: Callable[..., bytes] = lz4.block.decompress
        self._lz4_error: type[Exception] = lz4.block.LZ4BlockError
        self._offset = 0

    def _next_chunk(self) -> bytes | None:
        header = read_exact(self._src, self._HEADER.size)
        if not header:
            return None  # end of input on a block boundary: nothing lost
        if len(header) < self._HEADER.size:
            self.truncated = True
            return None
        magic, token, clen, dlen, _checksum = self._HEADER.unpack(header)
        where = f"block at offset {self._offset}"
        if magic != LZ4_MAGIC:
            raise CorruptStream("lz4", f"{where}: bad magic {magic!r}")
        method = token & 0xF0
        if method not in (0x10, 0x20) or not 0 <= clen <= MAX_BLOCK or not 0 <= dlen <= MAX_BLOCK:
            raise CorruptStream("lz4", f"{where}: bad header (token {token:#x}, {clen}/{dlen})")
        self._offset += self._HEADER.size + clen
        if dlen == 0:
            return b""  # end-of-stream marker; another stream may follow
        payload = read_exact(self._src, clen)
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


class SnappyStreamDecoder(Decoder):
    """snappy-java's ``SnappyOutputStream``: a 16-byte header then ``[int32 BE length][raw block]``.

    The header (magic, version, compatible version) may repeat where two streams were concatenated;
    a length can never look like it because its first byte would make it negative.
    """

    codec = "snappy"

    def __init__(self, src: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__(src, limits)
        try:
            import cramjam
        except ImportError as exc:
            raise UnsupportedCodec("snappy", "needs the 'cramjam' Python package") from exc
        self._decompress_raw: Callable[[bytes], Any] = cramjam.snappy.decompress_raw
        self._raw_len: Callable[[bytes], int] = cramjam.snappy.decompress_raw_len
        self._decompress_error: type[Exception] = cramjam.DecompressionError

    def _next_chunk(self) -> memoryview | bytes | None:
        head = read_exact(self._src, 4)
        if not head:
            return None
        if len(head) < 4:
            self.truncated = True
            return None
        if head == SNAPPY_MAGIC[:4]:
            rest = read_exact(self._src, 12)
            if len(rest) < 12:
                self.truncated = True
                return None
            if head + rest[:4] != SNAPPY_MAGIC:
                raise CorruptStream("snappy", f"bad stream header {head + rest[:4]!r}")
            return b""
        (length,) = struct.unpack(">i", head)
        if not 0 <= length <= MAX_BLOCK:
            raise CorruptStream("snappy", f"bad chunk length {length}")
        block = read_exact(self._src, length)
        if len(block) < length:
            self.truncated = True
            return None
        try:
            # A raw block declares its size up front: check it before letting it allocate.
            size = self._raw_len(block)
            if size > MAX_BLOCK:
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


class LzfDecoder(Decoder):
    """ning compress-lzf chunks, as Spark's ``LZFCompressionCodec`` writes them.

    Each chunk is ``"ZV"``, then type 0 (stored; u16 length) or 1 (LZF; u16 compressed length, u16
    original length), big-endian. Pure Python: correct but slow (Spark rarely uses lzf).
    """

    codec = "lzf"

    def _next_chunk(self) -> bytes | None:
        head = read_exact(self._src, 5)
        if not head:
            return None
        if len(head) < 5:
            self.truncated = True
            return None
        if head[:2] != b"ZV" or head[2] not in (0, 1):
            raise CorruptStream("lzf", f"bad chunk header {head[:3]!r}")
        (length,) = struct.unpack_from(">H", head, 3)
        if head[2] == 0:
            data = read_exact(self._src, length)
            if len(data) < length:
                self.truncated = True
                return None
            return data
        more = read_exact(self._src, 2)
        if len(more) < 2:
            self.truncated = True
            return None
        (size,) = struct.unpack(">H", more)
        data = read_exact(self._src, length)
        if len(data) < length:
            self.truncated = True
            return None
        return lzf_decompress(data, size)
