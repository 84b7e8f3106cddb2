"""Install: pypa/installer writes each verified, placed wheel into the target scheme, all or
nothing.

Replaced versions are set aside (:mod:`~safe_pip.install.backups`) before the new wheels
are written through a destination that writes only what placement approved
(:mod:`~safe_pip.install.destination`), and deleted only once every wheel is in place and
its RECORD written. Any failure, or an interrupt, replays the journal
(:mod:`~safe_pip.install.journal`): what was written goes, the set-aside files come back,
and the environment ends as it began. Only files an installed RECORD lists are ever
removed, and not all of those (:mod:`~safe_pip.install.removal`). Wheels are written several
at a time; when one fails, those still being written stop before the rollback begins.

Each written module gets its bytecode from the plan's :class:`~safe_pip.install.bytecode.Compiler`
as soon as its wheel is in place (:mod:`~safe_pip.install.compile_handoff`). Scripts are the
ones pip writes: ``pip``, ``pipX`` and ``pipX.Y`` for the target's Python where a wheel
declares ``pip`` (see :func:`~safe_pip.install.scripts.pip_scripts`).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import installer
from installer.exceptions import InstallerError

from safe_pip.errors import InstallError
from safe_pip.install.backups import Backups
from safe_pip.install.compile_handoff import BytecodeHandOff
from safe_pip.install.destination import PlacedDestination
from safe_pip.install.generated import additional_metadata
from safe_pip.install.journal import Journal, signals_held
from safe_pip.install.locations import RealPaths
from safe_pip.install.removal import Removal
from safe_pip.install.scripts import entry_points_text
from safe_pip.install.wheel_source import InstallSource
from safe_pip.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from safe_pip.install.bytecode import Compiler
    from safe_pip.install.installed import InstalledDist
    from safe_pip.install.placement import Layout, PlacedWheel
    from safe_pip.models import PlannedDist
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["InstallResult", "install_wheels"]

logger = logging.getLogger(__name__)

_WRITERS = min(4, os.cpu_count() or 1)
"""Wheels written at once: decompressing, hashing and the file system's own work run
outside the interpreter lock, and one after another a large plan's files took twice as
long on two cores."""

# Failures of writing a wheel that end in a rollback and an InstallError; anything else
# (an interrupt) is rolled back and propagates as it is.
_WRITE_ERRORS = (OSError, ValueError, InstallerError, zipfile.BadZipFile)


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What the install stage did."""

    installed: tuple[PlannedDist, ...]
    replaced: tuple[InstalledDist, ...]
    skipped: tuple[PlannedDist, ...] = ()
    """``--target`` without ``--upgrade``: already present, left alone (as pip does)."""
    scripts: tuple[Path, ...] = ()


class _Installer:
    """One install of a layout: sets aside, writes, compiles, then commits or rolls back."""

    def __init__(
        self,
        target: TargetEnvironment,
        scheme: Scheme,
        layout: Layout,
        reporter: Reporter,
        compiler: Compiler | None,
    ) -> None:
        self.target = target
        self.scheme = scheme
        self.reporter = reporter
        self.journal = Journal()
        self.destinations: list[PlacedDestination] = []
        self.current: PlannedDist | None = None
        self._realpath = RealPaths()
        self.backups = Backups(self.journal, Removal(target, scheme, layout.kept, self._realpath))
        self.bytecode = BytecodeHandOff(compiler, target.cache_tag, self.journal, self.backups)
        self._writers = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="install")
        self._stopping = threading.Event()

    def write_all(self, wheels: Sequence[PlacedWheel]) -> None:
        """Write the wheels, several at a time and the largest first; each is handed to the
        compiler and reported once written, from this thread, which owns the compiler and
        the backups. On a failure the others stop (:meth:`roll_back` waits for them)."""
        order = sorted(range(len(wheels)), key=lambda index: -wheels[index].wheel.stat().st_size)
        written: dict[int, PlacedDestination] = {}
        # Around all the writers at once: catching warnings changes the process's state.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            futures = {self._writers.submit(self._write, wheels[index]): index for index in order}
            try:
                for future in as_completed(futures):
                    placed = wheels[futures[future]]
                    self.current = placed.dist
                    destination = future.result()
                    written[futures[future]] = destination
                    self.bytecode.modules_written(destination)
                    self.reporter.installed(placed.dist.label)
            except BaseException:
                # While their warnings are still caught; roll_back() stops them again, with
                # the signals held, should a second Ctrl-C cut this short.
                self.stop_writing()
                raise
        self._writers.shutdown()
        for warning in caught:
            logger.warning("%s", warning.message)
        self.destinations = [written[index] for index in range(len(wheels))]

    def _write(self, placed: PlacedWheel) -> PlacedDestination:
        destination = PlacedDestination(
            self.journal,
            placed,
            self.scheme,
            self._realpath,
            self._stopping,
            scheme_dict=self.scheme.install_paths(placed.dist.name, self.target),
            interpreter=str(self.target.python),
            script_kind=self.target.script_kind,
            destdir=str(self.scheme.root) if self.scheme.root else None,
        )
        info = placed.info
        scripts = entry_points_text(info.scripts) if info.scripts_renamed else None
        with zipfile.ZipFile(placed.wheel) as archive:
            source = InstallSource(archive, placed.dist, scripts)
            installer.install(source, destination, additional_metadata(placed.dist))
        return destination

    def stop_writing(self) -> None:
        """Let the wheels being written stop at their next file, and wait for them."""
        self._stopping.set()
        self._writers.shutdown(wait=True, cancel_futures=True)

    def compile_and_record(self) -> None:
        self.current = None
        compiled = self.bytecode.finish()
        for destination in self.destinations:
            destination.write_record(compiled)

    def roll_back(self) -> list[str]:
        """Undo the install, signals held; returns what could not be put back."""
        with signals_held():
            self.stop_writing()
            self.bytecode.stop()
            unrestored = self.journal.rollback(self.backups.trash)
            self.backups.discard(keep_backups=bool(unrestored))
        return unrestored

    def failure(self, exc: BaseException, unrestored: list[str]) -> InstallError:
        what = f"Installing {self.current.label}" if self.current else "Installing"
        if unrestored:
            listed = "\n".join(f"  - {line}" for line in unrestored)
            return InstallError(
                f"{what} failed: {exc}. These replaced files could not be put back:\n{listed}"
            )
        return InstallError(f"{what} failed: {exc}. The environment was restored as it was.")

    def scripts(self) -> list[Path]:
        found = []
        for destination in self.destinations:
            if destination.pending is None:
                continue
            for scheme, entry in destination.pending[2]:
                if scheme == "scripts":
                    found.append(Path(destination.scheme_dict["scripts"]) / entry.path)
        return found


def install_wheels(
    layout: Layout,
    target: TargetEnvironment,
    scheme: Scheme,
    *,
    compiler: Compiler | None = None,
    reporter: Reporter | None = None,
) -> InstallResult:
    """Install placed wheels; all of them, or none.

    :param compiler: gives the written modules their bytecode (``None``: none).

    :raises InstallError: writing failed; the environment was restored (or the message
        lists what could not be).
    :raises KeyboardInterrupt: interrupted; the environment was restored.
    """
    work = _Installer(target, scheme, layout, reporter or NullReporter(), compiler)
    committing = False
    try:
        for placed in layout.wheels:
            work.current = placed.dist
            for old in placed.replaces:
                work.backups.set_aside(old)
        work.write_all(layout.wheels)
        work.compile_and_record()
        # The point of no return: from here on the new versions stay.
        with signals_held() as late:
            committing = True
            work.backups.commit()
        if late:
            logger.warning("interrupt received after the install was complete; it stays")
    except BaseException as exc:
        if committing:
            raise
        unrestored = work.roll_back()
        if unrestored or isinstance(exc, _WRITE_ERRORS):
            raise work.failure(exc, unrestored) from exc
        raise
    return InstallResult(
        tuple(placed.dist for placed in layout.wheels),
        tuple(old for placed in layout.wheels for old in placed.replaces),
        layout.skipped,
        tuple(work.scripts()),
    )
