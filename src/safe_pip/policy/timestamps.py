"""How the trust store and the audit log write a moment: ISO 8601, UTC, to the second.

A module of its own: every install reads the trust store, and only a trust decision writes
the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now() -> str:
    """The current time as the store and the audit log write it: ISO 8601, UTC, seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
