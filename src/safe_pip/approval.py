"""The trust stage: first-seen approval before anything is fetched, records after install.

The store is read once per command. A project that needs approval is approved by
``--trust``, the settings, a hash pin or the user's answer; unattended, it is refused.
Approvals and file hashes are written only after a successful install; refusals go to the
audit log at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from packaging.utils import NormalizedName

from safe_pip.audit import Action, AuditEvent, AuditLog
from safe_pip.errors import FirstSeenRefused, TrustStoreError
from safe_pip.hashes import HashPin, approving_digests
from safe_pip.install import InstallResult
from safe_pip.models import Plan, ServedProject
from safe_pip.prompting import Prompter
from safe_pip.review import (
    Approval,
    ProjectFacts,
    check_remembered,
    decide,
    refusal_message,
    remembered_mismatches,
    trust_review,
)
from safe_pip.settings import Settings
from safe_pip.trust import How, Remembered, TrustStore

__all__ = ["TrustCheck", "check_trust", "confirm", "remember"]


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """The approvals of one command, and where they will be recorded."""

    store: TrustStore
    audit: AuditLog
    approvals: tuple[Approval, ...]
    now: datetime

    @property
    def pending(self) -> list[ProjectFacts]:
        """The projects nobody approved yet."""
        return [approval.facts for approval in self.approvals if approval.how is None]


def check_trust(
    plan: Plan,
    pins: Mapping[NormalizedName, Sequence[HashPin]],
    settings: Settings,
    served: Mapping[NormalizedName, ServedProject | None],
) -> TrustCheck:
    """Review the plan against the trust store; nothing is asked or written yet.

    :param pins: the requirements' ``--hash`` pins (:func:`~safe_pip.hashes.pins_by_project`).

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
    approvals = decide(
        trust_review(plan, trusted, served, now),
        flagged=settings.trust_flags,
        settings=settings.trust,
        pins=approving_digests(pins),
    )
    return TrustCheck(store, audit, approvals, now)


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


def confirm(check: TrustCheck, settings: Settings, prompter: Prompter | None) -> TrustCheck:
    """Every project approved, asking the user when someone can answer.

    :raises FirstSeenRefused: unattended with projects nobody approved, or the user said no
        to any of them (all of the plan depends on all of it: nothing is installed).
    """
    pending = check.pending
    if not pending:
        return check
    if settings.unattended or prompter is None:
        check.audit.write(_refused(pending, "unattended"))
        raise FirstSeenRefused(refusal_message(pending, check.now, asked=False))
    answers = prompter.approve(pending)
    refused = [item for item in pending if not answers.get(item.name, False)]
    if refused:
        check.audit.write(_refused(refused, How.PROMPT.value))
        raise FirstSeenRefused(refusal_message(refused, check.now, asked=True))
    approvals = tuple(
        replace(approval, how=How.PROMPT) if approval.how is None else approval
        for approval in check.approvals
    )
    return replace(check, approvals=approvals)


def remember(check: TrustCheck, result: InstallResult) -> None:
    """Record the approvals and the sha256 of every file just installed.

    Built wheels are remembered by the source archive that was downloaded (the plan's
    file), not by the wheel built from it, which differs from build to build.

    :raises TrustStoreError: the store or the log could not be written; the message says
        that the install itself went through.
    """
    try:
        _record(check, result)
    except TrustStoreError as exc:
        labels = " ".join(dist.label for dist in result.installed)
        msg = (
            f"Installed {labels}, but safe-pip could not record it: {exc} The projects stay "
            f"installed; until they are recorded, the next install shows them as first-seen "
            f"and has no remembered hashes to check them against."
        )
        raise TrustStoreError(msg) from exc


def _record(check: TrustCheck, result: InstallResult) -> None:
    how_of = {approval.facts.name: approval.how for approval in check.approvals}
    records = [
        Remembered(
            dist.name,
            dist.version,
            dist.filename,
            dist.sha256,
            dist.source,
            how_of.get(dist.name) or How.STORE,
        )
        for dist in result.installed
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
    events += [
        AuditEvent(
            Action.INSTALLED,
            dist.name,
            str(dist.version),
            dist.location,
            dist.filename,
            dist.sha256,
            (how_of.get(dist.name) or How.STORE).value if dist.source else "named by path or URL",
        )
        for dist in result.installed
    ]
    check.audit.write(events)
