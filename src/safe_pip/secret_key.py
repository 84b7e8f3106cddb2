"""Secret keys kept in safe-pip's home, each signing the entries of one part of the cache:
whoever can write the cache but not the home cannot forge an entry safe-pip will use."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["KEY_SIZE", "secret_key"]

KEY_SIZE = 32
"""Bytes of a key (an HMAC-SHA256 key as long as its digest)."""


def secret_key(path: Path) -> bytes:
    """The key kept in ``path``, made on first use.

    :raises OSError: it can be neither read nor made.
    """
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    return key if len(key) == KEY_SIZE else _make_key(path)


def _make_key(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:  # mkstemp made it 0600
            stream.write(key)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            # A link, not a rename: of two commands making the key at once, the second
            # takes the first's; a rename would replace a key entries are signed with.
            os.link(temp, path)
        except FileExistsError:
            existing = path.read_bytes()
            if len(existing) == KEY_SIZE:
                return existing
            Path(temp).replace(path)
        return key
    finally:
        Path(temp).unlink(missing_ok=True)
