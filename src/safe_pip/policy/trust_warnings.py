"""Why a project deserves a second look before it is approved: what its name resembles,
what it claims, how old it and its release are, where it comes from, how long it slept.

Each reason is a :class:`TrustWarning`; :mod:`safe_pip.policy.review` gathers them into the
facts shown at the first-seen review. The name checks (typosquats, impostors) are passed in,
so a review can be tested without the reference data.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from packaging.utils import NormalizedName
from packaging.version import Version

from safe_pip.models import PlannedDist, ServedProject

if TYPE_CHECKING:
    from safe_pip.policy.impostors import Impostor
    from safe_pip.policy.trust import TrustedProject

__all__ = [
    "DORMANT_DAYS",
    "NEW_PROJECT_DAYS",
    "NEW_RELEASE_DAYS",
    "WAKING_DAYS",
    "ImpostorChecker",
    "NameChecker",
    "Suspicion",
    "TrustWarning",
    "WarningKind",
    "days_since",
    "default_impostor_check",
    "default_name_check",
    "first_release",
    "first_seen_warnings",
    "update_warnings",
]

NEW_PROJECT_DAYS = 30
"""A project whose first release is younger than this is flagged."""
NEW_RELEASE_DAYS = 7
"""A release younger than this is flagged."""
DORMANT_DAYS = 365
"""A release after this long with none is flagged: a forgotten project's account is an easy
one to take over (ctx slept eight years before its hijacked release)."""
WAKING_DAYS = 30
"""...while the waking release is younger than this: hijacked releases are found and pulled
within days (ctx's within ten), so one that has stood longer is a project's history, not an
event; flagging it would stop honest projects that simply release rarely (itsdangerous,
markupsafe) in every unattended install."""


class Suspicion(Protocol):
    """What :func:`safe_pip.policy.typosquat.check_names` says about a suspicious name."""

    @property
    def name(self) -> str:
        """The name that was checked."""

    @property
    def intended(self) -> str:
        """The top project it looks like."""

    @property
    def reason(self) -> str:
        """Why it looks like it."""


NameChecker = Callable[[Collection[NormalizedName]], Mapping[NormalizedName, Suspicion]]
ImpostorChecker = Callable[
    [Sequence[PlannedDist], Mapping[NormalizedName, Suspicion]],
    Mapping[NormalizedName, Sequence["Impostor"]],
]
"""The impostor checks of the first-seen projects, given what the name check found."""


class WarningKind(enum.Enum):
    """Why a first-seen project deserves a second look."""

    TYPOSQUAT = "looks like a top project"
    STARJACKING = "claims a top project's repository"
    SLOPSQUATTING = "named after a top project's command or import name"
    PLACEHOLDER = "almost empty, with a name near a top project"
    NEW_PROJECT = "new project"
    NEW_RELEASE = "new release"
    SOURCE_CHANGED = "source changed"
    DORMANT = "dormant project woke up"
    UPDATE_CHANGED = "update changes what runs"
    BUILD_UPDATE = "new release of a project built from source"


@dataclass(frozen=True, slots=True)
class TrustWarning:
    """One reason to be careful about one project."""

    kind: WarningKind
    message: str
    intended: NormalizedName | None = None
    """The real project this one may be mistaken for, to suggest instead."""

    @property
    def impostor(self) -> bool:
        """Whether the warning says the project may pose as another."""
        return self.kind in _IMPOSTOR_KINDS


_IMPOSTOR_KINDS = frozenset(
    {
        WarningKind.TYPOSQUAT,
        WarningKind.STARJACKING,
        WarningKind.SLOPSQUATTING,
        WarningKind.PLACEHOLDER,
    }
)


def _suggestion(intended: NormalizedName) -> str:
    return f"did you mean {intended}? safe-pip install {intended}"


def first_release(served: ServedProject | None) -> datetime | None:
    """The oldest upload time of any file the source lists for the project."""
    if served is None:
        return None
    times = [file.upload_time for file in served.page.files if file.upload_time is not None]
    return min(times) if times else None


def days_since(moment: datetime | None, now: datetime) -> float | None:
    """How many days before ``now`` the moment was, if it is known."""
    return None if moment is None else (now - moment).total_seconds() / 86400


def first_seen_warnings(
    dist: PlannedDist,
    known: TrustedProject | None,
    served: ServedProject | None,
    suspicion: Suspicion | None,
    impostors: Sequence[Impostor],
    now: datetime,
) -> tuple[TrustWarning, ...]:
    """Why a first-seen project (or one whose source changed) deserves a second look."""
    found = []
    if known is not None and dist.source is not None:
        found.append(
            TrustWarning(
                WarningKind.SOURCE_CHANGED,
                f"approved before from {known.source} ({known.source_url}), now served by "
                f"{dist.source}: a known name from a different source is what dependency "
                f"confusion looks like",
            )
        )
    if suspicion is not None:
        intended = NormalizedName(suspicion.intended)
        found.append(
            TrustWarning(
                WarningKind.TYPOSQUAT,
                f"the name looks like {suspicion.intended!r} ({suspicion.reason}); "
                f"{_suggestion(intended)}",
                intended,
            )
        )
    found += [
        TrustWarning(
            WarningKind[impostor.kind.name],
            f"{impostor.reason}; {_suggestion(impostor.intended)}",
            impostor.intended,
        )
        for impostor in impostors
    ]
    project_age = days_since(first_release(served), now)
    if project_age is not None and project_age < NEW_PROJECT_DAYS:
        found.append(
            TrustWarning(
                WarningKind.NEW_PROJECT,
                f"the project's first release is only {project_age:.0f} days old",
            )
        )
    release_age = days_since(dist.file.upload_time if dist.file is not None else None, now)
    if release_age is not None and release_age < NEW_RELEASE_DAYS:
        found.append(
            TrustWarning(
                WarningKind.NEW_RELEASE,
                f"version {dist.version} is only {release_age:.0f} days old",
            )
        )
    if dormant := _dormant(dist, served, now):
        found.append(dormant)
    return tuple(found)


def _dormant(dist: PlannedDist, served: ServedProject | None, now: datetime) -> TrustWarning | None:
    """A release younger than :data:`WAKING_DAYS` uploaded after more than
    :data:`DORMANT_DAYS` with no release."""
    released = dist.file.upload_time if dist.file is not None else None
    if served is None or released is None or (days_since(released, now) or 0.0) >= WAKING_DAYS:
        return None
    earlier = [
        f.upload_time
        for f in served.page.files
        if f.version < dist.version and f.upload_time is not None and f.upload_time < released
    ]
    if not earlier:
        return None
    gap = days_since(max(earlier), released) or 0.0
    if gap <= DORMANT_DAYS:
        return None
    return TrustWarning(
        WarningKind.DORMANT,
        f"{dist.version} is the first release in {gap / 365.25:.1f} years (the one before "
        f"was uploaded {max(earlier).date().isoformat()}): a project waking up after years "
        f"is how a taken-over account looks",
    )


def update_warnings(
    dist: PlannedDist, known: TrustedProject, served: ServedProject | None, now: datetime
) -> tuple[TrustWarning, ...]:
    """Why a new release of an approved project needs approval again."""
    found = []
    if dist.needs_build:
        before = ", ".join(sorted(known.files, key=Version))
        found.append(
            TrustWarning(
                WarningKind.BUILD_UPDATE,
                f"{dist.version} would be built from source, running its build code with your "
                f"rights; builds were approved for {before} only",
            )
        )
    if dormant := _dormant(dist, served, now):
        found.append(dormant)
    return tuple(found)


def default_name_check(names: Collection[NormalizedName]) -> Mapping[NormalizedName, Suspicion]:
    """The typosquat check, its list of top names read only when a review has names."""
    from safe_pip.policy import typosquat

    return typosquat.check_names(names)


def default_impostor_check(
    dists: Sequence[PlannedDist], suspicions: Mapping[NormalizedName, Suspicion]
) -> Mapping[NormalizedName, Sequence[Impostor]]:
    # Imported (and the reference data read) only when a review has something to check.
    from safe_pip.policy import impostors, reference, typosquat

    candidates = [
        impostors.Candidate(
            dist.name,
            dist.metadata,
            dist.file.size if dist.file is not None else None,
            NormalizedName(s.intended) if (s := suspicions.get(dist.name)) else None,
        )
        for dist in dists
    ]
    return impostors.check_impostors(candidates, reference.load(), typosquat.is_listed)
