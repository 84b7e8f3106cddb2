"""safe-pip's cache: what each part holds, and emptying it.

The parts are the verified downloads (``files/``), the remembered resolutions
(``resolutions/``), the index pages read before (``pages/``) and the bytecode store
(``bytecode/``) in the cache directory, and the advisories indexed in safe-pip's home
(``advisories/``). Everything else in the home (the trust store, the audit log, the
settings, the keys signing the bytecode store and the pages) is state, not a cache, and is
never touched.

A symlink is a file here: it is counted and removed as itself, never followed, so nothing
outside the cache is measured or deleted. The cache directory itself is never removed
(it may be a link to a directory the user chose), only the parts in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from safe_pip.errors import SafePipError

__all__ = ["CachePart", "Removed", "SafePipCache", "cache_directory"]


def cache_directory(flag: str | None, home: Path, *, disabled: bool) -> Path | None:
    """The cache directory: ``--cache-dir``, else ``cache`` in the home; ``None`` with
    ``--no-cache-dir`` (a command then caches in a temporary directory of its own)."""
    if disabled:
        return None
    return Path(flag).expanduser() if flag else home / "cache"


@dataclass(frozen=True, slots=True)
class CachePart:
    """One part of the cache: where it is, how many entries (files) and bytes it holds."""

    name: str
    directory: Path
    entries: int
    size: int


@dataclass(frozen=True, slots=True)
class Removed:
    """What a purge removed: files and bytes."""

    files: int
    size: int


class SafePipCache:
    """The parts of safe-pip's cache in ``cache_dir``, and the advisories in ``home``."""

    def __init__(self, cache_dir: Path, home: Path) -> None:
        # Imported here: an install asks only cache_directory(), and its start-up should
        # not load the bytecode store.
        from safe_pip.install.bytecode_store import BytecodeStore

        self.directory = cache_dir
        self._store = BytecodeStore(cache_dir, home)
        self._trees = (
            ("downloads", cache_dir / "files"),
            ("remembered resolutions", cache_dir / "resolutions"),
            ("index pages", cache_dir / "pages"),
            ("advisories", home / "advisories"),
        )

    def parts(self) -> list[CachePart]:
        """Each part, measured now, the bytecode store last.

        :raises SafePipError: a part could not be read.
        """
        try:
            measured = [CachePart(name, top, *_measure(top)) for name, top in self._trees]
            store = CachePart("bytecode store", self._store.root, *self._store_usage())
        except OSError as exc:
            msg = (
                f"Cannot read {exc.filename or self.directory} in safe-pip's cache: {exc.strerror}"
            )
            raise SafePipError(msg) from exc
        return [*measured, store]

    def purge(self) -> Removed:
        """Remove every part's files; the bytecode store empties itself.

        :raises SafePipError: a file could not be removed.
        """
        removed = [_remove_tree(top) for _name, top in self._trees]
        removed.append(self._purge_store())
        return Removed(sum(r.files for r in removed), sum(r.size for r in removed))

    def _store_usage(self) -> tuple[int, int]:
        # The store walks its root; a root that is a link would lead it out of the cache.
        if self._store.root.is_symlink():
            return _measure(self._store.root)
        return self._store.usage()

    def _purge_store(self) -> Removed:
        if self._store.root.is_symlink():
            return _remove_tree(self._store.root)
        try:
            entries, _ = self._store.usage()
            return Removed(entries, self._store.purge())
        except OSError as exc:
            raise _not_removed(exc, self._store.root) from exc


def _files(top: Path) -> Iterator[os.DirEntry[str]]:
    """Every file under ``top`` (a directory), symlinks as themselves; gone is empty."""
    try:
        with os.scandir(top) as listing:
            entries = list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _files(Path(entry.path))
        else:
            yield entry


def _size(entry: os.DirEntry[str]) -> int:
    """A regular file's size; a link's is the link's own, not its target's."""
    try:
        return entry.stat(follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0


def _measure(top: Path) -> tuple[int, int]:
    """How many files ``top`` holds and their size; a link at ``top`` is one file."""
    if top.is_symlink():
        return 1, top.lstat().st_size
    sizes = [_size(entry) for entry in _files(top)]
    return len(sizes), sum(sizes)


def _remove_tree(top: Path) -> Removed:
    """Remove ``top`` and everything under it without following a link.

    :raises SafePipError: something could not be removed.
    """
    try:
        if top.is_symlink() or top.is_file():
            size = top.lstat().st_size
            top.unlink()
            return Removed(1, size)
        files = size = 0
        for entry in _files(top):
            size += _size(entry)
            Path(entry.path).unlink(missing_ok=True)
            files += 1
        _remove_directories(top)
    except OSError as exc:
        raise _not_removed(exc, top) from exc
    return Removed(files, size)


def _not_removed(exc: OSError, where: Path) -> SafePipError:
    return SafePipError(
        f"Cannot remove {exc.filename or where} from safe-pip's cache: {exc.strerror}"
    )


def _remove_directories(top: Path) -> None:
    """Remove ``top`` and the directories under it, emptied of their files."""
    for directory, _subdirectories, _names in os.walk(top, topdown=False):
        # Not empty: an install running meanwhile has just stored a file there.
        with suppress(OSError):
            Path(directory).rmdir()
