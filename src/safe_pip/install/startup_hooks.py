"""Startup hooks among the placed files: code that would run whenever Python starts.

A file is one when it is a ``.pth`` file with an ``import`` line in a site directory, a
``.start`` file there (Python 3.15+, PEP 829: its entry points run at every start),
``sitecustomize``/``usercustomize`` on the import path, or a ``.data/data`` file that lands
on the import path. A ``.pth`` file is no new hook when it is byte-identical to the one the
version being replaced installed (its RECORD lists it), or is a well-known hook recognised
by its exact bytes (:func:`~safe_pip.install.inspection.known_hook`) with no module where a
namespace hook looks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.install.inspection import WheelEntry, describe
from safe_pip.install.locations import final_path, same_content, within

if TYPE_CHECKING:
    from safe_pip.install.layout import PlacedWheel
    from safe_pip.models import PlannedDist
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["HookDirs", "StartupHooks", "hooks_refusal"]

logger = logging.getLogger(__name__)

_CUSTOMIZE = frozenset({"sitecustomize", "usercustomize"})


@dataclass(frozen=True, slots=True)
class HookDirs:
    """Where a file becomes a startup hook."""

    site: frozenset[Path]
    """Directories whose ``.pth`` files ``site`` processes."""
    imports: tuple[Path, ...]
    """Directories on the import path (site directories, the standard library), deepest
    first, so a file is judged by the directory it is really imported from."""
    data: Path
    """Where ``.data/data`` goes: above the import path, except with ``--target``."""

    @classmethod
    def of(cls, target: TargetEnvironment, scheme: Scheme) -> HookDirs:
        site = {final_path(scheme, scheme.paths[key], "") for key in ("purelib", "platlib")}
        site.update(scheme.real(directory) for directory in scheme.site_dirs)
        stdlib = {
            final_path(scheme, target.paths[key], "")
            for key in ("stdlib", "platstdlib")
            if target.paths.get(key)
        }
        imports = sorted(site | stdlib, key=lambda path: len(path.parts), reverse=True)
        return cls(frozenset(site), tuple(imports), final_path(scheme, scheme.paths["data"], ""))

    def runs_pth(self, entry: WheelEntry, path: Path) -> bool:
        """Whether ``site`` runs a line of this file at every interpreter start."""
        return entry.runs_code and path.parent in self.site

    def reasons(self, entry: WheelEntry, path: Path, *, accepted_pth: bool) -> Iterator[str]:
        """Why a file at ``path`` would run code whenever the interpreter starts.

        :param accepted_pth: it is a ``.pth`` file whose code is not new (see
            :meth:`StartupHooks.accepted_pth`).
        """
        if self.runs_pth(entry, path) and not accepted_pth:
            yield f"{path}: a .pth file with an import line, run at every interpreter start"
        if path.name.lower().endswith(".start") and path.parent in self.site:
            yield f"{path}: a .start file, whose entry points run at every interpreter start"
        for directory in self.imports:
            if not within(path, directory):
                continue
            top = str(path)[len(str(directory)) :].lstrip(os.sep).split(os.sep, 1)[0]
            if top.split(".", 1)[0] in _CUSTOMIZE:
                yield f"{path}: imported by site at every interpreter start"
            if entry.scheme == "data" and directory != self.data:
                yield f"{path}: written onto the import path through .data/data"
            return


class StartupHooks:
    """Finds the startup hooks of placed wheels, once every wheel of the plan is placed."""

    def __init__(self, dirs: HookDirs, written: Mapping[Path, PlannedDist]) -> None:
        self._dirs = dirs
        self._written = written
        """Every file the plan writes: a namespace hook is judged by them too."""

    def of(self, placed: PlacedWheel, replaced: Collection[Path]) -> list[str]:
        """The startup hooks of a placed wheel.

        :param replaced: the files of the versions it replaces.
        """
        hooks: list[str] = []
        for entry, path in zip(placed.info.entries, placed.files, strict=True):
            accepted = self._dirs.runs_pth(entry, path) and self.accepted_pth(
                placed, entry, path, replaced
            )
            hooks.extend(self._dirs.reasons(entry, path, accepted_pth=accepted))
        return hooks

    def accepted_pth(
        self, placed: PlacedWheel, entry: WheelEntry, path: Path, replaced: Collection[Path]
    ) -> bool:
        """A ``.pth`` file with code that is nothing new: byte-identical to the one the
        version being replaced installed (its RECORD lists it), or a well-known hook
        recognised by its exact bytes (:func:`~safe_pip.install.inspection.known_hook`)."""
        if path in replaced and same_content(placed.wheel, entry.member, path):
            logger.info("%s: %s is unchanged from the installed version", placed.dist.name, path)
            return True
        if entry.known_hook is None:
            return False
        if path.name.endswith("-nspkg.pth") and self._module_in_the_way(
            placed.info.namespaces, path.parent
        ):
            return False
        logger.info("%s: %s is %s", placed.dist.name, path, entry.known_hook)
        return True

    def _module_in_the_way(self, namespaces: Sequence[str], site: Path) -> bool:
        """Whether the namespace hook would find a module rather than the namespace
        directory, on disk or written by the plan: ``PathFinder`` prefers any module or
        package ``__init__`` there, which ``module_from_spec`` loads without running (an
        extension module's native code runs) and puts in place of the real one."""
        for package in namespaces:
            *parents, tail = package.split(".")
            directory = site.joinpath(*parents)
            places = ((directory, f"{tail}."), (directory / tail, "__init__."))
            if any(_starting(folder, prefix) for folder, prefix in places):
                return True
            if any(
                path.parent == folder and path.name.startswith(prefix)
                for path in self._written
                for folder, prefix in places
            ):
                return True
        return False


def _starting(directory: Path, prefix: str) -> bool:
    """Whether ``directory`` holds anything whose name starts with ``prefix``."""
    if not directory.is_dir():
        return False
    return any(entry.name.startswith(prefix) for entry in directory.iterdir())


def hooks_refusal(
    hooks: Sequence[tuple[PlannedDist, list[str]]],
) -> tuple[str, Sequence[str], str]:
    """One section, and one flag, for every project whose startup hooks were refused."""
    names = ",".join(dist.name for dist, _ in hooks)
    if len(hooks) == 1:
        ((dist, reasons),) = hooks
        heading, verb, listed = describe(dist), "installs", reasons
    else:
        described = [describe(dist) for dist, _ in hooks]
        heading = ", ".join(described[:-1]) + " and " + described[-1]
        verb = "install"
        listed = [f"{dist.name}: {reason}" for dist, reasons in hooks for reason in reasons]
    return (
        f"{heading} {verb} startup hooks, code that runs whenever Python starts in this "
        f"environment",
        listed,
        f"If you trust {'it' if len(hooks) == 1 else 'them'} with that, allow it with "
        f"--allow-startup-hooks {names} (or the allow-startup-hooks setting).",
    )
