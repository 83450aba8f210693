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
for zstd and xz, the window the file declares: 8 MiB for what Spark writes by default), and
:class:`DecodeLimits` bounds what a hostile file can ask for: the window, and how far a stream
may expand (a decompression bomb raises :class:`LimitExceeded`).

A compressed stream that stops inside a block or frame (an ``.inprogress`` log being written, or a
copy cut short) is not an error: everything complete is returned and :attr:`DecodedStream.truncated`
is set. Bytes that cannot be decoded raise :class:`CorruptStream`.

The package's modules follow the seams: ``detect`` (magic bytes and names), ``base`` (the decoder
frame, the byte counter, the limits), ``zstd``, ``blocks`` (lz4-java, snappy-java, lzf),
``stdlib`` (gzip, bz2, xz) and ``stream`` (:class:`DecodedStream`, :func:`open_stream`, zips).
"""

from __future__ import annotations

from sparkprobe.sources.codecs.base import DEFAULT_LIMITS, DecodeLimits
from sparkprobe.sources.codecs.blocks import lzf_decompress
from sparkprobe.sources.codecs.detect import CODECS, codec_from_name, detect_codec, sniff_codec
from sparkprobe.sources.codecs.errors import CorruptStream, EventLogError, LimitExceeded, UnsupportedCodec
from sparkprobe.sources.codecs.stream import DecodedStream, open_stream, zip_members
from sparkprobe.sources.codecs.zstd import ZstdFrameWalker

#: The zstd frame walker under its former private name (tests drive it directly).
_ZstdFrameWalker = ZstdFrameWalker

__all__ = [
    "CODECS",
    "DEFAULT_LIMITS",
    "CorruptStream",
    "DecodeLimits",
    "DecodedStream",
    "EventLogError",
    "LimitExceeded",
    "UnsupportedCodec",
    "codec_from_name",
    "detect_codec",
    "lzf_decompress",
    "open_stream",
    "sniff_codec",
    "zip_members",
]
