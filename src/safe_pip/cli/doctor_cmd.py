"""``safe-pip doctor``: print the ways around safe-pip and their fixes (or JSON for CI)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from safe_pip.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from safe_pip.doctor import Diagnosis

__all__ = ["DOCTOR_HELP", "run_doctor_command"]

DOCTOR_HELP = """\
Usage:
  safe-pip doctor [--json]

Looks for ways around safe-pip in this set-up and prints each with its fix: a `pip` or
`pip3` on PATH that is plain pip, a `python -m pip` that reaches plain pip, extra indexes
in pip's configuration (PIP_EXTRA_INDEX_URL, pip.conf) that take priority, plain
`pip install` lines in this project's Dockerfiles, CI files, tox.ini, noxfile.py and
Makefile, and an unreadable trust store. Nothing is changed.

Exit status: 0 when nothing was found, 1 with findings, 2 for a usage error.

Options:
  --json    One JSON document on standard output (for CI).
"""


def run_doctor_command(argv: Sequence[str], out: TextIO) -> int:
    """Run ``safe-pip doctor`` and return its exit status.

    :raises UsageError: an unknown argument.
    """
    from safe_pip.doctor import diagnose
    from safe_pip.settings.options import default_home

    if "-h" in argv or "--help" in argv:
        out.write(DOCTOR_HELP)
        return EXIT_OK
    unknown = [arg for arg in argv if arg != "--json"]
    if unknown:
        msg = f"safe-pip doctor takes only --json, not {unknown[0]!r}.\n{DOCTOR_HELP}"
        raise UsageError(msg)
    diagnosis = diagnose(os.environ, Path.cwd(), default_home(os.environ))
    if "--json" in argv:
        document = {
            "clean": diagnosis.clean,
            "findings": [asdict(finding) for finding in diagnosis.findings],
            "notes": list(diagnosis.notes),
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        _write_text(diagnosis, out)
    return EXIT_OK if diagnosis.clean else EXIT_FAILED


def _write_text(diagnosis: Diagnosis, out: TextIO) -> None:
    count = len(diagnosis.findings)
    if count:
        out.write(f"safe-pip doctor: {count} way(s) around safe-pip found.\n")
    else:
        out.write("safe-pip doctor: no way around safe-pip found.\n")
    for number, finding in enumerate(diagnosis.findings, start=1):
        out.write(f"\n{number}. {finding.problem}\n   Fix: {finding.fix}\n")
    for note in diagnosis.notes:
        out.write(f"\nNote: {note}\n")
