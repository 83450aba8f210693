"""Codecs of the standard library: gzip (Databricks' rolled parts), bz2 and xz (hand-archived logs)."""

from __future__ import annotations

import io
from typing import IO, Any

from sparkprobe.sources.codecs.base import CHUNK, DEFAULT_LIMITS, DecodeLimits, Decoder
from sparkprobe.sources.codecs.errors import CorruptStream, LimitExceeded, UnsupportedCodec

__all__ = ["FileDecoder", "XzDecoder"]


class FileDecoder(Decoder):
    """Adapts the standard library's gzip and bz2 file objects (multi-member aware).

    Both keep bounded history (gzip a 32 KiB window, bz2 900 kB blocks), so no limit but the
    expansion ratio applies.
    """

    def __init__(self, src: IO[bytes], codec: str, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__(src, limits)
        self.codec = codec
        inner: io.BufferedIOBase
        # Corruption surfaces as OSError (BadGzipFile, bz2), zlib.error.
        errors: tuple[type[Exception], ...] = (OSError, ValueError)
        if codec == "gzip":
            import gzip
            import zlib

            inner = gzip.GzipFile(fileobj=src, mode="rb")
            errors += (zlib.error,)
        else:
            import bz2

            inner = bz2.BZ2File(src, mode="rb")
        self._inner = inner
        self._errors = errors

    def _next_chunk(self) -> bytes | None:
        try:
            data = self._inner.read(CHUNK)
        except EOFError:  # the compressed stream ends mid-member
            self.truncated = True
            return None
        except self._errors as exc:
            raise CorruptStream(self.codec, str(exc)) from exc
        return data if data else None

    def close(self) -> None:
        """Close the decompressor and the file."""
        self._inner.close()
        super().close()


class XzDecoder(Decoder):
    """xz streams, back to back, with the decoder's memory capped.

    An xz header may ask for a dictionary of up to 4 GiB; ``lzma.LZMAFile`` takes no memory limit,
    so this drives ``LZMADecompressor(memlimit=...)`` itself. Null padding between streams is
    skipped and bytes after the last complete stream that are not xz are ignored, as ``LZMAFile``
    does.
    """

    codec = "xz"

    def __init__(self, src: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__(src, limits)
        try:
            import lzma
        except ImportError as exc:  # Python built without liblzma
            raise UnsupportedCodec("xz", "this Python has no lzma module") from exc
        self._lzma: Any = lzma
        # The dictionary plus the decoder's own state (a few MiB).
        self._memlimit = limits.max_window_bytes + (limits.max_window_bytes >> 2)
        self._dec = self._new()
        self._after_stream = False  # the current decompressor started after a complete stream

    def _new(self) -> Any:
        return self._lzma.LZMADecompressor(format=self._lzma.FORMAT_XZ, memlimit=self._memlimit)

    def _next_input(self) -> bytes | None:
        """The bytes to feed next, or None when the input is over (``truncated`` set if mid-stream)."""
        dec = self._dec
        if dec.eof:
            rest: bytes = dec.unused_data.lstrip(b"\x00")  # stream padding
            while not rest:
                more = self._src.read(CHUNK)
                if not more:
                    return None  # ended right after a complete stream: nothing lost
                rest = more.lstrip(b"\x00")
            self._dec = self._new()
            self._after_stream = True
            return rest
        if not dec.needs_input:
            return b""
        data = self._src.read(CHUNK)
        if not data:
            self.truncated = True
            return None
        return data

    def _next_chunk(self) -> bytes | None:
        while True:
            data = self._next_input()
            if data is None:
                return None
            try:
                out: bytes = self._dec.decompress(data, max_length=CHUNK)
            except self._lzma.LZMAError as exc:
                if "memory" in str(exc).lower():
                    raise LimitExceeded(
                        "xz", f"max_window_bytes {self.limits.max_window_bytes:,}", str(exc)
                    ) from exc
                if self._after_stream:
                    return None  # trailing bytes after the last stream, ignored as LZMAFile does
                raise CorruptStream("xz", str(exc)) from exc
            if out:
                self._after_stream = False
                return out
