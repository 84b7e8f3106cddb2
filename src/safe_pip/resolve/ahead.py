"""Work a resolving command starts before safe-pip's own imports, in the target interpreter:
the target describing itself, and pip importing itself (:class:`PipAhead`). An install starts
pip only once what is installed does not satisfy the request: a request already satisfied
never uses it, and would share the cores with it.

The command line is parsed in full only later, with pip's configuration; what was started
ahead is used only if that names the same interpreter (and ``--prefix``), and is stopped
otherwise. This module imports only the standard library and safe-pip's light modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safe_pip.resolve.pip_process import PipAhead
from safe_pip.target import TargetEnvironment, TargetQuery, query_target

__all__ = ["Ahead"]


@dataclass
class Ahead:
    """What was started for one interpreter. Use as a context manager: whatever was not
    used is stopped on exit."""

    target: TargetQuery
    pip: PipAhead | None

    @classmethod
    def start(
        cls, python: Path, prefix: str | None, environ: Mapping[str, str], *, pip: bool = True
    ) -> Ahead:
        """:param pip: start pip too; else :meth:`start_pip` starts it when it is wanted."""
        return cls(TargetQuery(python, prefix), PipAhead.start(python, environ) if pip else None)

    def start_pip(self, environ: Mapping[str, str]) -> None:
        """Start pip in the interpreter, unless it was started already."""
        if self.pip is None:
            self.pip = PipAhead.start(self.target.python, environ)

    def target_environment(self, python: Path, prefix: str | None) -> TargetEnvironment:
        """The target's answer, if it was asked about this interpreter and prefix.

        :raises UsageError: the interpreter cannot be run.
        """
        if (python, prefix) == (self.target.python, self.target.prefix):
            return self.target.result()
        self.target.close()
        return query_target(python, prefix)

    def close(self) -> None:
        self.target.close()
        if self.pip is not None:
            self.pip.close()

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
