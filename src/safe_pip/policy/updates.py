"""Updates are security events (DESIGN invariant 9): what the cooldown held back, the
exemptions that let a young release through, and releases and files that changed after
they were installed. What an update's wheel changes is :mod:`safe_pip.policy.update_review`.

Pure functions over the plan, the gateway's answers and the trust store as read once: the
most damaging real attacks are new releases of projects people already trust (a stolen
token, a phished maintainer), taken by ``pip install -U`` within hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from safe_pip.errors import HashMismatch
from safe_pip.gateway.cooldown import FilePolicy, ago, cooldown_name, take_it, too_new
from safe_pip.gateway.selection import exempted
from safe_pip.models import (
    Exemption,
    Finding,
    IndexFile,
    Plan,
    PlannedDist,
    ServedProject,
    Severity,
)

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from safe_pip.policy.trust import TrustedProject

__all__ = [
    "Replaced",
    "check_remembered",
    "cooldown_notes",
    "exemptions_used",
    "remembered_mismatches",
    "replaced_message",
    "replaced_releases",
]


def cooldown_notes(
    plan: Plan,
    answers: Mapping[NormalizedName, ServedProject | None],
    policy: FilePolicy,
    now: datetime,
) -> list[Finding]:
    """One note per project whose newest release the cooldown held back (``installing
    0.5.14``), per exemption used, per expired exemption of a project asked about, and per
    planned file whose source gives no upload time (the cooldown could not apply)."""
    chosen = {dist.name: dist.version for dist in plan}
    notes = []
    for name, served in sorted(answers.items()):
        if served is None:
            continue
        held = _held_version(served, chosen.get(name))
        if held is None:
            continue
        file = max(
            (f for f in too_new(served) if f.version == held), key=lambda f: f.upload_time or now
        )
        instead = f"installing {chosen[name]}" if name in chosen else "nothing newer installed"
        notes.append(
            Finding(
                name,
                Severity.NOTE,
                f"{name} {held} ({ago(file.upload_time, now)}) held back by "
                f"{cooldown_name(policy)}; {instead}; {take_it(name, held)}",
            )
        )
    notes += [
        Finding(
            dist.name,
            Severity.NOTE,
            f"{dist.name} {dist.version} "
            f"({ago(dist.file.upload_time if dist.file else None, now)}) let through "
            f"{cooldown_name(policy)} by the exemption {exemption.describe()}",
        )
        for dist, exemption in exemptions_used(plan, policy)
    ]
    notes += [
        Finding(
            exemption.name,
            Severity.NOTE,
            f"the exemption {exemption.describe()} expired; it no longer applies",
        )
        for exemption in policy.expired
        if exemption.name in answers
    ]
    if policy.cutoff is not None:
        notes += _undated_notes(plan, policy)
    return notes


def _undated_notes(plan: Plan, policy: FilePolicy) -> list[Finding]:
    """One note per source that gives no upload times, under the first of its planned
    projects: a local mirror serves every project of an install, and one line says it."""
    undated: dict[str, list[PlannedDist]] = {}
    for dist in plan:
        if dist.file is not None and dist.file.upload_time is None:
            source = dist.source.name if dist.source else "its source"
            undated.setdefault(source, []).append(dist)
    return [
        Finding(
            dists[0].name,
            Severity.NOTE,
            f"{source} gives no upload times, so {cooldown_name(policy)} could not apply to "
            f"{', '.join(f'{dist.name} {dist.version}' for dist in dists)}",
        )
        for source, dists in undated.items()
    ]


def _held_version(served: ServedProject, chosen: Version | None) -> Version | None:
    """The newest withheld version newer than the one chosen (or than any served), not a
    pre-release unless the choice is one (pip would not take it anyway)."""
    floor = chosen or max((f.version for f in served.served), default=None)
    prerelease = chosen is not None and chosen.is_prerelease
    versions = [
        f.version
        for f in too_new(served)
        if (prerelease or not f.version.is_prerelease) and (floor is None or f.version > floor)
    ]
    return max(versions, default=None)


def exemptions_used(plan: Plan, policy: FilePolicy) -> list[tuple[PlannedDist, Exemption]]:
    """Planned files younger than the cut-off that an exemption let through."""
    used = []
    for dist in plan:
        file = dist.file
        if policy.cutoff is None or file is None or file.upload_time is None:
            continue
        exemption = exempted(file, policy) if file.upload_time > policy.cutoff else None
        if exemption is not None:
            used.append((dist, exemption))
    return used


# -- files and releases that changed after they were installed -------------------------


def remembered_mismatches(
    plan: Plan, trusted: Mapping[NormalizedName, TrustedProject]
) -> list[tuple[PlannedDist, str]]:
    """Planned files whose name==version and filename were installed before with another
    sha256, each with the sha256 remembered."""
    found = []
    for dist in plan:
        known = trusted.get(dist.name)
        remembered = known.sha256_of(dist.version, dist.filename) if known else None
        if remembered is not None and dist.sha256 and remembered != dist.sha256:
            found.append((dist, remembered))
    return found


def check_remembered(found: Sequence[tuple[PlannedDist, str]]) -> None:
    """Refuse files that differ from the ones installed before under the same name.

    :param found: :func:`remembered_mismatches` of the plan.
    :raises HashMismatch: naming every such file.
    """
    if not found:
        return
    listed = "\n".join(
        f"  - {dist.name} {dist.version} ({dist.filename}) from {dist.location}: sha256 "
        f"{dist.sha256}, but {remembered} when it was installed before"
        for dist, remembered in found
    )
    forget = " ".join(f"safe-pip trust forget {dist.name}=={dist.version}" for dist, _ in found)
    msg = (
        f"A file safe-pip installed before has changed (nothing was installed):\n{listed}\n"
        f"The same name, version and file name with different contents means the file was "
        f"re-uploaded or substituted: by its publisher, or by someone who took over the "
        f"project or the index. If you have checked that the new file is genuine, accept it "
        f"deliberately with: {forget}"
    )
    raise HashMismatch(msg)


@dataclass(frozen=True, slots=True)
class Replaced:
    """A ``name==version`` installed before whose files are no longer what they were."""

    dist: PlannedDist
    gone: tuple[str, ...]
    """Files installed then that the source no longer lists."""
    added: tuple[IndexFile, ...]
    """Files the source lists now that it did not list then."""
    listed_at: str | None
    """When the source's listing was remembered."""


def replaced_releases(
    plan: Plan,
    trusted: Mapping[NormalizedName, TrustedProject],
    answers: Mapping[NormalizedName, ServedProject | None],
) -> list[Replaced]:
    """Planned releases installed before whose remembered file is gone from the source, or
    that now list a file first seen after that install.

    An index never reuses a file name, so a replaced release arrives as a new file of the
    same version, which the remembered sha256 (keyed by file name) alone would not catch.
    """
    found = []
    for dist in plan:
        known = trusted.get(dist.name)
        served = answers.get(dist.name)
        version = str(dist.version)
        if known is None or served is None or dist.source is None or version not in known.files:
            continue
        now_listed = {f.filename: f for f in served.page.files if f.version == dist.version}
        gone = tuple(sorted(set(known.files[version]) - set(now_listed)))
        listing = known.listed.get(version)
        added = (
            tuple(f for name, f in sorted(now_listed.items()) if name not in listing["files"])
            if listing is not None
            else ()
        )
        if gone or added:
            found.append(Replaced(dist, gone, added, listing["at"] if listing else None))
    return found


def replaced_message(found: Sequence[Replaced], now: datetime) -> str:
    """The alarm for :func:`replaced_releases`, naming every file and its upload time."""
    lines = []
    for item in found:
        lines.append(f"  - {item.dist.name} {item.dist.version} from {item.dist.location}:")
        lines += [
            f"      {name}: installed before, no longer listed by the source" for name in item.gone
        ]
        since = f" (the listing was remembered at {item.listed_at})" if item.listed_at else ""
        lines += [
            f"      {file.filename}: new, {ago(file.upload_time, now)}, not listed when this "
            f"version was installed{since}"
            for file in item.added
        ]
    forget = " ".join(
        f"safe-pip trust forget {item.dist.name}=={item.dist.version}" for item in found
    )
    return (
        "A release installed before has changed since (nothing was installed):\n"
        + "\n".join(lines)
        + "\nAn index never reuses a file name: a file removed from a release, or added to "
        "it after it was installed, is how a replaced (possibly hijacked) release looks. "
        "Late wheels for other platforms are the honest cause. If you have checked the "
        f"release, accept it deliberately with: {forget}"
    )
