"""Review: the resolved plan against policy, before anything is fetched or installed.

Every finding is collected first; the caller decides (and the CLI asks the user when it
may). Nothing here prints or prompts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from packaging.utils import NormalizedName
from packaging.version import Version

from safe_pip.errors import HashMismatch
from safe_pip.models import NameSet, Plan, PlannedDist, ServedProject, SourceSpec
from safe_pip.network import redact_url
from safe_pip.trust import How, TrustedProject

__all__ = [
    "NEW_PROJECT_DAYS",
    "NEW_RELEASE_DAYS",
    "Approval",
    "Finding",
    "NameChecker",
    "ProjectFacts",
    "Severity",
    "Suspicion",
    "TrustWarning",
    "WarningKind",
    "age",
    "check_remembered",
    "decide",
    "describe_facts",
    "refusal_message",
    "remembered_mismatches",
    "review",
    "trust_review",
]


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


# -- first-seen approval --------------------------------------------------------------------

NEW_PROJECT_DAYS = 30
"""A project whose first release is younger than this is flagged."""
NEW_RELEASE_DAYS = 7
"""A release younger than this is flagged."""


class Suspicion(Protocol):
    """What :func:`safe_pip.typosquat.check_names` says about a suspicious name."""

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


class WarningKind(enum.Enum):
    """Why a first-seen project deserves a second look."""

    TYPOSQUAT = "looks like a top project"
    NEW_PROJECT = "new project"
    NEW_RELEASE = "new release"
    SOURCE_CHANGED = "source changed"


@dataclass(frozen=True, slots=True)
class TrustWarning:
    """One reason to be careful about one project."""

    kind: WarningKind
    message: str


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    """What the user sees before approving a project: everything known offline."""

    name: NormalizedName
    version: Version
    filename: str
    sha256: str
    source: SourceSpec
    wheel: bool
    """``False``: built here from a source distribution."""
    size: int | None
    released: datetime | None
    """Upload time of the file to install."""
    first_released: datetime | None
    """The oldest upload time of any file the source lists for the project."""
    summary: str
    home_page: str | None
    warnings: tuple[TrustWarning, ...]
    known: TrustedProject | None
    """The store's record when the project was approved before (its source changed)."""

    @property
    def kind(self) -> str:
        """How it arrives, in words."""
        return "wheel" if self.wheel else "built here from source"

    @property
    def suspicious(self) -> bool:
        """Whether any warning applies: the interactive default is then no."""
        return bool(self.warnings)

    @property
    def source_changed(self) -> bool:
        """Approved before, from another source than the one serving it now."""
        return self.known is not None


@dataclass(frozen=True, slots=True)
class Approval:
    """The decision about one project that needs one: approved how, or not (yet)."""

    facts: ProjectFacts
    how: How | None
    """``None``: not approved; the user must be asked, or the command refused."""


def _home_page(metadata: Mapping[str, Any]) -> str | None:
    if metadata.get("home_page"):
        return str(metadata["home_page"])
    urls = [str(entry).partition(",") for entry in metadata.get("project_url") or ()]
    preferred = ("homepage", "home", "repository", "source", "source code", "code")
    for label, _, url in urls:
        if label.strip().lower() in preferred:
            return url.strip()
    return urls[0][2].strip() if urls else None


def _first_release(served: ServedProject | None) -> datetime | None:
    if served is None:
        return None
    times = [file.upload_time for file in served.page.files if file.upload_time is not None]
    return min(times) if times else None


def _days(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else (now - moment).total_seconds() / 86400


def _warnings(
    dist: PlannedDist,
    known: TrustedProject | None,
    first_released: datetime | None,
    suspicion: Suspicion | None,
    now: datetime,
) -> tuple[TrustWarning, ...]:
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
        found.append(
            TrustWarning(
                WarningKind.TYPOSQUAT,
                f"the name looks like {suspicion.intended!r} ({suspicion.reason})",
            )
        )
    project_age = _days(first_released, now)
    if project_age is not None and project_age < NEW_PROJECT_DAYS:
        found.append(
            TrustWarning(
                WarningKind.NEW_PROJECT,
                f"the project's first release is only {project_age:.0f} days old",
            )
        )
    release_age = _days(dist.file.upload_time if dist.file is not None else None, now)
    if release_age is not None and release_age < NEW_RELEASE_DAYS:
        found.append(
            TrustWarning(
                WarningKind.NEW_RELEASE,
                f"version {dist.version} is only {release_age:.0f} days old",
            )
        )
    return tuple(found)


def _needs_approval(dist: PlannedDist, known: TrustedProject | None) -> bool:
    if dist.source is None or dist.file is None:
        # A path or URL the user wrote is approved by writing it.
        return False
    if known is None:
        return True
    return known.source_url is not None and known.source_url != redact_url(dist.source.url)


def _default_checker(names: Collection[NormalizedName]) -> Mapping[NormalizedName, Suspicion]:
    from safe_pip.typosquat import check_names

    return check_names(names)


def trust_review(
    plan: Plan,
    trusted: Mapping[NormalizedName, TrustedProject],
    served: Mapping[NormalizedName, ServedProject | None],
    now: datetime,
    check_names: NameChecker = _default_checker,
) -> tuple[ProjectFacts, ...]:
    """The facts about every planned project that is first-seen or whose source changed.

    Offline: ``trusted`` is the store as read once, ``served`` the pages the gateway
    already fetched.
    """
    pending = [dist for dist in plan if _needs_approval(dist, trusted.get(dist.name))]
    suspicions = check_names([dist.name for dist in pending]) if pending else {}
    facts = []
    for dist in pending:
        if dist.file is None or dist.source is None:  # never: _needs_approval checked
            continue
        known = trusted.get(dist.name)
        first = _first_release(served.get(dist.name))
        facts.append(
            ProjectFacts(
                name=dist.name,
                version=dist.version,
                filename=dist.file.filename,
                sha256=dist.sha256 or "",
                source=dist.source,
                wheel=not dist.needs_build,
                size=dist.file.size,
                released=dist.file.upload_time,
                first_released=first,
                summary=str(dist.metadata.get("summary") or ""),
                home_page=_home_page(dist.metadata),
                warnings=_warnings(dist, known, first, suspicions.get(dist.name), now),
                known=known,
            )
        )
    return tuple(facts)


def decide(
    facts: Sequence[ProjectFacts],
    *,
    flagged: NameSet,
    settings: NameSet,
    pins: Mapping[NormalizedName, frozenset[str]],
) -> tuple[Approval, ...]:
    """Which projects are approved, and how.

    :param flagged: ``--trust`` of this command.
    :param settings: ``trust``/``trusted`` of the settings files and environment.
    :param pins: :func:`~safe_pip.hashes.approving_digests` of the requirements.

    A changed source is only approved by naming the project in ``--trust`` (``:all:``,
    a setting or a hash pin approve a name, not the source that now serves it).
    """
    return tuple(Approval(item, _how(item, flagged, settings, pins)) for item in facts)


def _how(
    item: ProjectFacts,
    flagged: NameSet,
    settings: NameSet,
    pins: Mapping[NormalizedName, frozenset[str]],
) -> How | None:
    if item.source_changed:
        return How.FLAG if item.name in flagged.names else None
    if item.name in flagged:
        return How.FLAG
    if item.name in settings:
        return How.SETTINGS
    if item.sha256 and item.sha256 in pins.get(item.name, frozenset()):
        return How.HASH_PIN
    return None


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


def age(moment: datetime | None, now: datetime) -> str:
    """``2026-11-30 (3 days ago)``, or ``unknown``."""
    days = _days(moment, now)
    if moment is None or days is None:
        return "unknown"
    return f"{moment.date().isoformat()} ({days:.0f} days ago)"


def describe_facts(item: ProjectFacts, now: datetime) -> str:
    """One line: version, source, kind, release and first-release dates."""
    return (
        f"{item.name} {item.version} from {item.source.name} ({item.kind}; released "
        f"{age(item.released, now)}; first release {age(item.first_released, now)})"
    )


def refusal_message(refused: Sequence[ProjectFacts], now: datetime, *, asked: bool) -> str:
    """Why these projects were refused, and every way to approve them."""
    lines = []
    for item in refused:
        lines.append(f"  - {describe_facts(item, now)}")
        lines += [f"      warning: {warning.message}" for warning in item.warnings]
    names = [item.name for item in refused]
    changed = [item.name for item in refused if item.source_changed]
    head = (
        "You refused these projects"
        if asked
        else "These projects were not approved and no prompt can be shown (no terminal, "
        "--no-input, PIP_NO_INPUT or CI)"
    )
    text = f"{head}; nothing was installed:\n" + "\n".join(lines)
    if asked:
        return text
    unchanged = [name for name in names if name not in changed]
    text += f"\nTo approve them, add --trust {','.join(names)} to the command"
    if unchanged:
        quoted = ", ".join(f'"{name}"' for name in unchanged)
        text += (
            f", or set trusted = [{quoted}] under [tool.safe-pip] in the project's "
            f"pyproject.toml, or run: safe-pip trust add {' '.join(unchanged)}"
        )
    text += ", or run the command in a terminal to review them."
    if changed:
        text += (
            f"\nA changed source ({', '.join(changed)}) is approved only by naming the "
            f"project in --trust, or by a yes at the review; the new source is then remembered."
        )
    return text
