"""What pip is handed and what it says back.

The user's requirement lines reach pip only as requirements and constraints files of
safe-pip's own, each line refused unless pip would read it back as written
(:meth:`RequirementLine.to_pip_line`). pip's messages come back with the gateway's
addresses, which carry its secret, and those files replaced by what they stand for.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.resolve.gateway_view import GatewayView
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = ["Cleaner", "PipFiles"]


def _write_lines(path: Path, lines: Sequence[RequirementLine]) -> None:
    """Write the lines pip reads; each refused unless pip would read it back as it is.

    :raises UsageError: naming where a refused line was written.
    """
    text = "".join(line.to_pip_line() + "\n" for line in lines)
    # Readable by this user alone, like the work directory around it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)


@dataclass(frozen=True, slots=True)
class PipFiles:
    """The files handed to pip, so its messages can be mapped back to the user's lines."""

    requirements: Path
    constraints: Path
    requirement_lines: tuple[RequirementLine, ...]
    constraint_lines: tuple[RequirementLine, ...]

    @classmethod
    def write(cls, workdir: Path, lines: Sequence[RequirementLine]) -> PipFiles:
        files = cls(
            workdir / "requirements.txt",
            workdir / "constraints.txt",
            tuple(line for line in lines if not line.constraint),
            tuple(line for line in lines if line.constraint),
        )
        _write_lines(files.requirements, files.requirement_lines)
        _write_lines(files.constraints, files.constraint_lines)
        return files

    def original(self, flag: str, path: str, number: int) -> str | None:
        """The user's line behind ``-r <our file> (line N)``."""
        lines = (
            self.requirement_lines
            if path == str(self.requirements)
            else (self.constraint_lines if path == str(self.constraints) else ())
        )
        if 1 <= number <= len(lines):
            line = lines[number - 1]
            return f"{line.text} ({line.origin})"
        return None


@dataclass(frozen=True, slots=True)
class Cleaner:
    """Rewrites pip's output: gateway addresses and our temporary files become what they
    stand for, so messages show the user's own requirement lines and file names."""

    gateway: GatewayView
    files: PipFiles

    def __call__(self, text: str) -> str:
        base = re.escape(self.gateway.base_url)
        text = re.sub(
            base + r"/files/[0-9a-f]{64}/([^\s'\")]+)",
            lambda m: urllib.parse.unquote(m.group(1)),
            text,
        )
        text = re.sub(base + r"/simple/?", "the configured sources", text)
        # Whatever else names the gateway: its address carries its secret.
        text = text.replace(self.gateway.base_url, "the gateway")
        return re.sub(r"(-[rc]) (\S+) \(line (\d+)\)", self._line, text)

    def _line(self, match: re.Match[str]) -> str:
        original = self.files.original(match.group(1), match.group(2), int(match.group(3)))
        return original if original is not None else match.group(0)
