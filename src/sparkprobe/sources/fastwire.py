"""Fast path of the wire decoder: a line decoded by msgspec straight into its event record.

The listener writes every line as ``{"k":"<kind>",...}``, so the kind is known from the line's
prefix before it is parsed; msgspec then decodes the line into that kind's record type directly
(checking every field's type in C, skipping unknown fields, filling defaults), with none of the
per-field Python work of :func:`sparkprobe.sources.wire.decode_line`. Whatever this path refuses
(a line without the prefix, an unknown kind, any validation or JSON error) goes to
``decode_line``, which gives the record or the precise, counted :class:`~sparkprobe.sources.wire.BadLine`.

The one difference from ``decode_line`` alone: an integer beyond 64 bits is taken exactly, where
orjson (``decode_line``'s parser) reads it as a float and the line fails as ``schema``. The
listener writes Java longs, so no real stream has one (docs/decisions.md).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sparkprobe.events import EVENT_TYPES, Event

__all__ = ["FALLBACK", "fast_decode_line"]

_PREFIX: Final = b'{"k":"'
_DECODERS: Final[dict[bytes, msgspec.json.Decoder[Any]]] = {
    kind.encode(): msgspec.json.Decoder(cls) for kind, cls in EVENT_TYPES.items()
}

#: Returned when this path does not decide: the caller runs the checked decoder.
FALLBACK: Final = object()


def fast_decode_line(line: bytes) -> Event | object:
    """The record of one wire line, or :data:`FALLBACK`."""
    if not line.startswith(_PREFIX):
        return FALLBACK
    end = line.find(b'"', 6)
    decoder = _DECODERS.get(line[6:end])
    if decoder is None or line.find(b'"k"', end) != -1 or line.find(b"\\u", end) != -1:
        # Unknown kind, or maybe a second "k" key (plain or \u-escaped): orjson keeps the last
        # "k", which may name another kind than the prefix; the checked decoder decides.
        return FALLBACK
    try:
        # Through str: msgspec does not check the UTF-8 of fields it skips, orjson refuses the line.
        event: Event = decoder.decode(line.decode())
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return FALLBACK
    return event
