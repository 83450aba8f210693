"""Open a log file (or a zip member) as a stream of decompressed bytes: :func:`open_stream`."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sparkprobe.sources.codecs.base import CHUNK, DEFAULT_LIMITS, ByteCounter, DecodeLimits, Decoder, PassThrough
from sparkprobe.sources.codecs.blocks import Lz4BlockDecoder, LzfDecoder, SnappyStreamDecoder
from sparkprobe.sources.codecs.detect import HEAD, detect_codec, sniff_codec
from sparkprobe.sources.codecs.errors import CorruptStream, UnsupportedCodec
from sparkprobe.sources.codecs.stdlib import FileDecoder, XzDecoder
from sparkprobe.sources.codecs.zstd import ZstdDecoder

__all__ = ["DecodedStream", "open_stream", "zip_members"]


def _make_decoder(codec: str, src: IO[bytes], limits: DecodeLimits) -> Decoder:
    if codec == "zstd":
        return ZstdDecoder(src, limits)
    if codec == "lz4":
        return Lz4BlockDecoder(src, limits)
    if codec == "snappy":
        return SnappyStreamDecoder(src, limits)
    if codec == "lzf":
        return LzfDecoder(src, limits)
    if codec == "xz":
        return XzDecoder(src, limits)
    if codec in ("gzip", "bz2"):
        return FileDecoder(src, codec, limits)
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
        counter: ByteCounter,
        decoder: Decoder | None,
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


def _decode(
    src: IO[bytes], name: str, counter: ByteCounter, closers: list[Callable[[], None]], limits: DecodeLimits
) -> DecodedStream:
    """Wrap ``src`` (buffered, positioned at its start) in the decoder its magic/name calls for."""
    codec = detect_codec(name, _peek(src, HEAD))
    if codec == "zip":
        raise UnsupportedCodec("zip", f"{name}: a zip inside a zip is not read")
    if codec == "plain" and isinstance(src, io.BufferedReader):
        return DecodedStream(src, codec, counter, None, closers)
    decoder = PassThrough(src, limits) if codec == "plain" else _make_decoder(codec, src, limits)
    decoder.counter = counter
    return DecodedStream(io.BufferedReader(decoder, CHUNK), codec, counter, decoder, closers)


def zip_members(path: str | os.PathLike[str]) -> list[str]:
    """List the names of the regular files in a zip, in archive order."""
    with zipfile.ZipFile(path) as zf:
        return [info.filename for info in zf.infolist() if not info.is_dir()]


def open_stream(
    path: str | os.PathLike[str], member: str | None = None, *, limits: DecodeLimits = DEFAULT_LIMITS
) -> DecodedStream:
    """Open a log file, or the member ``member`` of a zip, as a stream of decompressed bytes.

    Opening a zip without ``member`` opens its only file; a zip holding several must be opened
    member by member (:func:`sparkprobe.sources.eventlog.discover` does that).

    Raises :class:`UnsupportedCodec` when the codec is unknown or its module is missing, and
    (while reading) :class:`CorruptStream` on undecodable data and
    :class:`~sparkprobe.sources.codecs.LimitExceeded` when decoding would pass ``limits``.
    """
    raw = open(path, "rb", buffering=0)  # closed by DecodedStream.close
    counter = ByteCounter(raw)
    closers: list[Callable[[], None]] = [counter.close]
    try:
        name = Path(path).name
        src = io.BufferedReader(counter, CHUNK)
        if sniff_codec(_peek(src, HEAD)) != "zip":
            if member is not None:
                raise UnsupportedCodec("zip", f"{name} is not a zip; cannot open member {member!r}")
            return _decode(src, name, counter, closers, limits)
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
        return _decode(inner, member, counter, closers, limits)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
