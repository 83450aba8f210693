"""What every decoder shares: chunked reading, the byte counter, the limits that bound decoding."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any, Final

from sparkprobe.sources.codecs.errors import LimitExceeded

__all__ = [
    "CHUNK", "DEFAULT_LIMITS", "MAX_BLOCK", "ByteCounter", "DecodeLimits", "Decoder", "PassThrough", "read_exact",
]

#: Input is read in chunks this big; output buffers are the same order of size, so memory stays flat.
CHUNK: Final = 1 << 16
#: Largest block any of the block formats may declare (lz4-java's maximum is 32 MiB); a bigger
#: length is corruption, and refusing it keeps a garbled header from allocating gigabytes.
MAX_BLOCK: Final = 1 << 25


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on what decoding one file may cost (docs/fleet.md, "Bad input").

    ``max_window_bytes`` caps the history a decoder may keep (zstd's window, xz's dictionary
    memory): 128 MiB is libzstd's own default cap and covers every zstd level Spark can be set to
    (level 22 uses a 128 MiB window). ``max_expansion`` refuses a stream once it has produced more
    than ``expansion_after_bytes`` and more than that many times the compressed bytes read:
    Spark's event logs compress 5 to 50 times (the JSON of repeated task events), a decompression bomb
    thousands of times.
    """

    max_window_bytes: int = 1 << 27
    max_expansion: float = 1000.0
    expansion_after_bytes: int = 1 << 26


#: The limits used when none are given.
DEFAULT_LIMITS: Final = DecodeLimits()


def read_exact(src: IO[bytes], n: int) -> bytes:
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


class ByteCounter(io.RawIOBase):
    """Counts the bytes read from the file, i.e. the compressed size consumed so far."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """As the file it counts."""
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Seek the file (zip archives are read out of order)."""
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        """The file's position."""
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        """Read from the file, counting."""
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.count += n
        return int(n or 0)

    def close(self) -> None:
        """Close the file."""
        self._raw.close()
        super().close()


class Decoder(io.RawIOBase):
    """A readable raw stream over decoded chunks; subclasses implement :meth:`_next_chunk`.

    ``counter`` (the compressed bytes read) and ``limits`` let it refuse a decompression bomb
    (:class:`~sparkprobe.sources.codecs.LimitExceeded`) before it has cost more than
    ``expansion_after_bytes`` of decoding.
    """

    codec = "?"

    def __init__(self, src: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        super().__init__()
        self._src = src
        self._pending = memoryview(b"")
        self._pos = 0
        self._done = False
        self.truncated = False
        self.produced = 0
        self.limits = limits
        self.counter: ByteCounter | None = None

    def readable(self) -> bool:
        """Always readable."""
        return True

    def _next_chunk(self) -> bytes | memoryview | None:
        """Return the next piece of decoded output (may be empty), or None at the end of the data."""
        raise NotImplementedError

    def _check_expansion(self) -> None:
        limits, counter = self.limits, self.counter
        if counter is None or self.produced <= limits.expansion_after_bytes:
            return
        if self.produced > limits.max_expansion * max(counter.count, 1):
            raise LimitExceeded(
                self.codec,
                f"max_expansion {limits.max_expansion:g}x",
                f"{self.produced:,} bytes decoded from {counter.count:,} compressed bytes: a decompression bomb",
            )

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with decoded bytes; 0 at the end."""
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
        self._check_expansion()
        return n


class PassThrough(Decoder):
    """An uncompressed zip member: counted like a decoder's output (a deflated zip bomb is caught)."""

    codec = "plain"

    def _next_chunk(self) -> bytes | None:
        data = self._src.read(CHUNK)
        return data if data else None
