"""The errors raised while opening or reading an event log."""

from __future__ import annotations

__all__ = ["CorruptStream", "EventLogError", "LimitExceeded", "UnsupportedCodec"]


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


class LimitExceeded(CorruptStream):
    """Decoding the log would pass one of the :class:`~sparkprobe.sources.codecs.DecodeLimits`.

    A decompression bomb (a few kilobytes that expand to gigabytes) or a stream that asks for a
    window larger than Spark ever writes: no Spark event log looks like that, so it is a kind of
    corrupt stream. ``codec`` names the codec, ``limit`` the limit passed.
    """

    def __init__(self, codec: str, limit: str, detail: str) -> None:
        EventLogError.__init__(self, f"{codec} stream refused ({limit}): {detail}")
        self.codec = codec
        self.limit = limit
