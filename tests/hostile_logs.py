"""Files that look like event logs to a directory scan but are not, or are built to hurt a reader.

Used by tests/sources/test_bad_input.py, tests/fleet/ and benchmarks/fleet.py (which adds them to
its set). Each maker writes one file and returns its path; nothing here is random unless
seeded, so a failure reproduces.
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_RLE_BLOCK = 1 << 17  # zstd's largest block: 128 KiB


def zstd_bomb(path: Path, size: int = 2 << 30, byte: bytes = b"a") -> Path:
    """One zstd frame that expands to ``size`` copies of ``byte`` and no newline (64 KiB for 2 GiB).

    Written by hand from RLE blocks (RFC 8878, 3.1.1.2: a 3-byte block header, type 1, then the one
    byte to repeat), so making it costs nothing: the issue's "64 KB zstd file that expands to one
    2 GiB line".
    """
    assert size % _RLE_BLOCK == 0 and len(byte) == 1
    # Frame header descriptor 0: no content size, no checksum, not single-segment, so a window
    # descriptor follows: exponent 7 → 2^17 = 128 KiB window.
    out = bytearray(_ZSTD_MAGIC + b"\x00" + bytes([7 << 3]))
    blocks = size // _RLE_BLOCK
    for i in range(blocks):
        last = 1 if i == blocks - 1 else 0
        out += struct.pack("<I", last | (1 << 1) | (_RLE_BLOCK << 3))[:3] + byte
    path.write_bytes(bytes(out))
    return path


def zstd_huge_window(path: Path) -> Path:
    """A zstd frame whose header asks for a 2 GiB window (then garbage): refused before allocating."""
    # Window descriptor exponent 21 → 2^31 bytes.
    path.write_bytes(_ZSTD_MAGIC + b"\x00" + bytes([21 << 3]) + b"\x01\x00\x00" + b"x" * 64)
    return path


def random_bytes(path: Path, size: int = 5 << 20, seed: int = 19) -> Path:
    """``size`` random bytes (the issue's 5 MB case): newlines here and there, no Spark event."""
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def nested_brackets(path: Path, depth: int = 400_000) -> Path:
    """A valid first line (``SparkListenerLogStart``) and then one line of ``depth`` open brackets."""
    first = b'{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}\n'
    path.write_bytes(first + b"[" * depth + b"\n")
    return path


def symlink_loops(directory: Path) -> list[Path]:
    """A directory symlink back to its parent and a file symlink to itself; returns both links."""
    directory.mkdir(parents=True, exist_ok=True)
    up = directory / "up"
    up.symlink_to("..", target_is_directory=True)
    self_link = directory / "self.zstd"
    self_link.symlink_to("self.zstd")
    return [up, self_link]


def unreadable(path: Path, content: bytes = b'{"Event":"SparkListenerLogStart"}\n') -> Path:
    """A log-looking file with mode 000 (root reads it anyway: see ``without_dac`` in the tests)."""
    path.write_bytes(content)
    os.chmod(path, 0)
    return path
