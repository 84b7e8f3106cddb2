"""The audit log: one JSON line per trust decision, appended, never rewritten.

``audit.log`` in the safe-pip home. Each line is written with a single ``write`` on a file
opened with ``O_APPEND``, so lines from concurrent runs interleave whole, never mixed.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from safe_pip.errors import TrustStoreError
from safe_pip.gateway.shadows import alarm_message
from safe_pip.policy.timestamps import utc_now

if TYPE_CHECKING:
    from safe_pip.models import Shadow, SourceSpec

__all__ = ["Action", "AuditEvent", "AuditLine", "AuditLog", "shadow_events"]


class Action(enum.Enum):
    """What was decided about a project."""

    APPROVED = "approved"
    REFUSED = "refused"
    INSTALLED = "installed"
    REMOVED = "removed"
    FORGOTTEN = "forgotten"
    IGNORED = "ignored"
    """A known vulnerability was ignored on purpose (the reason is in ``how``)."""
    SHADOWED = "shadowed"
    """A project name of a private source is on a public index too (``how`` names both)."""
    EXEMPTED = "exempted"
    """A release younger than the cooldown let through by an exemption (its reason is in
    ``how``)."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One decision about one project (and, where known, one file of it)."""

    decision: Action
    project: str
    version: str | None = None
    source: str | None = None
    """The source's name (never a URL with credentials)."""
    filename: str | None = None
    sha256: str | None = None
    how: str | None = None
    """How it was approved, or why it was refused."""


class AuditLine(TypedDict):
    """The JSON shape of one line."""

    time: str
    decision: str
    project: str
    version: str | None
    source: str | None
    filename: str | None
    sha256: str | None
    how: str | None


def _line(event: AuditEvent, now: str) -> bytes:
    line = AuditLine(
        time=now,
        decision=event.decision.value,
        project=event.project,
        version=event.version,
        source=event.source,
        filename=event.filename,
        sha256=event.sha256,
        how=event.how,
    )
    return (json.dumps(line, separators=(",", ":")) + "\n").encode()


class AuditLog:
    """The append-only log of one safe-pip home."""

    def __init__(self, home: Path) -> None:
        self.path = home / "audit.log"

    def write(self, events: Iterable[AuditEvent]) -> None:
        """Append one line per event.

        :raises TrustStoreError: the log cannot be written.
        """
        now = utc_now()
        lines = [_line(event, now) for event in events]
        if not lines:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                for line in lines:
                    os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            msg = f"The audit log {self.path} cannot be written: {exc}"
            raise TrustStoreError(msg) from exc


def shadow_events(shadow: Shadow, sources: Sequence[SourceSpec]) -> list[AuditEvent]:
    """What the audit log records of a shadow: the alarm, and the refusal if unpinned."""
    where = ", ".join(s.name for s in shadow.sources)
    events = []
    if shadow.alarm:
        events.append(
            AuditEvent(
                Action.SHADOWED,
                shadow.name,
                source=shadow.served.name,
                how=f"{alarm_message(shadow, sources)} (known to {where})",
            )
        )
    if shadow.ambiguous:
        events.append(
            AuditEvent(
                Action.REFUSED,
                shadow.name,
                source=shadow.served.name,
                how=f"ambiguous: known to {where}, and no pin says which is meant",
            )
        )
    return events
