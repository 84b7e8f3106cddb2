"""The destination pypa/installer writes a placed wheel through.

It writes only what placement approved, each file journaled before it is written and
created exclusively, never over anything, and it holds RECORD back until the plan's
bytecode is compiled, so RECORD lists the bytecode files too, as pip does.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from installer.destinations import SchemeDictionaryDestination
from installer.records import Hash, RecordEntry
from installer.utils import Scheme as InstallerScheme
from installer.utils import copyfileobj_with_hashing, make_file_executable

from safe_pip.errors import InstallError, UnsafeWheel
from safe_pip.install.bytecode import COMPILED_SCHEMES
from safe_pip.install.locations import RealPaths, contained, final_path

if TYPE_CHECKING:
    from safe_pip.install.journal import Journal
    from safe_pip.install.placement import PlacedWheel
    from safe_pip.target import Scheme

__all__ = ["PlacedDestination", "WritingStopped"]


class WritingStopped(Exception):
    """Another wheel failed, or the install was interrupted: this one writes no more."""


class PlacedDestination(SchemeDictionaryDestination):
    """installer's destination: journals each write, refuses to overwrite, to leave the
    scheme or to write any path placement did not approve, defers RECORD until bytecode
    has been compiled for the whole plan, and writes nothing once ``stopping`` is set."""

    def __init__(
        self,
        journal: Journal,
        placed: PlacedWheel,
        scheme: Scheme,
        realpath: RealPaths,
        stopping: threading.Event,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._journal = journal
        self._stopping = stopping
        self._placed = placed
        self._approved = frozenset(placed.files)
        self._scheme = scheme
        self._realpath = realpath
        self._roots: dict[str, Path] = {}
        self._compile: list[tuple[Path, InstallerScheme, str]] | None = None
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
        if self._stopping.is_set():
            raise WritingStopped(self.project)
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
        try:
            written = self._journal.create(target)
        except FileExistsError:
            raise self._overwrite(target) from None
        with written:
            digest, size = copyfileobj_with_hashing(stream, written, self.hash_algorithm)
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

    def sources_to_compile(self) -> list[tuple[Path, InstallerScheme, str]]:
        """``(real path, scheme, record path)`` of each .py file written."""
        if self.pending is None:
            return []
        if self._compile is None:
            self._compile = []
            for scheme, entry in self.pending[2]:
                if scheme in COMPILED_SCHEMES and entry.path.endswith(".py"):
                    real = self._final(scheme, entry.path)
                    if real not in self._placed.shared:
                        self._compile.append((real, scheme, entry.path))
        return self._compile

    def write_record(self, compiled: dict[Path, Path]) -> None:
        """Write RECORD, listing the compiled bytecode files too."""
        if self.pending is None:
            return
        scheme, record_path, records = self.pending
        extra = []
        for real, file_scheme, path in self.sources_to_compile():
            pyc = compiled.get(real)
            if pyc is not None:
                relative = os.path.relpath(pyc, real.parent)
                pyc_path = f"{path.rsplit('/', 1)[0]}/{relative}" if "/" in path else relative
                extra.append((file_scheme, RecordEntry(pyc_path.replace(os.sep, "/"), None, None)))
        super().finalize_installation(scheme, record_path, records + extra)
