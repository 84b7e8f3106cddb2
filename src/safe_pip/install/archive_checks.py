"""The zip itself: a wheel is refused when its archive is malformed, whatever its members
say. Duplicate names, symbolic links, encryption, bombs, and bytes outside its members
(overlapping members, polyglot files) are all refused.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from collections.abc import Iterator
from typing import IO

__all__ = ["archive_problems"]

# A zip bomb is about size, not ratio alone: real wheels ship megabytes of zeros that
# compress a thousandfold (onnx's test data), but no real member expands past 64 MiB at 200x.
_MAX_RATIO = 200
_BIG_MEMBER = 64 << 20
_BIG_ARCHIVE = 1 << 30
_MAX_TOTAL = 8 << 30
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_DESCRIPTOR_SLACK = 24
"""The largest data descriptor (zip64, with signature) that may follow a member's data."""


def archive_problems(archive: zipfile.ZipFile) -> list[str]:
    """Everything wrong with the archive's structure, before any member is read."""
    return [*_directory_problems(archive), *_layout_problems(archive)]


def _directory_problems(archive: zipfile.ZipFile) -> Iterator[str]:
    seen: set[str] = set()
    total = compressed = 0
    for item in archive.infolist():
        if item.filename in seen:
            yield f"duplicate archive member {item.filename!r}"
        seen.add(item.filename)
        if stat.S_ISLNK(item.external_attr >> 16):
            yield f"archive member {item.filename!r} is a symbolic link"
        if item.flag_bits & 0x1:
            yield f"archive member {item.filename!r} is encrypted"
        total += item.file_size
        compressed += item.compress_size
        if _bomb(item.file_size, item.compress_size, _BIG_MEMBER):
            ratio = item.file_size // max(item.compress_size, 1)
            yield f"archive member {item.filename!r} expands {ratio}x, to {item.file_size} bytes"
    if total > _MAX_TOTAL or _bomb(total, compressed, _BIG_ARCHIVE):
        yield f"archive expands to {total} bytes from {compressed}"


def _bomb(size: int, compressed: int, big: int) -> bool:
    return size > big and size > compressed * _MAX_RATIO


def _layout_problems(archive: zipfile.ZipFile) -> Iterator[str]:
    """Every byte before the central directory must belong to exactly one member.

    Overlapping members (a zip bomb that reuses one compressed stream), members pointing
    past the directory, and bytes hidden before or between members (a polyglot file whose
    other reading differs from what was inspected) are all refused.
    """
    if archive.fp is None:
        return
    start_dir: int = getattr(archive, "start_dir", 0)
    end = 0
    for item in sorted(archive.infolist(), key=lambda i: i.header_offset):
        if item.header_offset < end:
            yield f"archive member {item.filename!r} overlaps the member before it"
        elif item.header_offset > end + (_DESCRIPTOR_SLACK if end else 0):
            yield f"{item.header_offset - end} bytes before {item.filename!r} belong to no member"
        end = max(end, _member_end(archive.fp, item))
        if end > start_dir:
            yield f"archive member {item.filename!r} extends into the central directory"
            return
    if start_dir > end + _DESCRIPTOR_SLACK:
        yield f"{start_dir - end} bytes before the central directory belong to no member"


def _member_end(stream: IO[bytes], item: zipfile.ZipInfo) -> int:
    stream.seek(item.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size:
        return 1 << 62
    *_fields, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    return int(item.header_offset + len(header) + name_length + extra_length + item.compress_size)
