"""Standard zstd frames (Spark's ``ZStdCompressionCodec``, and the rolled parts of Spark 4's logs)."""

from __future__ import annotations

import io
from typing import IO, Any, cast

from sparkprobe.sources.codecs.base import CHUNK, DEFAULT_LIMITS, DecodeLimits, Decoder
from sparkprobe.sources.codecs.errors import CorruptStream, LimitExceeded, UnsupportedCodec

__all__ = ["ZstdDecoder", "ZstdFrameWalker"]


class ZstdFrameWalker:
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

    def __init__(self, src: IO[bytes], walker: ZstdFrameWalker) -> None:
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


class ZstdDecoder(Decoder):
    """Standard zstd frames, possibly several back to back (zstd-jni flushes, rolled parts)."""

    codec = "zstd"

    def __init__(self, src: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__(src, limits)
        try:
            import zstandard
        except ImportError as exc:
            raise UnsupportedCodec("zstd", "needs the 'zstandard' Python package") from exc
        self._zstd_error: type[Exception] = zstandard.ZstdError
        self._walker = ZstdFrameWalker()
        walked = cast(IO[bytes], _Walked(src, self._walker))
        # A frame asking for a larger window than the limit is refused before anything is allocated.
        decompressor = zstandard.ZstdDecompressor(max_window_size=limits.max_window_bytes)
        self._reader = decompressor.stream_reader(
            walked, read_size=CHUNK, read_across_frames=True, closefd=False
        )

    def _next_chunk(self) -> bytes | None:
        try:
            data: bytes = self._reader.read(CHUNK)
        except self._zstd_error as exc:
            if "too much memory" in str(exc):  # libzstd's words for a window above max_window_size
                raise LimitExceeded(
                    "zstd", f"max_window_bytes {self.limits.max_window_bytes:,}", str(exc)
                ) from exc
            raise CorruptStream("zstd", str(exc)) from exc
        if data:
            return data
        self.truncated = not self._walker.at_boundary
        return None
