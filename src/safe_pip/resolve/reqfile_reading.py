"""Reading a requirements file's text: from a path, a ``file:`` URL or (through a caller's
fetcher) an http(s) URL, without being made to wait or read for ever.

A regular file or a pipe is read, up to :data:`_MAX_FILE_BYTES`; a device other than the
null device is refused before it is opened, and a PEP 751 lock file is refused by name.
"""

from __future__ import annotations

import os
import re
import stat
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from safe_pip.errors import UsageError
from safe_pip.resolve.reqfile_syntax import decode

__all__ = ["has_url_scheme", "read_text"]

_SCHEME_RE = re.compile(r"^(http|https|file):", re.IGNORECASE)
# PEP 751 names, which pip 26 reads as lock files (optionally with "[extras]" appended).
_PYLOCK_RE = re.compile(r"(^|[/\\])pylock(\.[^/\\]+)?\.toml(\[[^\]]*\])?$")
_MAX_FILE_BYTES = 10 << 20
"""The largest requirements file read: ten megabytes is a hundred thousand pinned lines
with their hashes; more is an endless stream, or an attempt to exhaust memory."""
# A FIFO nobody writes to would block open() for ever; opened without blocking, it reads
# as empty instead. (Not on Windows, which has no such files.)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def has_url_scheme(location: str) -> bool:
    """Whether a requirements file is named by an ``http``, ``https`` or ``file`` URL."""
    return bool(_SCHEME_RE.match(location))


def read_text(location: str, kind: str, fetch_url: Callable[[str], str] | None) -> str:
    """The text of the ``kind`` (requirements or constraints) file at ``location``.

    :param fetch_url: reads a file given as an http(s) URL; ``None`` refuses such URLs.
    :raises UsageError: the file is a lock file, cannot be read, is a device, is too large
        or is not text.
    """
    if _PYLOCK_RE.search(location):
        msg = (
            f"Cannot read {location}: safe-pip does not install from PEP 751 pylock.toml "
            f"files yet. Write a hash-pinned requirements file with "
            f"'safe-pip lock -r <requirements> -o requirements.txt' and install that."
        )
        raise UsageError(msg)
    if has_url_scheme(location) and not location.lower().startswith("file:"):
        if fetch_url is None:
            msg = f"Cannot read {kind} file {location}: URLs are not supported here"
            raise UsageError(msg)
        return fetch_url(location)
    path = (
        Path(urllib.parse.unquote(urllib.parse.urlsplit(location).path))
        if (location.lower().startswith("file:"))
        else Path(location)
    )
    return decode(_read_local(path, location, kind), location)


def _refuse_device(found: os.stat_result, location: str, kind: str) -> None:
    """Refuse a device, except the null device (``-r /dev/null``, empty, is in scripts)."""
    if not (stat.S_ISCHR(found.st_mode) or stat.S_ISBLK(found.st_mode)):
        return
    null = Path(os.devnull).stat()
    if not (stat.S_ISCHR(null.st_mode) and found.st_rdev == null.st_rdev):
        msg = (
            f"Cannot read {kind} file {location}: it is a device, not a file (a device such "
            f"as /dev/zero can be read without end). Name a file, or a pipe such as <(...)."
        )
        raise UsageError(msg)


def _read_local(path: Path, location: str, kind: str) -> bytes:
    """A local requirements file's bytes, at most :data:`_MAX_FILE_BYTES` of them.

    A regular file or a pipe (``-r <(command)`` names ``/dev/fd/N``, which scripts use) is
    read; a device is refused before it is opened, since opening one can itself act.

    :raises UsageError: the file cannot be read, is a device, or is too large.
    """
    try:
        _refuse_device(path.stat(), location, kind)
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
        with open(fd, "rb") as stream:
            # What was opened is what was checked (the name may have changed in between).
            _refuse_device(os.fstat(fd), location, kind)
            if _NONBLOCK:
                os.set_blocking(fd, True)  # a pipe's writer may be slow: wait for it
            data = stream.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        msg = f"Could not open {kind} file: {exc.strerror}: {location!r}"
        raise UsageError(msg) from exc
    if len(data) > _MAX_FILE_BYTES:
        msg = (
            f"Cannot read {kind} file {location}: it is larger than "
            f"{_MAX_FILE_BYTES >> 20} MB, more than any requirements file needs."
        )
        raise UsageError(msg)
    return data
