"""Placement: where every file of the plan will land, checked before anything is written.

The final path of each file an inspected wheel writes (archive members through their
scheme, console scripts, RECORD) is computed as pypa/installer computes it, with ``--root``
applied. The plan is refused (:class:`~safe_pip.errors.UnsafeWheel`, exit 3) when a file:

- leaves its scheme directory, as written or through a symbolic link already on disk
  (containment is by path components, so ``site-packages-evil`` is not in ``site-packages``);
- would overwrite a file of another installed project, a file no project owns, or a file
  another wheel of the plan writes;
- is a startup hook of a project not allowed them: a ``.pth`` file with an ``import`` line,
  ``sitecustomize``/``usercustomize``, or a ``.data/data`` file that lands on the import path.

Which installed versions the plan replaces is decided here as well, so the install stage
sets aside exactly the versions whose files the ownership check left out.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from safe_pip.errors import InstallError
from safe_pip.inspection import WheelEntry, WheelInfo, describe, refusal
from safe_pip.installed import InstalledDist, find_installed
from safe_pip.models import NameSet, PlannedDist
from safe_pip.review import Finding, Severity
from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["Layout", "PlacedWheel", "RealPaths", "contained", "final_path", "lay_out", "within"]

logger = logging.getLogger(__name__)

_CUSTOMIZE = frozenset({"sitecustomize", "usercustomize"})


@dataclass(frozen=True, slots=True)
class PlacedWheel:
    """One wheel of the plan and the final path of every file it writes."""

    dist: PlannedDist
    wheel: Path
    info: WheelInfo
    files: tuple[Path, ...]
    """Where each of ``info.entries`` lands, in the same order."""
    replaces: tuple[InstalledDist, ...] = ()
    shared: frozenset[Path] = frozenset()
    """Files another installed project owns with byte-identical content (a legacy namespace
    package's ``__init__.py``): left in place, and listed in this project's RECORD too."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The checked placement of a whole plan."""

    wheels: tuple[PlacedWheel, ...]
    skipped: tuple[PlannedDist, ...] = ()
    """``--target`` without ``--upgrade``: already present, left alone (as pip does)."""
    kept: frozenset[Path] = frozenset()
    """Files of installed projects the plan does not replace: never removed."""
    findings: tuple[Finding, ...] = ()
    """Startup hooks that were allowed, for the user to see."""


class RealPaths:
    """``os.path.realpath`` of directories, remembered for one stage: thousands of files
    share a few hundred directories. Nothing a wheel writes is a link (inspection refuses
    them), so a directory's answer cannot change while the stage runs."""

    def __init__(self) -> None:
        self._known: dict[Path, Path] = {}

    def __call__(self, directory: Path) -> Path:
        real = self._known.get(directory)
        if real is None:
            real = self._known[directory] = Path(os.path.realpath(directory))
        return real


def within(path: Path, root: Path) -> bool:
    """``path.is_relative_to(root)`` for absolute paths, compared as strings: pathlib's
    comparison cost seconds on installs of many thousand files."""
    text, prefix = str(path), str(root)
    return text == prefix or text.startswith(prefix if prefix.endswith(os.sep) else prefix + os.sep)


def contained(path: Path, root: Path, realpath: RealPaths | None = None) -> bool:
    """Whether ``path`` stays inside ``root``: by path components, and again after following
    the symbolic links already on disk (the file itself need not exist)."""
    if not within(path, root):
        return False
    real = realpath or RealPaths()
    return within(real(path.parent), real(root))


def final_path(scheme: Scheme, directory: str, relative: str) -> Path:
    """Where pypa/installer writes ``relative`` of a scheme directory (``--root`` applied)."""
    # abspath, not resolve(): installer normalizes without following links, and
    # contained() judges the links separately.
    return scheme.real(os.path.abspath(os.path.join(directory, relative)))  # noqa: PTH100, PTH118


@dataclass(frozen=True, slots=True)
class _HookDirs:
    """Where a file becomes a startup hook."""

    site: frozenset[Path]
    """Directories whose ``.pth`` files ``site`` processes."""
    imports: tuple[Path, ...]
    """Directories on the import path (site directories, the standard library), deepest
    first, so a file is judged by the directory it is really imported from."""
    data: Path
    """Where ``.data/data`` goes: above the import path, except with ``--target``."""

    @classmethod
    def of(cls, target: TargetEnvironment, scheme: Scheme) -> _HookDirs:
        site = {final_path(scheme, scheme.paths[key], "") for key in ("purelib", "platlib")}
        site.update(scheme.real(directory) for directory in scheme.site_dirs)
        stdlib = {
            final_path(scheme, target.paths[key], "")
            for key in ("stdlib", "platstdlib")
            if target.paths.get(key)
        }
        imports = sorted(site | stdlib, key=lambda path: len(path.parts), reverse=True)
        return cls(frozenset(site), tuple(imports), final_path(scheme, scheme.paths["data"], ""))

    def reasons(self, entry: WheelEntry, path: Path) -> Iterator[str]:
        """Why a file at ``path`` would run code whenever the interpreter starts."""
        if entry.runs_code and path.parent in self.site:
            yield f"{path}: a .pth file with an import line, run at every interpreter start"
        for directory in self.imports:
            if not within(path, directory):
                continue
            top = str(path)[len(str(directory)) :].lstrip(os.sep).split(os.sep, 1)[0]
            if top.split(".", 1)[0] in _CUSTOMIZE:
                yield f"{path}: imported by site at every interpreter start"
            if entry.scheme == "data" and directory != self.data:
                yield f"{path}: written onto the import path through .data/data"
            return


def _owners(dists: Iterable[InstalledDist]) -> dict[Path, InstalledDist]:
    owners: dict[Path, InstalledDist] = {}
    for dist in dists:
        if not dist.has_record:
            continue
        try:
            files = dist.recorded_files()
        except ValueError as exc:
            logger.warning("ownership of %s's files is unknown: %s", dist.name, exc)
            continue
        for path in files:
            owners.setdefault(path, dist)
    return owners


def _replaced_files(replaces: Sequence[InstalledDist]) -> set[Path]:
    files: set[Path] = set()
    for old in replaces:
        try:
            files.update(old.recorded_files())
        except ValueError as exc:
            msg = (
                f"Cannot replace {old.name} {old.version}: {exc} (a legacy tool installs no "
                f"RECORD), so its files are unknown. Remove it with the tool that installed "
                f"it first."
            )
            raise InstallError(msg) from exc
    return files


def _same_content(wheel: Path, member: str | None, path: Path) -> bool:
    if member is None or path.is_symlink() or not path.is_file():
        return False
    with zipfile.ZipFile(wheel) as archive:
        theirs = hashlib.sha256(archive.read(member)).digest()
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest() == theirs


class _Placer:
    """Checks each wheel's files against the scheme, the installed projects and each other."""

    def __init__(
        self,
        target: TargetEnvironment,
        scheme: Scheme,
        owners: dict[Path, InstalledDist],
    ) -> None:
        self.target = target
        self.scheme = scheme
        self.owners = owners
        self.hook_dirs = _HookDirs.of(target, scheme)
        self.written: dict[Path, PlannedDist] = {}
        self.realpath = RealPaths()

    def place(
        self, dist: PlannedDist, wheel: Path, info: WheelInfo, replaces: Sequence[InstalledDist]
    ) -> tuple[PlacedWheel, list[str], list[str]]:
        """The placed wheel, its problems, and its startup hooks."""
        paths = self.scheme.install_paths(dist.name, self.target)
        files = tuple(final_path(self.scheme, paths[e.scheme], e.path) for e in info.entries)
        roots = {key: final_path(self.scheme, directory, "") for key, directory in paths.items()}
        replaced = _replaced_files(replaces)
        problems: list[str] = []
        hooks: list[str] = []
        shared: set[Path] = set()
        for entry, path in zip(info.entries, files, strict=True):
            shown = entry.member or f"{entry.scheme}/{entry.path}"
            problem = self._problem(dist, wheel, entry, path, roots[entry.scheme], replaced)
            if problem is not None:
                problems.append(f"{shown}: {problem}")
            elif path in self.owners:
                shared.add(path)
            hooks.extend(self.hook_dirs.reasons(entry, path))
            self.written.setdefault(path, dist)
        placed = PlacedWheel(dist, wheel, info, files, tuple(replaces), frozenset(shared))
        return placed, problems, hooks

    def _problem(
        self,
        dist: PlannedDist,
        wheel: Path,
        entry: WheelEntry,
        path: Path,
        root: Path,
        replaced: set[Path],
    ) -> str | None:
        if not contained(path, root, self.realpath):
            return f"would be written to {path}, outside {root}"
        other = self.written.get(path)
        if other is not None:
            same = "elsewhere in this wheel" if other is dist else f"by {other.label}"
            return f"{path} is also written {same}"
        owner = self.owners.get(path)
        if owner is not None:
            if _same_content(wheel, entry.member, path):
                return None
            return f"would overwrite {path}, a file of the installed project {owner.name}"
        if (path.exists() or path.is_symlink()) and path not in replaced:
            return f"would overwrite {path}, which no installed project owns"
        return None


def _refusals(
    problems: dict[NormalizedName, tuple[PlannedDist, list[str]]],
    hooks: dict[NormalizedName, tuple[PlannedDist, list[str]]],
) -> list[tuple[str, Sequence[str], str]]:
    sections: list[tuple[str, Sequence[str], str]] = []
    for dist, reasons in problems.values():
        sections.append(
            (
                f"{describe(dist)} would not stay in its place",
                reasons,
                "Uninstall or remove what is in the way if this project is meant to replace "
                "it; otherwise report the conflict to the project.",
            )
        )
    for dist, reasons in hooks.values():
        sections.append(
            (
                f"{describe(dist)} installs startup hooks, code that runs whenever Python "
                f"starts in this environment",
                reasons,
                f"If you trust {dist.name} with that, allow it with --allow-startup-hooks "
                f"{dist.name} (or the allow-startup-hooks setting).",
            )
        )
    return sections


def lay_out(
    inspected: Sequence[tuple[PlannedDist, Path, WheelInfo]],
    target: TargetEnvironment,
    scheme: Scheme,
    *,
    upgrade: bool = False,
    allow_startup_hooks: NameSet | None = None,
) -> Layout:
    """Decide what each wheel replaces and where each of its files lands, before writing.

    :param upgrade: with ``--target``, replace projects already in the directory.
    :param allow_startup_hooks: projects whose startup hooks are installed (and reported).
    :raises UnsafeWheel: a file would leave its scheme, overwrite what is not being
        replaced, or be a startup hook that was not allowed; every such file is listed.
    :raises InstallError: a version to be replaced has no readable RECORD.
    """
    allowed = allow_startup_hooks or NameSet()
    installed = find_installed(scheme.real(d) for d in scheme.site_dirs)
    keep_existing = scheme.is_target_dir and not upgrade
    skipped = [d for d, _, _ in inspected if keep_existing and installed.get(d.name)]
    placing = [item for item in inspected if item[0].name not in {d.name for d in skipped}]
    replaced_names = {dist.name for dist, _, _ in placing}
    staying = [d for name, ds in installed.items() if name not in replaced_names for d in ds]
    placer = _Placer(target, scheme, _owners(staying))
    placed: list[PlacedWheel] = []
    problems: dict[NormalizedName, tuple[PlannedDist, list[str]]] = {}
    refused_hooks: dict[NormalizedName, tuple[PlannedDist, list[str]]] = {}
    findings: list[Finding] = []
    for dist, wheel, info in placing:
        wheel_placed, wheel_problems, wheel_hooks = placer.place(
            dist, wheel, info, installed.get(dist.name, [])
        )
        placed.append(wheel_placed)
        if wheel_problems:
            problems[dist.name] = (dist, wheel_problems)
        if wheel_hooks and dist.name not in allowed:
            refused_hooks[dist.name] = (dist, wheel_hooks)
        findings.extend(
            Finding(dist.name, Severity.WARNING, f"{dist.label} installs a startup hook: {hook}")
            for hook in (wheel_hooks if dist.name in allowed else ())
        )
    if problems or refused_hooks:
        raise refusal(_refusals(problems, refused_hooks))
    return Layout(tuple(placed), tuple(skipped), frozenset(placer.owners), tuple(findings))
