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
from typing import Any, Protocol

from packaging.utils import NormalizedName

from safe_pip.errors import FirstSeenRefused, HashMismatch, TrustStoreError
from safe_pip.gateway.selection import FilePolicy
from safe_pip.models import Exemption, Finding, NameSet, Plan, PlannedDist, ServedProject, Severity
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.policy.hashes import HashPin, approving_digests
from safe_pip.policy.prompting import Prompter
from safe_pip.policy.review import (
    Approval,
    ProjectFacts,
    check_remembered,
    decide,
    refusal_message,
    remembered_mismatches,
    trust_review,
    update_facts,
)
from safe_pip.policy.trust import How, Remembered, TrustedProject, TrustStore
from safe_pip.policy.updates import (
    Replaced,
    exemptions_used,
    profile_wheel,
    replaced_message,
    replaced_releases,
    update_changes,
)

__all__ = [
    "ApprovalNeeded",
    "TrustCheck",
    "TrustSettings",
    "approve_early",
    "check_trust",
    "confirm",
    "remember",
    "require_approved",
    "review_updates",
]


class TrustSettings(Protocol):
    """What the trust stage reads of the command's settings (a
    :class:`~safe_pip.settings.Settings` has it all)."""

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


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """The approvals of one command, and where they will be recorded."""

    store: TrustStore
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
) -> TrustCheck:
    """Review the plan against the trust store; nothing is asked or written yet.

    :param pins: the requirements' ``--hash`` pins
        (:func:`~safe_pip.policy.hashes.pins_by_project`).

    :raises HashMismatch: a file differs from the one installed before as that version.
    :raises TrustStoreError: the store is unreadable.
    """
    store, audit = TrustStore(settings.home), AuditLog(settings.home)
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


def review_updates(
    check: TrustCheck,
    plan: Plan,
    files: Mapping[NormalizedName, Path],
    settings: TrustSettings,
    prompter: Prompter | None,
) -> tuple[TrustCheck, list[Finding]]:
    """Compare each update's wheel with the last approved release's, before anything is
    written (DESIGN invariant 9): metadata and file listings only.

    An update that changes what runs (dependencies, scripts, entry points, top-level
    modules, native libraries, startup hooks, a size jump, a changed home page or
    repository) is approved by naming it in ``--trust`` or by a yes at the review;
    unattended it is refused. Any other update is a note in the plan.

    :raises FirstSeenRefused: an update that changes what runs was not approved.
    """
    profiles: dict[NormalizedName, Mapping[str, Any]] = {}
    notes: list[Finding] = []
    pending: list[ProjectFacts] = []
    approved: list[Approval] = []
    for dist in plan:
        path = files.get(dist.name)
        if path is None or path.suffix != ".whl":
            continue
        try:
            profile = profile_wheel(path)
        except ValueError:
            continue  # inspection refuses it, with the reason
        profiles[dist.name] = profile.to_record()
        changes = update_changes(check.trusted.get(dist.name), dist.version, profile)
        if changes is None:
            continue
        shown = "; ".join(changes.material + changes.other)
        if not changes.material:
            notes.append(
                Finding(
                    dist.name,
                    Severity.NOTE,
                    f"updated from {changes.previous}: nothing that runs changed"
                    + (f" ({shown})" if shown else ""),
                )
            )
            continue
        facts = update_facts(dist, changes.previous, changes.material, check.served)
        if facts is None:
            continue
        if dist.name in settings.trust_flags.names:
            approved.append(Approval(facts, How.FLAG))
            notes.append(
                Finding(
                    dist.name,
                    Severity.WARNING,
                    f"update from {changes.previous} approved by --trust {dist.name}: {shown}",
                )
            )
        else:
            pending.append(facts)
    approved += _asked(check, pending, settings, prompter)
    return replace(check, approvals=check.approvals + tuple(approved), profiles=profiles), notes


def _asked(
    check: TrustCheck,
    pending: Sequence[ProjectFacts],
    settings: TrustSettings,
    prompter: Prompter | None,
) -> list[Approval]:
    """The user's yes to each update pending, or a refusal (unattended: always)."""
    if not pending:
        return []
    _ask(check, pending, settings, prompter, "update changes what runs; unattended")
    return [Approval(item, How.PROMPT) for item in pending]


def _ask(
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
    _ask(check, pending, settings, prompter, "unattended")
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
) -> None:
    """Approve projects whose code is about to run before the main plan is reviewed (a
    build backend and its requirements, a source archive whose metadata pip builds), and
    record them at once: their code runs now, whatever becomes of the install.

    The same review as :func:`check_trust` and :func:`confirm`: the trust store,
    ``--trust``, the settings, a hash pin, a question when someone can answer.

    :param pins: the requirements' ``--hash`` pins (pip downloads pinned files whole to
        check them, so a project of the main plan can come this way too).
    :raises FirstSeenRefused: a project nobody approved (unattended: naming ``--trust``).
    :raises HashMismatch: a file differs from the one remembered for its version.
    """
    with _EARLY:
        check = confirm(check_trust(plan, pins or {}, settings, served), settings, prompter)
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
    check.audit.write(events)


def _listing(check: TrustCheck, dist: PlannedDist) -> tuple[str, ...]:
    """Every file the source lists for this version now, remembered with the install."""
    served = check.served.get(dist.name)
    if served is None:
        return ()
    return tuple(f.filename for f in served.page.files if f.version == dist.version)
