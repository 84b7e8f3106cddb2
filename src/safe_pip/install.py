"""Install: pypa/installer writes each verified wheel into the target scheme, all or nothing.

Replaced versions are set aside (moved, not deleted) before the new wheels are written,
and deleted only once every wheel is in place and its RECORD written. Any failure, or an
interrupt, removes what was written and moves the set-aside files back: the environment
ends as it began.

Bytecode is compiled by the *target* interpreter (its magic number and cache tag), in one
batch for the whole plan, and recorded in each RECORD as pip does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme as InstallerScheme

from safe_pip.errors import InstallError
from safe_pip.installed import InstalledDist, find_installed
from safe_pip.models import PlannedDist
from safe_pip.reporting import NullReporter, Reporter
from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["InstallResult", "install_wheels"]

logger = logging.getLogger(__name__)

INSTALLER_NAME = b"safe-pip\n"

# Runs inside the target interpreter: compiles the listed files, prints the .pyc paths.
_COMPILE = r"""
import compileall, importlib.util, json, os, sys
jobs = json.load(sys.stdin)
def one(job):
    path, ddir = job
    ok = compileall.compile_file(path, ddir=ddir, force=True, quiet=2)
    return importlib.util.cache_from_source(path) if ok else None
results = None
if len(jobs) > 64 and (os.cpu_count() or 1) > 1 and sys.platform.startswith("linux"):
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(one, jobs, chunksize=16))
    except (ImportError, OSError):
        results = None
if results is None:
    results = [one(job) for job in jobs]
print(json.dumps(results))
"""


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What the install stage did."""

    installed: tuple[PlannedDist, ...]
    replaced: tuple[InstalledDist, ...]
    skipped: tuple[PlannedDist, ...] = ()
    """``--target`` without ``--upgrade``: already present, left alone (as pip does)."""
    scripts: tuple[Path, ...] = ()


@dataclass
class _Journal:
    """Everything a failed install must undo."""

    created: list[Path] = field(default_factory=list)
    created_dirs: list[Path] = field(default_factory=list)
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    backup_dirs: list[Path] = field(default_factory=list)

    def note_dirs(self, directory: Path) -> None:
        missing = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        self.created_dirs.extend(reversed(missing))

    def rollback(self) -> None:
        for path in reversed(self.created):
            _remove_file(path)
        for directory in reversed(self.created_dirs):
            _remove_empty_dir(directory)
        for original, backup in reversed(self.moved):
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(backup, original)
        self._drop_backups()

    def commit(self) -> None:
        self._drop_backups()

    def _drop_backups(self) -> None:
        for backup_dir in self.backup_dirs:
            shutil.rmtree(backup_dir, ignore_errors=True)


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
    """installer's destination, journaling each write and deferring RECORD until bytecode
    has been compiled for the whole plan."""

    def __init__(self, journal: _Journal, project: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._journal = journal
        self._project = project
        self.pending: tuple[InstallerScheme, str, list[tuple[InstallerScheme, RecordEntry]]] | None
        self.pending = None

    def write_to_fs(
        self, scheme: InstallerScheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = self._path_with_destdir(scheme, path)
        if target.exists() or target.is_symlink():
            msg = (
                f"{self._project}: installing would overwrite {target}, which is not part of "
                f"the version being replaced (it belongs to another project, or to none). "
                f"Nothing was installed; remove or uninstall whatever owns that file first."
            )
            raise InstallError(msg)
        self._journal.note_dirs(target.parent)
        self._journal.created.append(target)
        return super().write_to_fs(scheme, path, stream, is_executable)

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
        jobs = []
        for scheme, entry in self.pending[2]:
            if scheme in ("purelib", "platlib") and entry.path.endswith(".py"):
                real = self._path_with_destdir(scheme, entry.path)
                embedded = str((Path(self.scheme_dict[scheme]) / entry.path).parent)
                jobs.append((real, embedded, scheme, entry.path))
        return jobs

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


def _scheme_dict(scheme: Scheme, target: TargetEnvironment, project: str) -> dict[str, str]:
    paths = {key: str(scheme.paths[key]) for key in ("purelib", "platlib", "scripts", "data")}
    paths["headers"] = scheme.headers_for(project, target)
    return paths


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
    def __init__(self, target: TargetEnvironment, scheme: Scheme, reporter: Reporter) -> None:
        self.target = target
        self.scheme = scheme
        self.reporter = reporter
        self.journal = _Journal()
        self.destinations: list[_Destination] = []
        self.roots = self._roots()

    def _roots(self) -> list[Path]:
        roots = {
            Path(os.path.normpath(self.scheme.real(p))) for p in self.scheme.paths.values() if p
        }
        roots.update(self.scheme.real(d) for d in self.scheme.site_dirs)
        return sorted(roots)

    def _inside_roots(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def set_aside(self, dist: InstalledDist) -> None:
        """Move an installed distribution's files out of the way (undoable)."""
        if not dist.has_record:
            msg = (
                f"Cannot replace {dist.name} {dist.version} at {dist.metadata_dir}: it was "
                f"installed without a RECORD (by a legacy tool), so its files are unknown. "
                f"Remove it with its original tool first."
            )
            raise InstallError(msg)
        backup_dir = Path(tempfile.mkdtemp(prefix=".safe-pip-replaced-", dir=dist.site_dir))
        self.journal.backup_dirs.append(backup_dir)
        for path in self._files_of(dist):
            backup = backup_dir / str(len(self.journal.moved))
            shutil.move(path, backup)
            self.journal.moved.append((path, backup))
        for path in sorted({p.parent for p, _ in self.journal.moved}, reverse=True):
            if path.is_relative_to(dist.site_dir) and path != dist.site_dir:
                _remove_empty_dir(path)

    def _files_of(self, dist: InstalledDist) -> list[Path]:
        """The files to remove: what RECORD lists inside the scheme, plus bytecode."""
        files: dict[Path, None] = {}
        for path in dist.recorded_files():
            if not self._inside_roots(path):
                logger.warning("not removing %s: outside the install scheme", path)
                continue
            if path.is_file() or path.is_symlink():
                files[path] = None
            if path.suffix == ".py":
                cache_dir = path.parent / "__pycache__"
                for pyc in cache_dir.glob(f"{path.stem}.*.pyc") if cache_dir.is_dir() else ():
                    files[pyc] = None
        for leftover in dist.metadata_dir.rglob("*"):
            if leftover.is_file():
                files[leftover] = None
        return list(files)

    def write(self, dist: PlannedDist, wheel: Path) -> None:
        destination = _Destination(
            self.journal,
            str(dist.name),
            scheme_dict=_scheme_dict(self.scheme, self.target, dist.name),
            interpreter=str(self.target.python),
            script_kind=self.target.script_kind,
            destdir=str(self.scheme.root) if self.scheme.root else None,
        )
        with warnings.catch_warnings(record=True) as caught, WheelFile.open(wheel) as source:
            warnings.simplefilter("always")
            installer.install(source, destination, _additional_metadata(dist))
        for warning in caught:
            logger.warning("%s: %s", dist.label, warning.message)
        self.destinations.append(destination)
        self.reporter.installed(dist.label)

    def compile_and_record(self, compile_bytecode: bool) -> None:
        compiled: dict[Path, Path] = {}
        if compile_bytecode:
            compiled = self._compile()
        for destination in self.destinations:
            destination.write_record(compiled)

    def _compile(self) -> dict[Path, Path]:
        jobs = [job for d in self.destinations for job in d.sources_to_compile()]
        if not jobs:
            return {}
        payload = json.dumps([[str(real), embedded] for real, embedded, _, _ in jobs])
        try:
            completed = subprocess.run(
                [str(self.target.python), "-c", _COMPILE],
                input=payload,
                capture_output=True,
                text=True,
                check=True,
            )
            results = json.loads(completed.stdout)
        except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
            logger.warning(
                "bytecode compilation failed; modules will compile on first import: %s",
                getattr(exc, "stderr", exc),
            )
            return {}
        compiled = {}
        for (real, *_rest), pyc in zip(jobs, results, strict=True):
            if pyc:
                compiled[real] = Path(pyc)
                self.journal.created.append(Path(pyc))
        return compiled

    def scripts(self) -> list[Path]:
        found = []
        for destination in self.destinations:
            if destination.pending is None:
                continue
            for scheme, entry in destination.pending[2]:
                if scheme == "scripts":
                    found.append(Path(destination.scheme_dict["scripts"]) / entry.path)
        return found


@contextmanager
def _rollback_on_failure(journal: _Journal) -> Iterator[None]:
    try:
        yield
    except BaseException:
        journal.rollback()
        raise
    journal.commit()


def install_wheels(
    items: Sequence[tuple[PlannedDist, Path]],
    target: TargetEnvironment,
    scheme: Scheme,
    *,
    compile_bytecode: bool = True,
    upgrade: bool = False,
    reporter: Reporter | None = None,
) -> InstallResult:
    """Install verified, inspected wheels; all of them, or none.

    :param upgrade: with ``--target``, replace projects already in the directory.
    :raises InstallError: writing failed; the environment was restored.
    """
    work = _Installer(target, scheme, reporter or NullReporter())
    installed_now = find_installed(scheme.real(d) for d in scheme.site_dirs)
    done: list[PlannedDist] = []
    replaced: list[InstalledDist] = []
    skipped: list[PlannedDist] = []
    with _rollback_on_failure(work.journal):
        try:
            for dist, wheel in items:
                existing = installed_now.get(dist.name, [])
                if existing and scheme.is_target_dir and not upgrade:
                    skipped.append(dist)
                    continue
                for old in existing:
                    work.set_aside(old)
                    replaced.append(old)
                work.write(dist, wheel)
                done.append(dist)
            work.compile_and_record(compile_bytecode)
        except OSError as exc:
            msg = f"Installing failed: {exc}. The environment was restored as it was."
            raise InstallError(msg) from exc
    return InstallResult(tuple(done), tuple(replaced), tuple(skipped), tuple(work.scripts()))
