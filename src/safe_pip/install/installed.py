"""What is installed in a scheme already, read from its ``*.dist-info`` directories; and
what safe-pip itself needs installed to keep running."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.errors import UsageError

if TYPE_CHECKING:
    from importlib import metadata

    from packaging.version import Version

__all__ = [
    "InstalledDist",
    "OwnDependency",
    "check_install_keeps_safe_pip",
    "check_uninstall_keeps_safe_pip",
    "find_installed",
    "own_dependencies",
]

_OWN_DISTRIBUTION = "safe-pip"
_INSTEAD = (
    "Work in a virtual environment instead (python -m venv .venv, then activate it or pass "
    "safe-pip --python .venv); to change safe-pip's own environment on purpose, use that "
    "environment's pip (python -m pip)."
)


@dataclass(frozen=True, slots=True)
class InstalledDist:
    """An installed distribution: its metadata directory and the site directory holding it."""

    name: NormalizedName
    version: str
    metadata_dir: Path

    @property
    def site_dir(self) -> Path:
        """The directory RECORD paths are relative to."""
        return self.metadata_dir.parent

    @property
    def has_record(self) -> bool:
        """Whether it was installed from a wheel with a RECORD (else: a legacy egg-info)."""
        return (self.metadata_dir / "RECORD").is_file()

    def recorded_files(self) -> list[Path]:
        """Absolute, normalized paths of every file its installed RECORD lists.

        :raises ValueError: the RECORD is missing or unreadable.
        """
        record = self.metadata_dir / "RECORD"
        try:
            with record.open(encoding="utf-8", newline="") as stream:
                rows = list(csv.reader(stream))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            msg = f"cannot read {record}: {exc}"
            raise ValueError(msg) from exc
        paths = []
        for row in rows:
            if row and row[0]:
                paths.append(Path(os.path.normpath(self.site_dir / row[0])))
        return paths


def _parse_dir_name(entry: Path) -> tuple[NormalizedName, str] | None:
    stem = entry.name.rsplit(".", 1)[0]
    name, sep, version = stem.rpartition("-")
    if not sep:
        return None
    # An egg-info directory may carry a "-pyX.Y" suffix after the version.
    if entry.suffix == ".egg-info" and "-" in name and version.startswith("py"):
        name, _, version = name.rpartition("-")
    return canonicalize_name(name), version


def _scan(site_dir: Path) -> Iterator[InstalledDist]:
    if not site_dir.is_dir():
        return
    for entry in sorted(site_dir.iterdir()):
        if entry.suffix not in (".dist-info", ".egg-info"):
            continue
        parsed = _parse_dir_name(entry)
        if parsed is not None:
            yield InstalledDist(parsed[0], parsed[1], entry)


def find_installed(site_dirs: Iterable[Path]) -> dict[NormalizedName, list[InstalledDist]]:
    """Every distribution in the given site directories, by normalized name."""
    found: dict[NormalizedName, list[InstalledDist]] = {}
    for site_dir in site_dirs:
        for dist in _scan(site_dir):
            found.setdefault(dist.name, []).append(dist)
    return found


@dataclass(frozen=True, slots=True)
class OwnDependency:
    """A distribution the running safe-pip imports: what it needs of it, and where it is."""

    name: NormalizedName
    version: str
    specifier: SpecifierSet
    """Every requirement safe-pip's dependency tree places on it, combined."""
    required_by: tuple[str, ...]
    site_dir: Path
    """The directory the running safe-pip imports it from (real path)."""

    def needs(self) -> str:
        """``rich>=13.7 (required by safe-pip)``."""
        return f"{self.name}{self.specifier} (required by {', '.join(self.required_by)})"


def own_dependencies() -> dict[NormalizedName, OwnDependency]:
    """safe-pip's requirements and theirs, as installed where the running safe-pip finds
    them. Empty when safe-pip runs from a source tree without being installed."""
    # Imported here: most commands never ask, and an install already satisfied should not pay.
    from importlib import metadata

    try:
        root = metadata.distribution(_OWN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return {}
    wanted: dict[NormalizedName, list[tuple[SpecifierSet, str]]] = {}
    found: dict[NormalizedName, metadata.Distribution] = {}
    pending = [(_OWN_DISTRIBUTION, root)]
    while pending:
        parent, dist = pending.pop()
        for requirement in _runtime_requirements(dist):
            name = canonicalize_name(requirement.name)
            wanted.setdefault(name, []).append((requirement.specifier, parent))
            if name in found or name == _OWN_DISTRIBUTION:
                continue
            try:
                found[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
            pending.append((name, found[name]))
    return {
        name: OwnDependency(
            name,
            dist.version,
            _combined(spec for spec, _ in wanted[name]),
            tuple(sorted({parent for _, parent in wanted[name]})),
            Path(os.path.realpath(str(dist.locate_file("")))),
        )
        for name, dist in found.items()
    }


def _runtime_requirements(dist: metadata.Distribution) -> Iterator[Requirement]:
    """The requirements that apply here, without extras (safe-pip asks for none)."""
    for text in dist.requires or ():
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            yield requirement


def _combined(specifiers: Iterable[SpecifierSet]) -> SpecifierSet:
    combined = SpecifierSet()
    for specifier in specifiers:
        combined &= specifier
    return combined


def _own_sys_path() -> list[str]:
    return [os.path.realpath(entry) for entry in sys.path if entry]


def _reaches(site_dir: Path, dependency: OwnDependency, own_path: list[str]) -> bool:
    """Whether a project written into ``site_dir`` is what safe-pip would import next time:
    the very directory, or one before it on safe-pip's own path (it would shadow it)."""
    real = os.path.realpath(site_dir)
    if real == str(dependency.site_dir):
        return True
    if real not in own_path or str(dependency.site_dir) not in own_path:
        return False
    return own_path.index(real) < own_path.index(str(dependency.site_dir))


def check_install_keeps_safe_pip(
    versions: Mapping[NormalizedName, Version], site_dirs: Iterable[Path]
) -> None:
    """Refuse an install that would leave safe-pip unable to run: a version of one of its
    own dependencies it cannot run on, written where the running safe-pip imports it from.

    :param versions: every project the install writes, with its version.
    :param site_dirs: where the install writes them (real paths, ``--root`` applied).
    :raises UsageError: which dependency, what safe-pip needs, what to do instead.
    """
    own_path = _own_sys_path()
    directories = [d for d in site_dirs if os.path.realpath(d) in own_path]
    if not directories:
        return  # nothing safe-pip imports from is written (the usual case: another venv)
    own = own_dependencies()
    for name, version in sorted(versions.items()):
        dependency = own.get(name)
        if dependency is None or dependency.specifier.contains(version, prereleases=True):
            continue
        reached = next((d for d in directories if _reaches(d, dependency, own_path)), None)
        if reached is None:
            continue
        msg = (
            f"safe-pip will not install {name} {version} into {reached}: safe-pip runs from "
            f"there and needs {dependency.needs()}, so it could no longer run. Ask for a "
            f"version that matches {name}{dependency.specifier}, or: {_INSTEAD}"
        )
        raise UsageError(msg)


def check_uninstall_keeps_safe_pip(names: Iterable[str], sys_path: Iterable[str]) -> None:
    """Refuse an uninstall that would remove one of safe-pip's own dependencies from where
    the running safe-pip imports it (pip removes the first copy on the target's path).

    :raises UsageError: which dependency, and what to do instead.
    """
    own = own_dependencies()
    directories = [Path(entry) for entry in sys_path if entry]
    for name in sorted({canonicalize_name(n) for n in names}):
        dependency = own.get(name)
        if dependency is None:
            continue
        first = next((d for d in directories if name in find_installed([d])), None)
        if first is None or os.path.realpath(first) != str(dependency.site_dir):
            continue
        msg = (
            f"safe-pip will not uninstall {name} from {first}: safe-pip runs from there and "
            f"needs {dependency.needs()}, so it could no longer run. {_INSTEAD}"
        )
        raise UsageError(msg)
