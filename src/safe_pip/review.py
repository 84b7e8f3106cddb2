"""Review: the resolved plan against policy, before anything is fetched or installed.

Every finding is collected first; the caller decides (and the CLI asks the user when it
may). Nothing here prints or prompts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import NormalizedName

from safe_pip.models import Plan, PlannedDist

__all__ = ["Finding", "Severity", "review"]


class Severity(enum.Enum):
    """How much a finding matters."""

    NOTE = "note"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the user should know about one planned distribution."""

    project: NormalizedName
    severity: Severity
    message: str


def _yanked(dist: PlannedDist) -> Finding | None:
    if not dist.yanked:
        return None
    reason = dist.file.yanked if dist.file is not None and dist.file.yanked else "no reason given"
    return Finding(
        dist.name,
        Severity.WARNING,
        f"{dist.label} is yanked by its publisher ({reason}); it is installed only because "
        f"it was pinned exactly.",
    )


def review(plan: Plan) -> Sequence[Finding]:
    """All findings for the plan, in plan order."""
    checks = (_yanked,)
    return [finding for dist in plan for check in checks if (finding := check(dist))]
