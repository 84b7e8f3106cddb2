"""What a finished ``safe-pip`` command must look like: its status, and never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

__all__ = ["ran", "refused", "succeeded"]


class _Environment(Protocol):
    def installed(self) -> dict[str, str]: ...


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The standard output of a command that must have exited 0."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(
    result: subprocess.CompletedProcess[str],
    *expected: str,
    untouched: _Environment | None = None,
) -> str:
    """The error output of a command that policy must have refused (exit status 3), which
    names every ``expected`` text and, where given, left ``untouched`` empty."""
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr
    if untouched is not None:
        assert untouched.installed() == {}
    return result.stderr


def ran(markers: Path) -> list[str]:
    """The marker files package code left behind, sorted: empty when none of it ran."""
    return sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []
