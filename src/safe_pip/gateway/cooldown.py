"""The file policy that carries the cooldown, and the cooldown in words: how old a release
is, what held it back, and how to take it.

The gateway drops the files the policy withholds (:mod:`safe_pip.gateway.selection`);
these say so, for the resolver's refusal and for the plan's notes. The policy is here, not
beside the selection: the settings build it for every install, and one already satisfied
never starts the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from safe_pip.models import DropReason, IndexFile, NameSet, ServedProject

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from safe_pip.gateway.selection import Compatibility
    from safe_pip.models import Exemption

__all__ = ["FilePolicy", "ago", "cooldown_name", "cooldown_refusal", "take_it", "too_new"]


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """Which files of a project pip may see."""

    allow_sdist: NameSet = field(default_factory=NameSet)
    cutoff: datetime | None = None
    """Files uploaded after this moment are withheld (the cooldown, ``--min-release-age``)."""
    min_release_age: float | None = None
    """The cooldown in days that set ``cutoff``, for messages."""
    exemptions: tuple[Exemption, ...] = ()
    """Releases let through the cooldown however young (``safe-pip trust allow-new``)."""
    expired: tuple[Exemption, ...] = ()
    """Exemptions past their last day: not applied, and said so."""
    compatibility: Compatibility | None = None
    """The target's tags; ``None`` when pip resolves for another platform."""


def ago(moment: datetime | None, now: datetime) -> str:
    """``uploaded 3 h ago`` in words: minutes, hours or days."""
    if moment is None:
        return "upload time unknown"
    seconds = max((now - moment).total_seconds(), 0.0)
    if seconds < 3600:
        return f"uploaded {seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"uploaded {seconds / 3600:.0f} h ago"
    return f"uploaded {seconds / 86400:.0f} days ago"


def cooldown_name(policy: FilePolicy) -> str:
    """``the 7-day cooldown``, or the option that set the cut-off."""
    if policy.min_release_age:
        return f"the {policy.min_release_age:g}-day cooldown"
    return "the --uploaded-prior-to cut-off"


def take_it(name: NormalizedName, version: Version) -> str:
    return (
        f"to take it now: --trust {name}=={version}, or safe-pip trust allow-new "
        f'{name}=={version} --reason "why" [--until YYYY-MM-DD] (--min-release-age 0 turns '
        f"the cooldown off for everything)"
    )


def too_new(served: ServedProject) -> list[IndexFile]:
    return [d.file for d in served.dropped if d.reason is DropReason.TOO_NEW]


def cooldown_refusal(projects: Iterable[ServedProject], policy: FilePolicy, now: datetime) -> str:
    """Why a requirement only a too-young release meets was refused, and the flags."""
    lines = []
    for served in projects:
        young = sorted(too_new(served), key=lambda f: f.version, reverse=True)
        shown = ", ".join(
            dict.fromkeys(f"{f.version} ({ago(f.upload_time, now)})" for f in young[:8])
        )
        newest = young[0].version
        lines.append(
            f"  - {served.page.name}: {shown} held back by {cooldown_name(policy)}; "
            f"{take_it(served.page.name, newest)}"
        )
    return (
        "These requirements can only be met by releases younger than "
        f"{cooldown_name(policy)} allows (nothing was installed):\n" + "\n".join(lines) + "\n"
        "New releases of trusted projects are how hijacked accounts strike; most are found "
        "and removed within days."
    )
