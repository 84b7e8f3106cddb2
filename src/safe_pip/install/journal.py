"""The install's journal: every change noted *before* it is made, and undone on a rollback.

An interrupt between noting a change and making it leaves nothing the rollback does not
know about; the rollback and the commit hold SIGINT and SIGTERM (:func:`signals_held`)
until they are done.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import BinaryIO

__all__ = ["Journal", "move_file", "remove_file", "signals_held"]

logger = logging.getLogger(__name__)


@contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM (a second Ctrl-C) while the journal is replayed or dropped;
    the signals received are listed for the caller."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def move_file(source: Path, destination: Path) -> None:
    """Move a file so that ``destination`` only ever appears complete."""
    try:
        source.replace(destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        partial = destination.with_name(destination.name + ".partial")
        shutil.copy2(source, partial, follow_symlinks=False)
        partial.replace(destination)
        source.unlink()


@dataclass
class Journal:
    """Everything a failed install must undo, each entry noted before the change it names."""

    created: list[Path] = field(default_factory=list)
    created_dirs: list[Path] = field(default_factory=list)
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    """``(original, backup)`` of each set-aside file."""
    backup_dirs: list[Path] = field(default_factory=list)
    _made: set[Path] = field(default_factory=set)
    """Directories :meth:`make_dirs` already made or found; thousands of files share them."""

    def make_dirs(self, directory: Path) -> None:
        """Make ``directory`` and its missing parents, each journaled first."""
        if directory in self._made:
            return
        for missing in self.note_dirs(directory):
            missing.mkdir(exist_ok=True)
        self._made.add(directory)

    def create(self, path: Path) -> BinaryIO:
        """A new file, created exclusively and journaled first: whatever is already there (a
        file, a link), even one that appeared after placement checked, is never written over
        and never removed by a rollback.

        :raises FileExistsError: something is there.
        """
        self.created.append(path)
        try:
            return path.open("xb")
        except FileExistsError:
            # That one, not the last noted: other wheels are being written meanwhile.
            self.created.remove(path)
            raise

    def note_dirs(self, directory: Path) -> list[Path]:
        """Journal the directories missing up to ``directory``: those to make, parents first."""
        missing = []
        # One check per directory an install makes: the parents it made are known.
        while directory not in self._made and not directory.exists():
            missing.append(directory)
            directory = directory.parent
        missing.reverse()
        self.created_dirs.extend(missing)
        return missing

    def move_aside(self, original: Path, backup: Path) -> None:
        """Move a file to its backup, journaled first so a rollback brings it back."""
        self.moved.append((original, backup))
        move_file(original, backup)

    def rollback(self, trash: Callable[[Path], Path | None]) -> list[str]:
        """Undo everything but the backup directories; returns what could not be restored
        (its backup is kept).

        :param trash: where a directory the install created may go whole, out of the
            environment (``None`` for one: nowhere, it is emptied and removed in place).
        """
        gone = self._move_away_new_dirs(trash)
        for path in reversed(self.created):
            if not _inside(path, gone):
                remove_file(path)
        for directory in reversed(self.created_dirs):
            if not _inside(directory, gone):
                _remove_empty_dir(directory)
        failures = []
        for original, backup in reversed(self.moved):
            try:
                _put_back(backup, original)
            except OSError as exc:
                failures.append(f"{original} (kept as {backup}): {exc}")
        return failures

    def drop_backups(self) -> None:
        for backup_dir in self.backup_dirs:
            shutil.rmtree(backup_dir, ignore_errors=True)

    def _move_away_new_dirs(self, trash: Callable[[Path], Path | None]) -> set[str]:
        """Move each outermost directory the install created, with all it holds, to the
        trash: one rename each, where removing thousands of files and directories one by
        one took seconds. Nothing in them was there before: the install made
        them. Returns the directories moved."""
        made = dict.fromkeys(self.created_dirs)
        gone = set()
        for directory in made:
            if directory.parent in made:
                continue
            destination = trash(directory)
            if destination is None:
                continue
            try:
                directory.rename(destination)
            except FileNotFoundError:
                pass  # noted, but interrupted before it was made
            except OSError as exc:
                logger.info("could not move %s out of the way, removing it: %s", directory, exc)
                continue
            gone.add(str(directory))
        return gone


def _put_back(backup: Path, original: Path) -> None:
    """Move a set-aside file back, its directory made again if it went; one noted but
    never moved (interrupted in between) is left. Thousands are put back at once: the move
    is tried first, not preceded by a check and a mkdir each."""
    try:
        move_file(backup, original)
    except FileNotFoundError:
        if not os.path.lexists(backup):  # a link is put back as itself, even a dangling one
            return
        original.parent.mkdir(parents=True, exist_ok=True)
        move_file(backup, original)


def _inside(path: Path, directories: set[str]) -> bool:
    """Whether ``path`` is one of ``directories`` or inside one of them."""
    if not directories:
        return False
    text = str(path)
    while True:
        if text in directories:
            return True
        parent = os.path.dirname(text)  # noqa: PTH120 (thousands of paths: strings are faster)
        if parent == text:
            return False
        text = parent


def remove_file(path: Path) -> None:
    """Remove a file the install wrote; one already gone is fine, one that stays is logged."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not remove %s during rollback: %s", path, exc)


def _remove_empty_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
