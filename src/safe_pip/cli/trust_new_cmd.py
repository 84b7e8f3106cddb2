"""``safe-pip trust allow-new``: let a release through the cooldown, with a reason."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from safe_pip.errors import EXIT_OK, UsageError
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.policy.trust import TrustStore, parse_exemption

__all__ = ["ALLOW_NEW_HELP", "run_allow_new"]

ALLOW_NEW_HELP = """\
  safe-pip trust allow-new NAME[==VERSION] --reason TEXT [--until YYYY-MM-DD]
                                      Let a release younger than the cooldown (7 days
                                      unless --min-release-age says otherwise) be installed:
                                      an urgent fix. The reason is shown in every plan that
                                      uses it and written to the audit log; after --until it
                                      no longer applies. Without arguments: list them.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # raises instead of exiting
        msg = f"safe-pip trust allow-new: {message}\n{ALLOW_NEW_HELP}"
        raise UsageError(msg)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="safe-pip trust allow-new", add_help=False)
    parser.add_argument("spec")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--until")
    return parser


def run_allow_new(argv: Sequence[str], store: TrustStore, audit: AuditLog, out: TextIO) -> int:
    """Add one exemption from the cooldown, or list them (no arguments).

    :raises UsageError: a malformed name, version, reason or date.
    :raises TrustStoreError: the store cannot be read or written.
    """
    if not argv:
        return _list(store, out)
    args = _parser().parse_args(list(argv))
    try:
        exemption = parse_exemption(args.spec, args.reason, args.until, "trust store")
    except ValueError as exc:
        msg = f"safe-pip trust allow-new: {exc}"
        raise UsageError(msg) from exc
    if exemption.expired(datetime.now(UTC).date()):
        msg = f"safe-pip trust allow-new {exemption.label}: --until {args.until} has passed"
        raise UsageError(msg)
    store.allow_new(exemption)
    audit.write(
        [
            AuditEvent(
                Action.EXEMPTED,
                exemption.name,
                None if exemption.version is None else str(exemption.version),
                how=f"allow-new added: {exemption.describe()}",
            )
        ]
    )
    out.write(
        f"{exemption.describe()}: may be installed however young; every plan that uses it "
        f"says so.\n"
    )
    return EXIT_OK


def _list(store: TrustStore, out: TextIO) -> int:
    today = datetime.now(UTC).date()
    exemptions = store.exemptions()
    if not exemptions:
        out.write(f"No exemptions from the cooldown ({store.path}).\n")
    for exemption in exemptions:
        state = " EXPIRED, no longer applies" if exemption.expired(today) else ""
        out.write(f"{exemption.describe()}{state}\n")
    return EXIT_OK
