"""Install: pypa/installer writes each verified, placed wheel into the target scheme, all or
nothing.

Replaced versions are set aside (moved, not deleted) before the new wheels are written,
and deleted only once every wheel is in place and its RECORD written. Any failure, or an
interrupt, removes what was written and moves the set-aside files back: the environment
ends as it began. Each directory the install created leaves whole, in one rename, for a
temporary directory that is deleted after safe-pip exits: removing thousands of files and
directories one by one kept an interrupted large install from exiting for seconds.
Every change is journaled *before* it is made, so an interrupt between the two leaves
nothing the rollback does not know about; rollback and commit themselves hold SIGINT and
SIGTERM until they are done.

Only files an installed RECORD lists are ever removed, and of those never a file outside
the scheme, a file another installed project owns, a symbolic link (installers write
none), the interpreter, ``pyvenv.cfg``, or the standard library: pip copies rows of a
wheel's own RECORD into the installed one, so those rows are claims, not facts.

Each written module gets its bytecode from the plan's :class:`~safe_pip.install.bytecode.Compiler`
as soon as its wheel is in place; the bytecode files are journaled like any other file and
recorded in each RECORD, as pip does. Scripts are the ones pip writes: ``pip``, ``pipX``
and ``pipX.Y`` for the target's Python where a wheel declares ``pip`` (see
:func:`~safe_pip.install.inspection.pip_scripts`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme as InstallerScheme
from installer.utils import copyfileobj_with_hashing, make_file_executable

from safe_pip.errors import InstallError, UnsafeWheel
from safe_pip.install.bytecode import COMPILED_SCHEMES, Compiler, CompilerFailed, pyc_path
from safe_pip.install.inspection import entry_points_text
from safe_pip.install.installed import InstalledDist
from safe_pip.install.placement import Layout, PlacedWheel, RealPaths, contained, final_path, within
from safe_pip.models import PlannedDist
from safe_pip.reporting import NullReporter, Reporter
from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["InstallResult", "install_wheels"]

logger = logging.getLogger(__name__)

INSTALLER_NAME = b"safe-pip\n"

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


@contextmanager
def _signals_held() -> Iterator[list[int]]:
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


def _move(source: Path, destination: Path) -> None:
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
class _Journal:
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
        self.note_dirs(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._made.add(directory)

    def note_dirs(self, directory: Path) -> None:
        missing = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        self.created_dirs.extend(reversed(missing))

    def rollback(self, trash: Callable[[Path], Path | None]) -> list[str]:
        """Undo everything but the backup directories; returns what could not be restored
        (its backup is kept).

        :param trash: where a directory the install created may go whole, out of the
            environment (``None`` for one: nowhere, it is emptied and removed in place).
        """
        gone = self._move_away_new_dirs(trash)
        for path in reversed(self.created):
            if not _inside(path, gone):
                _remove_file(path)
        for directory in reversed(self.created_dirs):
            if not _inside(directory, gone):
                _remove_empty_dir(directory)
        failures = []
        for original, backup in reversed(self.moved):
            if not backup.exists():
                continue  # noted, but interrupted before it moved
            try:
                original.parent.mkdir(parents=True, exist_ok=True)
                _move(backup, original)
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


def _remove_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not remove %s during rollback: %s", path, exc)


def _remove_empty_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


class _Destination(SchemeDictionaryDestination):
    """installer's destination: journals each write, refuses to overwrite, to leave the
    scheme or to write any path placement did not approve, and defers RECORD until bytecode
    has been compiled for the whole plan."""

    def __init__(
        self,
        journal: _Journal,
        placed: PlacedWheel,
        scheme: Scheme,
        realpath: RealPaths,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._journal = journal
        self._placed = placed
        self._approved = frozenset(placed.files)
        self._scheme = scheme
        self._realpath = realpath
        self._roots: dict[str, Path] = {}
        self._compile: list[tuple[Path, str, InstallerScheme, str]] | None = None
        self.pending: tuple[InstallerScheme, str, list[tuple[InstallerScheme, RecordEntry]]] | None
        self.pending = None

    @property
    def project(self) -> str:
        return self._placed.dist.name

    def _final(self, scheme: InstallerScheme, path: str) -> Path:
        return final_path(self._scheme, self.scheme_dict[scheme], path)

    def _root(self, scheme: InstallerScheme) -> Path:
        root = self._roots.get(scheme)
        if root is None:
            root = self._roots[scheme] = self._final(scheme, "")
        return root

    def write_to_fs(
        self, scheme: InstallerScheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = self._final(scheme, path)
        if target not in self._approved:
            # Inspection and installer read this wheel differently (DESIGN invariant 8):
            # whatever the installer meant, what was never checked is never written.
            raise self._unapproved(target)
        if target in self._placed.shared:
            digest, size = copyfileobj_with_hashing(stream, io.BytesIO(), self.hash_algorithm)
            return RecordEntry(path, Hash(self.hash_algorithm, digest), size)
        if not contained(target, self._root(scheme), self._realpath):
            msg = (
                f"{self.project}: {target} is outside the {scheme} directory. "
                f"Nothing was installed."
            )
            raise InstallError(msg)
        self._journal.make_dirs(target.parent)
        self._journal.created.append(target)
        try:
            # Exclusive creation: whatever is there (a file, a link), even one that appeared
            # after placement checked, is never written over.
            with target.open("xb") as written:
                digest, size = copyfileobj_with_hashing(stream, written, self.hash_algorithm)
        except FileExistsError:
            self._journal.created.pop()
            raise self._overwrite(target) from None
        if is_executable:
            make_file_executable(target)
        return RecordEntry(path, Hash(self.hash_algorithm, digest), size)

    def _unapproved(self, target: Path) -> UnsafeWheel:
        return UnsafeWheel(
            f"{self.project}: pypa/installer would write {target}, which inspection never "
            f"saw in this wheel (the two read it differently). Nothing was installed; do not "
            f"install the file by other means, and report it to safe-pip."
        )

    def _overwrite(self, target: Path) -> InstallError:
        return InstallError(
            f"{self.project}: installing would overwrite {target}, which is not "
            f"part of the version being replaced (it belongs to another project, or to "
            f"none). Nothing was installed; remove or uninstall whatever owns that file first."
        )

    def finalize_installation(
        self,
        scheme: InstallerScheme,
        record_file_path: str,
        records: Any,
    ) -> None:
        self.pending = (scheme, record_file_path, list(records))

    def sources_to_compile(self) -> list[tuple[Path, str, InstallerScheme, str]]:
        """``(real path, embedded dir, scheme, record path)`` of each .py file written."""
        if self.pending is None:
            return []
        if self._compile is None:
            self._compile = []
            for scheme, entry in self.pending[2]:
                if scheme in COMPILED_SCHEMES and entry.path.endswith(".py"):
                    real = self._final(scheme, entry.path)
                    if real not in self._placed.shared:
                        embedded = str((Path(self.scheme_dict[scheme]) / entry.path).parent)
                        self._compile.append((real, embedded, scheme, entry.path))
        return self._compile

    def write_record(self, compiled: dict[Path, Path]) -> None:
        """Write RECORD, listing the compiled bytecode files too."""
        if self.pending is None:
            return
        scheme, record_path, records = self.pending
        extra = []
        for real, _embedded, file_scheme, path in self.sources_to_compile():
            pyc = compiled.get(real)
            if pyc is not None:
                relative = os.path.relpath(pyc, real.parent)
                pyc_path = f"{path.rsplit('/', 1)[0]}/{relative}" if "/" in path else relative
                extra.append((file_scheme, RecordEntry(pyc_path.replace(os.sep, "/"), None, None)))
        super().finalize_installation(scheme, record_path, records + extra)


class _Source(WheelFile):
    """The wheel as pypa/installer reads it, with the scripts inspection decided on (pip's
    versioned names) where they differ from what ``entry_points.txt`` declares; the file
    itself is installed as shipped, as pip does."""

    def __init__(self, archive: zipfile.ZipFile, entry_points: str | None) -> None:
        super().__init__(archive)
        self._entry_points = entry_points

    def read_dist_info(self, filename: str) -> str:
        if filename == "entry_points.txt" and self._entry_points is not None:
            return self._entry_points
        return super().read_dist_info(filename)


def _additional_metadata(dist: PlannedDist) -> dict[str, bytes]:
    extra = {"INSTALLER": INSTALLER_NAME}
    if dist.requested:
        extra["REQUESTED"] = b""
    direct = _direct_url(dist)
    if direct is not None:
        extra["direct_url.json"] = json.dumps(direct, sort_keys=True).encode()
    return extra


def _direct_url(dist: PlannedDist) -> dict[str, Any] | None:
    """PEP 610 data for distributions that did not come from an index."""
    if dist.local_path is not None:
        url = Path(dist.local_path).absolute().as_uri()
        if dist.local_sha256:
            return {"url": url, "archive_info": {"hashes": {"sha256": dist.local_sha256}}}
        return {"url": url, "dir_info": {"editable": True} if dist.editable else {}}
    if dist.file is not None and dist.source is None:
        return {"url": dist.file.url, "archive_info": {"hashes": {"sha256": dist.file.sha256}}}
    return None


class _Installer:
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
        self.layout = layout
        self.reporter = reporter
        self.journal = _Journal()
        self.destinations: list[_Destination] = []
        self.current: PlannedDist | None = None
        self._realpath = RealPaths()
        self.compiler = compiler
        self.roots = self._roots()
        self._backup_dirs: dict[Path, Path] = {}
        self._trash: Path | None = None
        self._trashed: list[Path] = []
        self._holding: set[Path] = set()
        """Backup directories that hold created directories moved away."""
        self._interpreter_files = {
            Path(os.path.realpath(path))
            for path in (scheme.real(target.prefix / "pyvenv.cfg"), target.python)
        }
        self._stdlib = scheme.real(target.stdlib)
        self._site_dirs = [scheme.real(directory) for directory in scheme.site_dirs]

    def _roots(self) -> list[Path]:
        """The scheme's directories, deepest first."""
        roots = {
            Path(os.path.normpath(self.scheme.real(p))) for p in self.scheme.paths.values() if p
        }
        roots.update(self.scheme.real(d) for d in self.scheme.site_dirs)
        return sorted(roots, key=lambda root: len(root.parts), reverse=True)

    def _root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if contained(path, root, self._realpath)), None)

    def _protected(self, path: Path) -> bool:
        """Files of the interpreter itself that no RECORD may claim, and links, which no
        installer writes."""
        if path.is_symlink() or Path(os.path.realpath(path)) in self._interpreter_files:
            return True
        in_site = any(within(path, site) for site in self._site_dirs)
        return within(path, self._stdlib) and not in_site

    def _backup_dir(self, root: Path) -> Path:
        backup_dir = self._backup_dirs.get(root)
        if backup_dir is None:
            backup_dir = root / f".safe-pip-replaced-{secrets.token_hex(8)}"
            self.journal.backup_dirs.append(backup_dir)
            backup_dir.mkdir(mode=0o700)
            self._backup_dirs[root] = backup_dir
        return backup_dir

    def set_aside(self, dist: InstalledDist) -> None:
        """Move an installed distribution's files out of the way (undoable). Each goes to a
        backup directory in its own scheme directory, so the move is a rename."""
        for path in self._files_of(dist):
            root = self._root_of(path)
            if root is None:
                continue
            backup = self._backup_dir(root) / str(len(self.journal.moved))
            self.journal.moved.append((path, backup))
            _move(path, backup)

    def _files_of(self, dist: InstalledDist) -> list[Path]:
        """The files to remove: what the installed RECORD lists that may be removed, plus
        bytecode of its sources and anything left in its metadata directory."""
        files: dict[Path, None] = {}
        for path in dist.recorded_files():
            if not self._removable(dist, path):
                continue
            files[path] = None
            if path.suffix == ".py":
                cache_dir = path.parent / "__pycache__"
                for pyc in cache_dir.glob(f"{path.stem}.*.pyc") if cache_dir.is_dir() else ():
                    files[pyc] = None
        for leftover in dist.metadata_dir.rglob("*"):
            if leftover.is_file() and not leftover.is_symlink():
                files[leftover] = None
        return list(files)

    def _removable(self, dist: InstalledDist, path: Path) -> bool:
        if not (path.is_file() or path.is_symlink()):
            return False
        if self._root_of(path) is None:
            logger.warning("%s: not removing %s, outside the install scheme", dist.name, path)
            return False
        if path in self.layout.kept:
            logger.info("%s: keeping %s, another installed project owns it", dist.name, path)
            return False
        if self._protected(path):
            logger.warning("%s: not removing %s, which no installer writes", dist.name, path)
            return False
        return True

    def write(self, placed: PlacedWheel) -> None:
        destination = _Destination(
            self.journal,
            placed,
            self.scheme,
            self._realpath,
            scheme_dict=self.scheme.install_paths(placed.dist.name, self.target),
            interpreter=str(self.target.python),
            script_kind=self.target.script_kind,
            destdir=str(self.scheme.root) if self.scheme.root else None,
        )
        info = placed.info
        scripts = entry_points_text(info.scripts) if info.scripts_renamed else None
        with (
            warnings.catch_warnings(record=True) as caught,
            zipfile.ZipFile(placed.wheel) as archive,
        ):
            warnings.simplefilter("always")
            source = _Source(archive, scripts)
            installer.install(source, destination, _additional_metadata(placed.dist))
        for warning in caught:
            logger.warning("%s: %s", placed.dist.label, warning.message)
        self.destinations.append(destination)
        self._feed_compiler(destination)
        self.reporter.installed(placed.dist.label)

    def _feed_compiler(self, destination: _Destination) -> None:
        compiler, cache_tag = self.compiler, self.target.cache_tag
        jobs = destination.sources_to_compile()
        if compiler is None or cache_tag is None or not jobs:
            return
        for real, *_rest in jobs:
            self._note_bytecode(pyc_path(real, cache_tag))
        compiler.modules_written(destination.project, jobs)

    def trash(self, directory: Path) -> Path | None:
        """Where a directory the install created goes on a rollback: a temporary directory
        on the same file system, out of the environment, else the backup directory of its
        scheme directory; deleted after exit (:meth:`discard`)."""
        root = self._root_of(directory)
        if root is None or directory == root:
            return None
        if self._trash is None:
            self._trash = Path(tempfile.mkdtemp(prefix="safe-pip-rolled-back-"))
        name = f"created-{len(self._trashed)}"
        self._trashed.append(directory)
        if _same_file_system(self._trash, directory.parent):
            return self._trash / name
        backup_dir = self._backup_dir(root)
        self._holding.add(backup_dir)
        return backup_dir / name

    def discard(self, *, keep_backups: bool) -> None:
        """Have what the rollback moved away deleted after exit, and drop the backup
        directories it emptied, unless they are to be kept (what they hold could not be
        put back)."""
        later = [self._trash] if self._trash is not None else []
        for backup_dir in () if keep_backups else self.journal.backup_dirs:
            if backup_dir in self._holding:
                later.append(backup_dir)
            else:
                shutil.rmtree(backup_dir, ignore_errors=True)
        _delete_later(later)

    def stop_compiler(self) -> None:
        """Kill the compiler before a rollback, so it writes nothing afterwards."""
        if self.compiler is not None:
            self.compiler.stop()

    def compile_and_record(self) -> None:
        self.current = None
        compiled = self._finish_compiler()
        for destination in self.destinations:
            destination.write_record(compiled)

    def _finish_compiler(self) -> dict[Path, Path]:
        compiler, cache_tag = self.compiler, self.target.cache_tag
        if compiler is None or cache_tag is None:
            return {}
        try:
            results = compiler.finish()
        except CompilerFailed as exc:
            logger.warning(
                "bytecode compilation failed; modules will compile on first import: %s", exc
            )
            for real in compiler.written:
                _remove_file(pyc_path(real, cache_tag))
            return {}
        compiled = {}
        for real, pyc in zip(compiler.written, results, strict=True):
            if pyc is not None:
                compiled[real] = pyc
                if pyc != pyc_path(real, cache_tag):
                    self.journal.created.append(pyc)
        return compiled

    def _note_bytecode(self, pyc: Path) -> None:
        """Journal a bytecode file before the compiler writes it; a stale one in its way
        (no RECORD lists it) is set aside, so a rollback brings it back."""
        root = self._root_of(pyc)
        if root is not None and (pyc.is_file() or pyc.is_symlink()):
            backup = self._backup_dir(root) / str(len(self.journal.moved))
            self.journal.moved.append((pyc, backup))
            _move(pyc, backup)
        self.journal.note_dirs(pyc.parent)
        self.journal.created.append(pyc)

    def commit(self) -> None:
        """Drop the set-aside files and the directories their leaving emptied."""
        self.journal.drop_backups()
        stops = set(self.roots)
        for directory in sorted({p.parent for p, _ in self.journal.moved}, reverse=True):
            while directory not in stops and self._root_of(directory) is not None:
                try:
                    directory.rmdir()
                except OSError:
                    break
                directory = directory.parent

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
                work.set_aside(old)
        for placed in layout.wheels:
            work.current = placed.dist
            work.write(placed)
        work.compile_and_record()
        # The point of no return: from here on the new versions stay.
        with _signals_held() as late:
            committing = True
            work.commit()
        if late:
            logger.warning("interrupt received after the install was complete; it stays")
    except BaseException as exc:
        if committing:
            raise
        with _signals_held():
            work.stop_compiler()
            unrestored = work.journal.rollback(work.trash)
            work.discard(keep_backups=bool(unrestored))
        if unrestored or isinstance(exc, _WRITE_ERRORS):
            raise work.failure(exc, unrestored) from exc
        raise
    return InstallResult(
        tuple(placed.dist for placed in layout.wheels),
        tuple(old for placed in layout.wheels for old in placed.replaces),
        layout.skipped,
        tuple(work.scripts()),
    )
