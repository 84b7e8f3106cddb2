"""Placement: where every file of the plan will land, checked before anything is written.

The final path of each file an inspected wheel writes (archive members through their
scheme, console scripts, RECORD) is computed as pypa/installer computes it, with ``--root``
applied. The plan is refused (:class:`~safe_pip.errors.UnsafeWheel`, exit 3) when a file:

- leaves its scheme directory, as written or through a symbolic link already on disk
  (containment is by path components, so ``site-packages-evil`` is not in ``site-packages``);
- would overwrite a file of another installed project, a file no project owns, or a file
  another wheel of the plan writes;
- is a startup hook of a project not allowed them: a ``.pth`` file with an ``import`` line
  (as any supported Python's ``site`` splits it), a ``.start`` file (Python 3.15+, PEP 829:
  its entry points run at every start), ``sitecustomize``/``usercustomize``, or a
  ``.data/data`` file that lands on the import path. A ``.pth`` file is no new hook when it
  is byte-identical to the one the version being replaced installed (its RECORD lists it),
  or is a well-known hook recognised by its exact bytes
  (:func:`~safe_pip.install.inspection.known_hook`: setuptools' ``distutils-precedence.pth``, a
  legacy namespace package's ``-nspkg.pth`` with no module where it looks); see
  :mod:`~safe_pip.install.startup_hooks`.

Every project refused for its hooks is named in one message, with one flag for them all;
:func:`check_startup_hooks` gives that refusal before the plan is fully inspected.

Every path placed here is the whole of what the install stage may write for the wheel: its
destination refuses anything else, so a reading of the wheel that differs from this one
fails closed.

Which installed versions the plan replaces is decided here as well, so the install stage
sets aside exactly the versions whose files the ownership check left out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.errors import InstallError
from safe_pip.install.inspection import WheelEntry, WheelInfo, describe, peek_wheel, refusal
from safe_pip.install.installed import InstalledDist, find_installed
from safe_pip.install.known_hooks import may_install_hooks
from safe_pip.install.layout import Layout, PlacedWheel
from safe_pip.install.locations import RealPaths, contained, final_path, same_content
from safe_pip.install.startup_hooks import HookDirs, StartupHooks, hooks_refusal
from safe_pip.models import Finding, NameSet, PlannedDist, Severity

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.target import Scheme, TargetEnvironment

__all__ = [
    "Layout",
    "PlacedWheel",
    "check_startup_hooks",
    "contained",
    "lay_out",
]

logger = logging.getLogger(__name__)


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


class _Placer:
    """Checks each wheel's files against the scheme, the installed projects and each other."""

    def __init__(
        self,
        target: TargetEnvironment,
        scheme: Scheme,
        staying: Sequence[InstalledDist],
        installed: Mapping[NormalizedName, Sequence[InstalledDist]],
    ) -> None:
        self.target = target
        self.scheme = scheme
        self._staying = staying
        self._installed = installed
        self._replaced: dict[NormalizedName, set[Path]] = {}
        self.written: dict[Path, PlannedDist] = {}
        self.startup_hooks = StartupHooks(HookDirs.of(target, scheme), self.written)
        self.realpath = RealPaths()

    @cached_property
    def owners(self) -> dict[Path, InstalledDist]:
        """Who owns each file of the projects that stay: read from every RECORD, and only
        when a check needs it (:func:`check_startup_hooks` never does)."""
        return _owners(self._staying)

    def installed(self, dist: PlannedDist) -> Sequence[InstalledDist]:
        """The installed versions of a planned project, which it replaces."""
        return self._installed.get(dist.name, [])

    def replaced_files(self, placed: PlannedDist, replaces: Sequence[InstalledDist]) -> set[Path]:
        """The files of the versions a planned project replaces, their RECORDs read once
        for both :meth:`place` and :meth:`hooks`."""
        if placed.name not in self._replaced:
            self._replaced[placed.name] = _replaced_files(replaces)
        return self._replaced[placed.name]

    def _landing(
        self, dist: PlannedDist, info: WheelInfo
    ) -> tuple[dict[str, str], tuple[Path, ...]]:
        """A planned project's scheme directories, and where each file of its wheel lands."""
        paths = self.scheme.install_paths(dist.name, self.target)
        return paths, tuple(final_path(self.scheme, paths[e.scheme], e.path) for e in info.entries)

    def locate(
        self, dist: PlannedDist, wheel: Path, info: WheelInfo, replaces: Sequence[InstalledDist]
    ) -> PlacedWheel:
        """Where each file of a wheel lands, nothing checked."""
        _paths, files = self._landing(dist, info)
        for path in files:
            self.written.setdefault(path, dist)
        return PlacedWheel(dist, wheel, info, files, tuple(replaces))

    def place(
        self, dist: PlannedDist, wheel: Path, info: WheelInfo, replaces: Sequence[InstalledDist]
    ) -> tuple[PlacedWheel, list[str]]:
        """The placed wheel and its problems."""
        paths, files = self._landing(dist, info)
        roots = {key: final_path(self.scheme, directory, "") for key, directory in paths.items()}
        replaced = self.replaced_files(dist, replaces)
        problems: list[str] = []
        shared: set[Path] = set()
        for entry, path in zip(info.entries, files, strict=True):
            shown = entry.member or f"{entry.scheme}/{entry.path}"
            problem = self._problem(dist, wheel, entry, path, roots[entry.scheme], replaced)
            if problem is not None:
                problems.append(f"{shown}: {problem}")
            elif path in self.owners:
                shared.add(path)
            self.written.setdefault(path, dist)
        placed = PlacedWheel(dist, wheel, info, files, tuple(replaces), frozenset(shared))
        return placed, problems

    def hooks(self, placed: PlacedWheel) -> list[str]:
        """The startup hooks of a placed wheel, once every wheel of the plan is placed."""
        return self.startup_hooks.of(placed, self.replaced_files(placed.dist, placed.replaces))

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
            if same_content(wheel, entry.member, path):
                return None
            return f"would overwrite {path}, a file of the installed project {owner.name}"
        if path not in replaced and os.path.lexists(path):
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
    if hooks:
        sections.append(hooks_refusal(list(hooks.values())))
    return sections


def _placer(
    inspected: Sequence[tuple[PlannedDist, Path, WheelInfo]],
    target: TargetEnvironment,
    scheme: Scheme,
    *,
    upgrade: bool,
) -> tuple[_Placer, list[tuple[PlannedDist, Path, WheelInfo]], list[PlannedDist]]:
    """A placer for the plan, the wheels it places, and those ``--target`` leaves alone."""
    installed = find_installed(scheme.real(d) for d in scheme.site_dirs)
    keep_existing = scheme.is_target_dir and not upgrade
    skipped = [d for d, _, _ in inspected if keep_existing and installed.get(d.name)]
    placing = [item for item in inspected if item[0].name not in {d.name for d in skipped}]
    replaced_names = {dist.name for dist, _, _ in placing}
    staying = [d for name, ds in installed.items() if name not in replaced_names for d in ds]
    return _Placer(target, scheme, staying, installed), placing, skipped


def check_startup_hooks(
    wheels: Sequence[tuple[PlannedDist, Path]],
    target: TargetEnvironment,
    scheme: Scheme,
    *,
    upgrade: bool = False,
    allow_startup_hooks: NameSet | None = None,
) -> None:
    """Refuse early, naming every such project at once, a plan whose wheels install
    startup hooks that were not allowed: before the whole plan is inspected, which takes
    seconds for a large one.

    Judged as :func:`lay_out` judges them, from what :func:`~safe_pip.install.inspection.peek_wheel`
    reads: only ever a refusal that :func:`lay_out` would give too (or inspection, for a
    malformed wheel); :func:`lay_out` still decides on the inspected wheels.

    :raises UnsafeWheel: listing the hooks.
    """
    allowed = allow_startup_hooks or NameSet()
    peeked = []
    for dist, wheel in wheels:
        if not may_install_hooks(wheel):
            continue
        info = peek_wheel(
            dist, wheel, script_kind=target.script_kind, python_version=target.version[:2]
        )
        if info is not None:
            peeked.append((dist, wheel, info))
    if not peeked:
        return  # the common case: no wheel has a file that could be a hook
    placer, placing, _skipped = _placer(peeked, target, scheme, upgrade=upgrade)
    located = [placer.locate(d, wheel, info, placer.installed(d)) for d, wheel, info in placing]
    refused = []
    for placed in located:
        hooks = placer.hooks(placed) if placed.dist.name not in allowed else []
        if hooks:
            refused.append((placed.dist, hooks))
    if refused:
        raise refusal([hooks_refusal(refused)])


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
    placer, placing, skipped = _placer(inspected, target, scheme, upgrade=upgrade)
    placed: list[PlacedWheel] = []
    problems: dict[NormalizedName, tuple[PlannedDist, list[str]]] = {}
    refused_hooks: dict[NormalizedName, tuple[PlannedDist, list[str]]] = {}
    findings: list[Finding] = []
    for dist, wheel, info in placing:
        wheel_placed, wheel_problems = placer.place(dist, wheel, info, placer.installed(dist))
        placed.append(wheel_placed)
        if wheel_problems:
            problems[dist.name] = (dist, wheel_problems)
    for wheel_placed in placed:
        dist, wheel_hooks = wheel_placed.dist, placer.hooks(wheel_placed)
        if wheel_hooks and dist.name not in allowed:
            refused_hooks[dist.name] = (dist, wheel_hooks)
        findings.extend(
            Finding(dist.name, Severity.WARNING, f"{dist.label} installs a startup hook: {hook}")
            for hook in (wheel_hooks if dist.name in allowed else ())
        )
    if problems or refused_hooks:
        raise refusal(_refusals(problems, refused_hooks))
    return Layout(tuple(placed), tuple(skipped), frozenset(placer.owners), tuple(findings))
