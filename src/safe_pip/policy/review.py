"""Review: the resolved plan against policy, before anything is fetched or installed.

Every finding is collected first; the caller decides (and the CLI asks the user when it
may). Nothing here prints or prompts. Why a project deserves a second look is
:mod:`safe_pip.policy.trust_warnings`; here those warnings become the facts of each project
to approve, and the decisions about them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from safe_pip.gateway.network import redact_url
from safe_pip.models import (
    Finding,
    IndexFile,
    NameSet,
    Plan,
    PlannedDist,
    ServedProject,
    Severity,
    SourceSpec,
)
from safe_pip.policy.trust import How, TrustedProject
from safe_pip.policy.trust_warnings import (
    ImpostorChecker,
    NameChecker,
    TrustWarning,
    WarningKind,
    days_since,
    default_impostor_check,
    default_name_check,
    first_release,
    first_seen_warnings,
    update_warnings,
)

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

__all__ = [
    "Approval",
    "Finding",
    "ProjectFacts",
    "Severity",
    "age",
    "decide",
    "describe_facts",
    "refusal_message",
    "review",
    "trust_review",
    "update_facts",
]


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
    update_of: Version | None = None
    """An update of an approved project that needs a new approval: the newest version
    installed before."""

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

    @property
    def impostor(self) -> bool:
        """Whether a warning says it may pose as another project: only naming it approves."""
        return any(warning.impostor for warning in self.warnings)


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


def _update_of(dist: PlannedDist, known: TrustedProject | None) -> Version | None:
    """The newest version installed before, when ``dist`` is a version never installed."""
    if known is None or not known.files or str(dist.version) in known.files:
        return None
    return max(Version(version) for version in known.files)


def _needs_approval(dist: PlannedDist, known: TrustedProject | None) -> bool:
    if dist.source is None or dist.file is None:
        # A path or URL the user wrote is approved by writing it.
        return False
    if known is None:
        return True
    # A mirror group is one source: approved from one member is approved from any.
    group = {redact_url(url) for url in (dist.source.url, *dist.source.marks.group)}
    return known.source_url is not None and known.source_url not in group


def trust_review(
    plan: Plan,
    trusted: Mapping[NormalizedName, TrustedProject],
    served: Mapping[NormalizedName, ServedProject | None],
    now: datetime,
    check_names: NameChecker = default_name_check,
    check_impostors: ImpostorChecker = default_impostor_check,
) -> tuple[ProjectFacts, ...]:
    """The facts about every planned project that is first-seen or whose source changed,
    and every update of an approved project with a warning (DESIGN invariant 9: built from
    source, dormant for a year).

    Offline: ``trusted`` is the store as read once, ``served`` the pages the gateway
    already fetched.
    """
    pending = [dist for dist in plan if _needs_approval(dist, trusted.get(dist.name))]
    suspicions = check_names([dist.name for dist in pending]) if pending else {}
    impostors = check_impostors(pending, suspicions) if pending else {}
    facts = []
    for dist in plan:
        known, page = trusted.get(dist.name), served.get(dist.name)
        if dist.file is None or dist.source is None:
            continue  # a path or URL the user wrote is approved by writing it
        if dist in pending:
            found = first_seen_warnings(
                dist, known, page, suspicions.get(dist.name), impostors.get(dist.name, ()), now
            )
            facts.append(_facts(dist, dist.file, dist.source, page, found, known))
        elif known is not None and (update_of := _update_of(dist, known)) is not None:
            found = update_warnings(dist, known, page, now)
            if found:
                facts.append(_facts(dist, dist.file, dist.source, page, found, None, update_of))
    return tuple(facts)


def update_facts(
    dist: PlannedDist,
    update_of: Version,
    changes: Sequence[str],
    served: Mapping[NormalizedName, ServedProject | None],
) -> ProjectFacts | None:
    """The facts of an update whose wheel changes what runs (DESIGN invariant 9), each
    change a warning; ``None`` for a file the user named by path or URL."""
    if dist.file is None or dist.source is None:
        return None
    warnings = tuple(TrustWarning(WarningKind.UPDATE_CHANGED, change) for change in changes)
    return _facts(dist, dist.file, dist.source, served.get(dist.name), warnings, None, update_of)


def _facts(
    dist: PlannedDist,
    file: IndexFile,
    source: SourceSpec,
    page: ServedProject | None,
    warnings: tuple[TrustWarning, ...],
    known: TrustedProject | None,
    update_of: Version | None = None,
) -> ProjectFacts:
    return ProjectFacts(
        name=dist.name,
        version=dist.version,
        filename=file.filename,
        sha256=dist.sha256 or "",
        source=source,
        wheel=not dist.needs_build,
        size=file.size,
        released=file.upload_time,
        first_released=first_release(page),
        summary=str(dist.metadata.get("summary") or ""),
        home_page=_home_page(dist.metadata),
        warnings=warnings,
        known=known,
        update_of=update_of,
    )


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
    :param pins: :func:`~safe_pip.policy.hashes.approving_digests` of the requirements.

    A changed source, or an update with a warning (built from source, dormant), is only
    approved by naming the project in ``--trust`` (``:all:``, a setting or a hash pin
    approve a name, not the source or the release that arrives now). ``:all:`` never
    approves a project with any warning. A project
    with an impostor warning (a look-alike name, a borrowed repository, a command's name,
    an empty name-squat) is approved only by its name in ``--trust`` or the settings, never
    by ``:all:`` or a hash pin.
    """
    return tuple(Approval(item, _how(item, flagged, settings, pins)) for item in facts)


def _how(
    item: ProjectFacts,
    flagged: NameSet,
    settings: NameSet,
    pins: Mapping[NormalizedName, frozenset[str]],
) -> How | None:
    if item.source_changed or item.update_of is not None:
        # A standing approval (a setting, a hash pin) named the project as it was; what
        # changed since is approved on this command, by name.
        return How.FLAG if item.name in flagged.names else None
    if item.impostor:
        # ``:all:`` and a hash pin approve whatever the command or the requirements named,
        # which is how a look-alike gets in: only the project's own name approves it.
        if item.name in flagged.names:
            return How.FLAG
        return How.SETTINGS if item.name in settings.names else None
    if item.suspicious:
        # ``--trust :all:`` approves plain first-seen projects only, so a blanket flag
        # never waves a warning through: one with a warning is approved by its name, or
        # by a hash pin of the file reviewed.
        if item.name in flagged.names:
            return How.FLAG
        if item.name in settings.names:
            return How.SETTINGS
        return _pinned(item, pins)
    if item.name in flagged:
        return How.FLAG
    if item.name in settings:
        return How.SETTINGS
    return _pinned(item, pins)


def _pinned(item: ProjectFacts, pins: Mapping[NormalizedName, frozenset[str]]) -> How | None:
    if item.sha256 and item.sha256 in pins.get(item.name, frozenset()):
        return How.HASH_PIN
    return None


def age(moment: datetime | None, now: datetime) -> str:
    """``2026-11-30 (3 days ago)``, or ``unknown``."""
    days = days_since(moment, now)
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
    names = [f"{item.name}=={item.version}" if item.update_of else item.name for item in refused]
    changed = [item.name for item in refused if item.source_changed or item.update_of]
    updates = [
        f"{item.name} {item.update_of} -> {item.version}" for item in refused if item.update_of
    ]
    head = (
        "You refused these projects"
        if asked
        else "These projects were not approved and no prompt can be shown (no terminal, "
        "--no-input, PIP_NO_INPUT or CI)"
    )
    text = f"{head}; nothing was installed:\n" + "\n".join(lines)
    text += _suggestions(refused)
    if asked:
        return text
    unchanged = [item.name for item in refused if item.name not in changed]
    text += f"\nTo approve them, add --trust {','.join(names)} to the command"
    if unchanged:
        quoted = ", ".join(f'"{name}"' for name in unchanged)
        text += (
            f", or set trusted = [{quoted}] under [tool.safe-pip] in the project's "
            f"pyproject.toml, or run: safe-pip trust add {' '.join(unchanged)}"
        )
    text += ", or run the command in a terminal to review them."
    if sources := [item.name for item in refused if item.source_changed]:
        text += (
            f"\nA changed source ({', '.join(sources)}) is approved only by naming the "
            f"project in --trust, or by a yes at the review; the new source is then remembered."
        )
    if updates:
        text += (
            f"\nAn update with a warning ({', '.join(updates)}) is approved only by naming it "
            f"in --trust on this command, or by a yes at the review: earlier approvals covered "
            f"the releases reviewed then."
        )
    if warned := [item.name for item in refused if item.suspicious and not item.impostor]:
        text += (
            f"\n--trust :all: does not approve a project with a warning ({', '.join(warned)}): "
            f"name it."
        )
    if impostors := [item.name for item in refused if item.impostor]:
        text += (
            f"\nA project that may pose as another ({', '.join(impostors)}) is approved only "
            f"by its name: --trust :all: and hash pins do not approve it."
        )
    return text


def _suggestions(refused: Sequence[ProjectFacts]) -> str:
    """``Did you mean ...``: the command that installs the real projects instead."""
    meant = dict.fromkeys(
        warning.intended
        for item in refused
        for warning in item.warnings
        if warning.intended is not None
    )
    if not meant:
        return ""
    return f"\nDid you mean {', '.join(meant)}? safe-pip install {' '.join(meant)}"
