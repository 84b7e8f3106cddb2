"""Which files of a replaced version the install may remove.

Only files an installed RECORD lists are ever removed, and of those never a file outside
the scheme, a file another installed project owns, a symbolic link (installers write
none), the interpreter, ``pyvenv.cfg``, or the standard library: pip copies rows of a
wheel's own RECORD into the installed one, so those rows are claims, not facts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.install.locations import RealPaths, contained, within

if TYPE_CHECKING:
    from safe_pip.install.installed import InstalledDist
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["Removal"]

logger = logging.getLogger(__name__)


class Removal:
    """The scheme's directories, and what of an installed distribution may leave them."""

    def __init__(
        self,
        target: TargetEnvironment,
        scheme: Scheme,
        kept: Collection[Path],
        realpath: RealPaths,
    ) -> None:
        self._scheme = scheme
        self._kept = kept
        self._realpath = realpath
        self.roots = self._roots()
        self._interpreter_files = {
            Path(os.path.realpath(path))
            for path in (scheme.real(target.prefix / "pyvenv.cfg"), target.python)
        }
        self._stdlib = scheme.real(target.stdlib)
        self._site_dirs = [scheme.real(directory) for directory in scheme.site_dirs]

    def _roots(self) -> list[Path]:
        """The scheme's directories, deepest first."""
        scheme = self._scheme
        roots = {Path(os.path.normpath(scheme.real(p))) for p in scheme.paths.values() if p}
        roots.update(scheme.real(d) for d in scheme.site_dirs)
        return sorted(roots, key=lambda root: len(root.parts), reverse=True)

    def root_of(self, path: Path) -> Path | None:
        """The deepest scheme directory holding ``path``; ``None`` outside the scheme."""
        return next((root for root in self.roots if contained(path, root, self._realpath)), None)

    def files_of(self, dist: InstalledDist) -> list[Path]:
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
        if self.root_of(path) is None:
            logger.warning("%s: not removing %s, outside the install scheme", dist.name, path)
            return False
        if path in self._kept:
            logger.info("%s: keeping %s, another installed project owns it", dist.name, path)
            return False
        if self._protected(path):
            logger.warning("%s: not removing %s, which no installer writes", dist.name, path)
            return False
        return True

    def _protected(self, path: Path) -> bool:
        """Files of the interpreter itself that no RECORD may claim, and links, which no
        installer writes."""
        if path.is_symlink() or Path(os.path.realpath(path)) in self._interpreter_files:
            return True
        in_site = any(within(path, site) for site in self._site_dirs)
        return within(path, self._stdlib) and not in_site
