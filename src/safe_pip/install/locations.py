"""Final paths as pypa/installer computes them, and whether they stay where they belong.

Containment is by path components, so ``site-packages-evil`` is not in ``site-packages``,
and again after following the symbolic links already on disk.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.target import Scheme

__all__ = ["RealPaths", "contained", "final_path", "same_content", "within"]


class RealPaths:
    """``os.path.realpath`` of directories, remembered for one stage: thousands of files
    share a few hundred directories. Nothing a wheel writes is a link (inspection refuses
    them), so a directory's answer cannot change while the stage runs."""

    def __init__(self) -> None:
        # Keyed and answered by text: hashing a new Path per file cost more than the
        # realpath calls saved.
        self._known: dict[str, str] = {}

    def __call__(self, directory: str) -> str:
        real = self._known.get(directory)
        if real is None:
            real = self._known[directory] = os.path.realpath(directory)
        return real


def within(path: str | Path, root: str | Path) -> bool:
    """``path.is_relative_to(root)`` for absolute paths, compared as strings: pathlib's
    comparison cost seconds on installs of many thousand files."""
    text, prefix = os.fspath(path), os.fspath(root)
    return text == prefix or text.startswith(prefix if prefix.endswith(os.sep) else prefix + os.sep)


def contained(path: Path, root: Path, realpath: RealPaths | None = None) -> bool:
    """Whether ``path`` stays inside ``root``: by path components, and again after following
    the symbolic links already on disk (the file itself need not exist). Both are absolute
    and normalized, as :func:`final_path` makes them."""
    if not within(path, root):
        return False
    real = realpath or RealPaths()
    return within(real(os.path.dirname(path)), real(os.fspath(root)))  # noqa: PTH120


def final_path(scheme: Scheme, directory: str, relative: str) -> Path:
    """Where pypa/installer writes ``relative`` of a scheme directory (``--root`` applied)."""
    # abspath, not resolve(): installer normalizes without following links, and
    # contained() judges the links separately.
    return scheme.real(os.path.abspath(os.path.join(directory, relative)))  # noqa: PTH100, PTH118


def same_content(wheel: Path, member: str | None, path: Path) -> bool:
    """Whether the regular file at ``path`` holds exactly the bytes of a wheel's member."""
    if member is None or path.is_symlink() or not path.is_file():
        return False
    with zipfile.ZipFile(wheel) as archive:
        theirs = hashlib.sha256(archive.read(member)).digest()
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest() == theirs
