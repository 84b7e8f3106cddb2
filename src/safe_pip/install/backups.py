"""Where the install puts what it moves out of the way, and when that is deleted.

Replaced versions are set aside (moved, not deleted) before the new wheels are written,
each file to a backup directory in its own scheme directory, so the move is a rename; they
are deleted only once every wheel is in place. On a rollback each directory the install
created leaves whole, in one rename, for a temporary directory that is deleted after
safe-pip exits: removing thousands of files and directories one by one kept an
interrupted large install from exiting for seconds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.install.installed import InstalledDist
    from safe_pip.install.journal import Journal
    from safe_pip.install.removal import Removal

__all__ = ["Backups"]


class Backups:
    """The backup directories of one install, the files set aside in them, and the trash
    that directories created by a rolled-back install go to."""

    def __init__(self, journal: Journal, removal: Removal) -> None:
        self._journal = journal
        self._removal = removal
        self._backup_dirs: dict[Path, Path] = {}
        self._trash: Path | None = None
        self._trashed: list[Path] = []
        self._holding: set[Path] = set()
        """Backup directories that hold created directories moved away."""
        self._same_device: dict[Path, bool] = {}

    def _backup_dir(self, root: Path) -> Path:
        backup_dir = self._backup_dirs.get(root)
        if backup_dir is None:
            backup_dir = root / f".safe-pip-replaced-{secrets.token_hex(8)}"
            self._journal.backup_dirs.append(backup_dir)
            backup_dir.mkdir(mode=0o700)
            self._backup_dirs[root] = backup_dir
        return backup_dir

    def _move_aside(self, path: Path, root: Path) -> None:
        backup = self._backup_dir(root) / str(len(self._journal.moved))
        self._journal.move_aside(path, backup)

    def set_aside(self, dist: InstalledDist) -> None:
        """Move an installed distribution's files out of the way (undoable)."""
        for path in self._removal.files_of(dist):
            root = self._removal.root_of(path)
            if root is not None:
                self._move_aside(path, root)

    def make_way(self, path: Path) -> None:
        """Journal a file another process is about to write; a stale one in its way (no
        RECORD lists it) is set aside, so a rollback brings it back."""
        root = self._removal.root_of(path)
        if root is not None and (path.is_file() or path.is_symlink()):
            self._move_aside(path, root)
        self._journal.note_dirs(path.parent)
        self._journal.created.append(path)

    def trash(self, directory: Path) -> Path | None:
        """Where a directory the install created goes on a rollback: a temporary directory
        on the same file system, out of the environment, else the backup directory of its
        scheme directory; deleted after exit (:meth:`discard`)."""
        root = self._removal.root_of(directory)
        if root is None or directory == root:
            return None
        if self._trash is None:
            self._trash = Path(tempfile.mkdtemp(prefix="safe-pip-rolled-back-"))
        name = f"created-{len(self._trashed)}"
        self._trashed.append(directory)
        if self._on_trash_device(self._trash, directory.parent):
            return self._trash / name
        backup_dir = self._backup_dir(root)
        self._holding.add(backup_dir)
        return backup_dir / name

    def _on_trash_device(self, trash: Path, directory: Path) -> bool:
        """Whether ``directory`` is on the trash's file system; asked once per directory:
        a rollback moves away thousands of directories, most of them side by side."""
        same = self._same_device.get(directory)
        if same is None:
            same = self._same_device[directory] = _same_file_system(trash, directory)
        return same

    def discard(self, *, keep_backups: bool) -> None:
        """Have what the rollback moved away deleted after exit, and drop the backup
        directories it emptied, unless they are to be kept (what they hold could not be
        put back)."""
        later = [self._trash] if self._trash is not None else []
        for backup_dir in () if keep_backups else self._journal.backup_dirs:
            if backup_dir in self._holding:
                later.append(backup_dir)
            else:
                shutil.rmtree(backup_dir, ignore_errors=True)
        _delete_later(later)

    def commit(self) -> None:
        """Drop the set-aside files and the directories their leaving emptied."""
        self._journal.drop_backups()
        stops = set(self._removal.roots)
        for directory in sorted({p.parent for p, _ in self._journal.moved}, reverse=True):
            while directory not in stops and self._removal.root_of(directory) is not None:
                try:
                    directory.rmdir()
                except OSError:
                    break
                directory = directory.parent


def _same_file_system(one: Path, other: Path) -> bool:
    return one.stat().st_dev == other.stat().st_dev


def _delete_later(directories: Sequence[Path]) -> None:
    """Delete directories after this process has gone: an interrupted install exits as
    soon as the environment is restored, and what it moved out of the way is deleted by a
    process of its own (a background ``rm``, which outlives safe-pip)."""
    if not directories:
        return
    if os.name == "posix":
        script = 'rm -rf -- "$@" </dev/null >/dev/null 2>&1 &'
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["/bin/sh", "-c", script, "sh", *map(str, directories)],
                check=True,
                timeout=10,
                start_new_session=True,
            )
            return
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
