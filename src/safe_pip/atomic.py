"""Crash-proof state files: written beside their destination, flushed, then renamed over it.

A reader (or a crash) sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file in ``path``'s directory, then rename it into place.
    The temporary file is fsynced first: after a power loss the rename must not point at
    a file whose data never reached the disk.
    """
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """:func:`write_text_atomic` for bytes; ``durable=False`` skips the fsync, for a cache
    entry whose truncation a check on use catches."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
