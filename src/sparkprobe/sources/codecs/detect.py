"""Which codec a log file is in: magic bytes first, then the file name's extension."""

from __future__ import annotations

import os
from typing import Final

from sparkprobe.sources.codecs.errors import UnsupportedCodec

__all__ = ["CODECS", "HEAD", "LZ4_MAGIC", "SNAPPY_MAGIC", "codec_from_name", "detect_codec", "sniff_codec"]

#: Codec names this package can read (``plain`` is no compression).
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

#: lz4-java's block magic and snappy-java's stream header (the decoders check them too).
LZ4_MAGIC: Final = b"LZ4Block"
SNAPPY_MAGIC: Final = b"\x82SNAPPY\x00"
_MAGICS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (LZ4_MAGIC, "lz4"),
    (SNAPPY_MAGIC, "snappy"),
    (b"ZV\x00", "lzf"),
    (b"ZV\x01", "lzf"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip
)
#: Bytes of a file's start that decide its codec.
HEAD: Final = 16


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
