"""The trust stage: first-seen approval before anything is fetched, records after install.

The store is read once per command. A project that needs approval is approved by
``--trust``, the settings, a hash pin or the user's answer; unattended, it is refused.
Approvals and file hashes are written only after a successful install; refusals go to the
audit log at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from safe_pip.errors import FirstSeenRefused, HashMismatch, TrustStoreError
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.policy.hashes import HashPin, approving_digests
from safe_pip.policy.review import (
    Approval,
    ProjectFacts,
    decide,
    refusal_message,
    trust_review,
)
from safe_pip.policy.trust import How, Remembered, TrustedProject, TrustStore
from safe_pip.policy.updates import (
    Replaced,
    check_remembered,
    exemptions_used,
    remembered_mismatches,
    replaced_message,
    replaced_releases,
)

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.gateway.cooldown import FilePolicy
    from safe_pip.models import Exemption, NameSet, Plan, PlannedDist, ServedProject
    from safe_pip.policy.prompting import Prompter

__all__ = [
    "ApprovalNeeded",
    "ApprovalStore",
    "TrustCheck",
    "TrustSettings",
    "approve_early",
    "ask",
    "check_trust",
    "confirm",
    "remember",
    "require_approved",
]


class TrustSettings(Protocol):
    """What the trust stage reads of the command's settings (a
    :class:`~safe_pip.settings.options.Settings` has it all)."""

    @property
    def home(self) -> Path: ...
    @property
    def trust(self) -> NameSet:
        """First-seen projects approved by ``--trust`` or by the settings."""

    @property
    def trust_flags(self) -> NameSet:
        """The part of ``trust`` named on this command's ``--trust``."""

    @property
    def file_policy(self) -> FilePolicy: ...
    @property
    def unattended(self) -> bool: ...


class ApprovalStore(Protocol):
    """What the trust stage reads and writes of the trust store: a
    :class:`~safe_pip.policy.trust.TrustStore`, or a stand-in that keeps no file."""

    def load(self) -> Mapping[NormalizedName, TrustedProject]:
        """Every approved project, read once per command."""

    def record(self, installed: Sequence[Remembered]) -> None:
        """Remember installed (or early-approved) files and how their projects were approved."""


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """The approvals of one command, and where they will be recorded."""

    store: ApprovalStore
    audit: AuditLog
    approvals: tuple[Approval, ...]
    now: datetime
    served: Mapping[NormalizedName, ServedProject | None] = field(default_factory=dict)
    """The gateway's answers: each installed version's listing is remembered from them."""
    exempted: tuple[tuple[PlannedDist, Exemption], ...] = ()
    """Planned releases let through the cooldown by an exemption, for the audit log."""
    trusted: Mapping[NormalizedName, TrustedProject] = field(default_factory=dict)
    """The store as read for this command."""
    profiles: Mapping[NormalizedName, Mapping[str, Any]] = field(default_factory=dict)
    """What each wheel to install makes run, remembered for the next update's review."""

    @property
    def pending(self) -> list[ProjectFacts]:
        """The projects nobody approved yet."""
        return [approval.facts for approval in self.approvals if approval.how is None]


def check_trust(
    plan: Plan,
    pins: Mapping[NormalizedName, Sequence[HashPin]],
    settings: TrustSettings,
    served: Mapping[NormalizedName, ServedProject | None],
    store: ApprovalStore | None = None,
) -> TrustCheck:
    """Review the plan against the trust store; nothing is asked or written yet.

    :param pins: the requirements' ``--hash`` pins
        (:func:`~safe_pip.policy.hashes.pins_by_project`).
    :param store: the trust store of ``settings.home`` unless another is given.

    :raises HashMismatch: a file differs from the one installed before as that version.
    :raises TrustStoreError: the store is unreadable.
    """
    store = TrustStore(settings.home) if store is None else store
    audit = AuditLog(settings.home)
    trusted = store.load()
    changed = remembered_mismatches(plan, trusted)
    audit.write(
        AuditEvent(
            Action.REFUSED,
            dist.name,
            str(dist.version),
            dist.location,
            dist.filename,
            dist.sha256,
            f"changed file (remembered sha256 {remembered})",
        )
        for dist, remembered in changed
    )
    check_remembered(changed)
    now = datetime.now(UTC)
    _check_replaced(replaced_releases(plan, trusted, served), audit, now)
    approvals = decide(
        trust_review(plan, trusted, served, now),
        flagged=settings.trust_flags,
        settings=settings.trust,
        pins=approving_digests(pins),
    )
    return TrustCheck(
        store,
        audit,
        approvals,
        now,
        served,
        tuple(exemptions_used(plan, settings.file_policy)),
        trusted,
    )


def ask(
    check: TrustCheck,
    pending: Sequence[ProjectFacts],
    settings: TrustSettings,
    prompter: Prompter | None,
    unattended: str,
) -> None:
    """Ask the user about every pending project; return only if the answer is yes to all.

    :param unattended: the reason the audit log records when nobody can be asked.
    :raises FirstSeenRefused: nobody can answer, or the user said no to any of them.
    """
    if settings.unattended or prompter is None:
        check.audit.write(_refused(pending, unattended))
        raise FirstSeenRefused(refusal_message(pending, check.now, asked=False))
    answers = prompter.approve(pending)
    refused = [item for item in pending if not answers.get(item.name, False)]
    if refused:
        check.audit.write(_refused(refused, How.PROMPT.value))
        raise FirstSeenRefused(refusal_message(refused, check.now, asked=True))


def _check_replaced(found: Sequence[Replaced], audit: AuditLog, now: datetime) -> None:
    """Refuse releases whose files changed since they were installed (an alarm in every
    mode: ``safe-pip trust forget NAME==VERSION`` accepts one deliberately).

    :raises HashMismatch: naming every file and its upload time.
    """
    if not found:
        return
    audit.write(
        AuditEvent(
            Action.REFUSED,
            item.dist.name,
            str(item.dist.version),
            item.dist.location,
            item.dist.filename,
            item.dist.sha256,
            "release changed after it was installed (files "
            + ", ".join(
                [
                    *(f"gone {name}" for name in item.gone),
                    *(f"new {f.filename}" for f in item.added),
                ]
            )
            + ")",
        )
        for item in found
    )
    raise HashMismatch(replaced_message(found, now))


def _refused(items: Iterable[ProjectFacts], why: str) -> list[AuditEvent]:
    return [
        AuditEvent(
            Action.REFUSED,
            item.name,
            str(item.version),
            item.source.name,
            item.filename,
            item.sha256,
            why,
        )
        for item in items
    ]


def confirm(check: TrustCheck, settings: TrustSettings, prompter: Prompter | None) -> TrustCheck:
    """Every project approved, asking the user when someone can answer.

    :raises FirstSeenRefused: unattended with projects nobody approved, or the user said no
        to any of them (all of the plan depends on all of it: nothing is installed).
    """
    pending = check.pending
    if not pending:
        return check
    ask(check, pending, settings, prompter, "unattended")
    approvals = tuple(
        replace(approval, how=How.PROMPT) if approval.how is None else approval
        for approval in check.approvals
    )
    return replace(check, approvals=approvals)


def remember(check: TrustCheck, installed: Sequence[PlannedDist]) -> None:
    """Record the approvals and the sha256 of every file just installed.

    Built wheels are remembered by the source archive that was downloaded (the plan's
    file), not by the wheel built from it, which differs from build to build.

    :raises TrustStoreError: the store or the log could not be written; the message says
        that the install itself went through.
    """
    try:
        _record(check, installed)
    except TrustStoreError as exc:
        labels = " ".join(dist.label for dist in installed)
        msg = (
            f"Installed {labels}, but safe-pip could not record it: {exc} The projects stay "
            f"installed; until they are recorded, the next install shows them as first-seen "
            f"and has no remembered hashes to check them against."
        )
        raise TrustStoreError(msg) from exc


class ApprovalNeeded(FirstSeenRefused):
    """Projects whose code is about to run wait for a person's answer, which the caller
    asks for once pip has stopped (a question must not wait under pip's network timeout);
    uncaught, it is a refusal like any other."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan


# One review at a time: pip may ask for several build requirements at once.
_EARLY = threading.Lock()


def require_approved(
    plan: Plan,
    served: Mapping[NormalizedName, ServedProject | None],
    *,
    settings: TrustSettings,
    pins: Mapping[NormalizedName, Sequence[HashPin]],
    attended: bool,
) -> None:
    """:func:`approve_early` without asking: what nobody approved yet is refused.

    :raises ApprovalNeeded: ``attended``, and a project is not approved yet.
    :raises FirstSeenRefused: unattended, naming the flag that approves it.
    """
    with _EARLY:
        check = check_trust(plan, pins, settings, served)
        if check.pending and attended:
            raise ApprovalNeeded(refusal_message(check.pending, check.now, asked=False), plan)
        _record(confirm(check, settings, None), plan.dists, installed=False)


def approve_early(
    plan: Plan,
    served: Mapping[NormalizedName, ServedProject | None],
    *,
    settings: TrustSettings,
    prompter: Prompter | None,
    pins: Mapping[NormalizedName, Sequence[HashPin]] | None = None,
    store: ApprovalStore | None = None,
) -> None:
    """Approve projects whose code is about to run before the main plan is reviewed (a
    build backend and its requirements, a source archive whose metadata pip builds), and
    record them at once: their code runs now, whatever becomes of the install.

    The same review as :func:`check_trust` and :func:`confirm`: the trust store,
    ``--trust``, the settings, a hash pin, a question when someone can answer.

    :param pins: the requirements' ``--hash`` pins (pip downloads pinned files whole to
        check them, so a project of the main plan can come this way too).
    :param store: as for :func:`check_trust`.
    :raises FirstSeenRefused: a project nobody approved (unattended: naming ``--trust``).
    :raises HashMismatch: a file differs from the one remembered for its version.
    """
    with _EARLY:
        check = check_trust(plan, pins or {}, settings, served, store)
        check = confirm(check, settings, prompter)
        _record(check, plan.dists, installed=False)


def _record(check: TrustCheck, dists: Sequence[PlannedDist], *, installed: bool = True) -> None:
    how_of = {approval.facts.name: approval.how for approval in check.approvals}
    records = [
        Remembered(
            dist.name,
            dist.version,
            dist.filename,
            dist.sha256,
            dist.source,
            how_of.get(dist.name) or How.STORE,
            _listing(check, dist),
            check.profiles.get(dist.name),
        )
        for dist in dists
        if dist.source is not None and dist.sha256
    ]
    check.store.record(records)
    check.audit.write(_recorded_events(check, records, dists, how_of, installed=installed))


def _recorded_events(
    check: TrustCheck,
    records: Sequence[Remembered],
    dists: Sequence[PlannedDist],
    how_of: Mapping[NormalizedName, How | None],
    *,
    installed: bool,
) -> list[AuditEvent]:
    """The audit log's lines for what was just recorded: approvals, exemptions used, and
    (after an install) each file installed."""
    events = [
        AuditEvent(
            Action.APPROVED,
            item.name,
            str(item.version),
            item.source.name,
            item.filename,
            item.sha256,
            item.how.value,
        )
        for item in records
        if item.how is not How.STORE
    ]
    recorded = {(dist.name, dist.version) for dist in dists}
    events += [
        AuditEvent(
            Action.EXEMPTED,
            dist.name,
            str(dist.version),
            dist.location,
            dist.filename,
            dist.sha256,
            f"cooldown exemption {exemption.describe()}",
        )
        for dist, exemption in check.exempted
        if (dist.name, dist.version) in recorded
    ]
    if installed:
        events += [
            AuditEvent(
                Action.INSTALLED,
                dist.name,
                str(dist.version),
                dist.location,
                dist.filename,
                dist.sha256,
                (how_of.get(dist.name) or How.STORE).value
                if dist.source
                else "named by path or URL",
            )
            for dist in dists
        ]
    return events


def _listing(check: TrustCheck, dist: PlannedDist) -> tuple[str, ...]:
    """Every file the source lists for this version now, remembered with the install."""
    served = check.served.get(dist.name)
    if served is None:
        return ()
    return tuple(f.filename for f in served.page.files if f.version == dist.version)
