"""The checked placement of a plan, as :mod:`~safe_pip.install.placement` decides it and the
install stage writes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.install.inspection import WheelInfo
    from safe_pip.install.installed import InstalledDist
    from safe_pip.models import Finding, PlannedDist

__all__ = ["Layout", "PlacedWheel"]


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
