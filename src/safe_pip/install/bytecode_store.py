"""The bytecode store: the code of every module compiled before, so that no module is
compiled twice.

Compiling is most of the CPU time of a large install, and the same modules are installed
again and again (each new environment, each CI run). An entry holds the marshalled code of
one module, named by the interpreter's magic number and a digest of the module's path in
its scheme and its source: the bytecode names that relative path, and the import system
puts the module's real path back into it, so one entry serves every environment.

The target interpreter reads and writes the entries
(:mod:`safe_pip.install.compile_worker`); this side keeps the key and the size. Each entry
is signed with a secret key kept in safe-pip's home, not in the cache: whoever can write
the cache but not the home cannot have code installed that its source does not say.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path

from safe_pip.secret_key import secret_key

__all__ = ["DEFAULT_LIMIT", "EVICT_EVERY", "BytecodeStore"]

DEFAULT_LIMIT = 1 << 30
"""The size the store is brought back under, in bytes."""

EVICT_EVERY = 24 * 3600
"""Seconds between two trims after installs: measuring a full store means a stat of every
entry, a fraction of a second that no install should pay each time."""

_Entry = tuple[Path, os.stat_result]


class BytecodeStore:
    """The bytecode store under ``<cache_dir>/bytecode``, signed with ``<home>/bytecode.key``."""

    def __init__(self, cache_dir: Path, home: Path) -> None:
        self.root = cache_dir / "bytecode"
        self._key_file = home / "bytecode.key"

    @property
    def key(self) -> bytes:
        """The secret the entries are signed with, made on first use.

        :raises OSError: it can be neither read nor made.
        """
        return secret_key(self._key_file)

    def usage(self) -> tuple[int, int]:
        """How many entries the store holds, and their size in bytes."""
        entries = self._entries()
        return len(entries), sum(stat.st_size for _, stat in entries)

    def purge(self) -> int:
        """Empty the store: the bytes freed."""
        freed = _remove(self._entries())
        for directory, _dirs, _files in os.walk(self.root, topdown=False):
            if directory != str(self.root):
                # Not empty: another install has just written an entry there.
                with suppress(OSError):
                    Path(directory).rmdir()
        return freed

    def evict(self, limit: int = DEFAULT_LIMIT) -> int:
        """Remove the entries used least recently until the store holds at most ``limit``
        bytes: the bytes freed."""
        entries = sorted(self._entries(), key=lambda entry: entry[1].st_mtime)
        excess = sum(stat.st_size for _, stat in entries) - limit
        chosen = []
        for entry in entries:
            if excess <= 0:
                break
            chosen.append(entry)
            excess -= entry[1].st_size
        return _remove(chosen)

    def evict_if_due(self, limit: int = DEFAULT_LIMIT, now: float | None = None) -> int:
        """:meth:`evict`, unless the store was trimmed (or made) less than
        :data:`EVICT_EVERY` ago: the store's directory keeps the time, entries being written
        one level below it."""
        now = time.time() if now is None else now
        try:
            if now - self.root.stat().st_mtime < EVICT_EVERY:
                return 0
            os.utime(self.root, (now, now))
        except FileNotFoundError:
            return 0
        return self.evict(limit)

    def _entries(self) -> list[_Entry]:
        # Every file counts, a temporary one left by a killed install too: the oldest go first.
        found = []
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(directory, name)
                with suppress(FileNotFoundError):  # removed by another install meanwhile
                    found.append((path, path.stat()))
        return found


def _remove(entries: list[_Entry]) -> int:
    freed = 0
    for path, stat in entries:
        with suppress(FileNotFoundError):
            path.unlink()
            freed += stat.st_size
    return freed
