"""``safe-pip trust``: list, approve, drop and forget what the trust store remembers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TextIO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.cli.trust_new_cmd import ALLOW_NEW_HELP, run_allow_new
from safe_pip.errors import EXIT_FAILED, EXIT_OK, UsageError
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.policy.trust import How, TrustStore
from safe_pip.settings.options import default_home

__all__ = ["TRUST_HELP", "run_trust_command"]

TRUST_HELP = f"""\
Usage:
  safe-pip trust list                 Show every approved project: source, when, how.
  safe-pip trust add NAME...          Approve projects before their first install.
  safe-pip trust remove NAME...       Drop projects: they are first-seen again.
  safe-pip trust forget NAME==VERSION...
                                      Drop the remembered sha256 and file listing of that
                                      version, to accept a changed file or a release that
                                      changed after it was installed, deliberately.
{ALLOW_NEW_HELP}
The trust store is trust.json in the safe-pip home ($SAFE_PIP_HOME); every change is
also written to audit.log there.
"""


def run_trust_command(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Run one ``safe-pip trust`` subcommand and return its exit status.

    :raises SafePipError: for the caller to present.
    """
    if not argv or argv[0] in ("-h", "--help", "help"):
        out.write(TRUST_HELP)
        return EXIT_OK
    action, names = argv[0], list(argv[1:])
    home = default_home(os.environ)
    store, audit = TrustStore(home), AuditLog(home)
    if action == "list" and not names:
        return _list(store, out)
    if action == "allow-new":
        return run_allow_new(names, store, audit, out)
    if action in ("add", "remove", "forget") and names:
        if any(name.startswith("-") for name in names):
            msg = f"safe-pip trust {action} takes project names, not {names[0]!r}"
            raise UsageError(msg)
        if action == "add":
            return _add(store, audit, names, out)
        if action == "remove":
            return _remove(store, audit, names, out, err)
        return _forget(store, audit, names, out, err)
    msg = f"Unknown or incomplete trust command {' '.join(argv)!r}.\n{TRUST_HELP}"
    raise UsageError(msg)


def _list(store: TrustStore, out: TextIO) -> int:
    projects = store.load()
    if not projects:
        out.write(f"No approved projects yet ({store.path}).\n")
        return EXIT_OK
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for heading in ("project", "source", "approved", "how", "versions remembered"):
        table.add_column(heading, overflow="fold")
    for name in sorted(projects):
        project = projects[name]
        table.add_row(
            name,
            project.source or "(not installed yet)",
            project.approved_at.isoformat(timespec="seconds"),
            project.how.value,
            ", ".join(sorted(project.files, key=_version_key)) or "-",
        )
    console = Console(
        file=out, markup=False, highlight=False, no_color=bool(os.environ.get("NO_COLOR"))
    )
    if not console.is_terminal:
        # Piped or logged: one line per project, however wide, for grep and friends.
        wide = console.options.update_width(1 << 16)
        console.width = max(console.width, Measurement.get(console, wide, table).maximum)
    console.print(table)
    return EXIT_OK


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


def _add(store: TrustStore, audit: AuditLog, names: list[str], out: TextIO) -> int:
    added = store.approve(names, How.COMMAND)
    audit.write(AuditEvent(Action.APPROVED, name, how=How.COMMAND.value) for name in added)
    for name in sorted({canonicalize_name(n) for n in names}):
        state = "approved" if name in added else "already approved"
        out.write(f"{name}: {state}\n")
    return EXIT_OK


def _remove(store: TrustStore, audit: AuditLog, names: list[str], out: TextIO, err: TextIO) -> int:
    removed = store.remove(names)
    audit.write(AuditEvent(Action.REMOVED, name, how=How.COMMAND.value) for name in removed)
    missing = sorted({canonicalize_name(n) for n in names} - set(removed))
    for name in removed:
        out.write(f"{name}: removed; it is first-seen again\n")
    for name in missing:
        err.write(f"ERROR: {name} is not in the trust store ({store.path}).\n")
    return EXIT_FAILED if missing else EXIT_OK


def _pinned(text: str) -> tuple[str, Version]:
    try:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        if specifier.operator != "==" or "*" in specifier.version:
            raise ValueError
        return canonicalize_name(requirement.name), Version(specifier.version)
    except (InvalidRequirement, InvalidVersion, ValueError) as exc:
        msg = f"safe-pip trust forget takes NAME==VERSION, not {text!r}"
        raise UsageError(msg) from exc


def _forget(store: TrustStore, audit: AuditLog, specs: list[str], out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    for name, version in [_pinned(spec) for spec in specs]:
        dropped = store.forget(name, version)
        if not dropped:
            err.write(f"ERROR: safe-pip remembers no file of {name} {version}.\n")
            status = EXIT_FAILED
            continue
        audit.write(
            AuditEvent(
                Action.FORGOTTEN, name, str(version), None, filename, sha256, How.COMMAND.value
            )
            for filename, sha256 in sorted(dropped.items())
        )
        files = ", ".join(sorted(dropped))
        out.write(
            f"{name} {version}: forgot the sha256 of {files}; the next install accepts the "
            f"file the source serves now and remembers it.\n"
        )
    return status
