"""Hand every command safe-pip does not check to pip, unchanged, for the same target."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

from safe_pip.target import pip_python

__all__ = ["pip_command", "run_pip"]


def _pop_python(arguments: list[str]) -> str | None:
    """Remove ``--python X`` / ``--python=X`` (pip only accepts it before the command)."""
    for index, arg in enumerate(arguments):
        if arg == "--python" and index + 1 < len(arguments):
            value = arguments[index + 1]
            del arguments[index : index + 2]
            return value
        if arg.startswith("--python="):
            del arguments[index]
            return arg.split("=", 1)[1]
    return None


def pip_command(
    general: Sequence[str],
    command: str,
    rest: Sequence[str],
    environ: Mapping[str, str],
) -> list[str]:
    """The pip argv for a pass-through command.

    ``--python`` is moved before the subcommand, where pip requires it; without it, the
    interpreter ``safe-pip install`` would choose is named (unless it is safe-pip's own),
    so that ``safe-pip list`` lists the same environment ``safe-pip install`` installs into.
    """
    before = list(general)
    after = list(rest)
    python = _pop_python(before) or _pop_python(after)
    if python is None:
        python = pip_python(environ)
    argv = [sys.executable, "-m", "pip"]
    if python is not None:
        argv += ["--python", python]
    return [*argv, *before, command, *after]


def run_pip(argv: Sequence[str]) -> int:
    """Run pip in the foreground; its output and exit status are the command's."""
    process = subprocess.Popen(list(argv), env=dict(os.environ))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.wait()
        return 130
