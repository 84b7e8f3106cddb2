"""The hand-off of written modules to the plan's bytecode compiler.

Each written module gets its bytecode as soon as its wheel is in place; the bytecode
files are journaled like any other file and recorded in each RECORD, as pip does. A
compiler that fails costs only the bytecode: the modules compile on first import.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.install.bytecode import Compiler, CompilerFailed, pyc_path
from safe_pip.install.journal import Journal, remove_file

if TYPE_CHECKING:
    from safe_pip.install.backups import Backups
    from safe_pip.install.destination import PlacedDestination

__all__ = ["BytecodeHandOff"]

logger = logging.getLogger(__name__)


class BytecodeHandOff:
    """Gives the compiler each wheel's modules once written, journaling their bytecode."""

    def __init__(
        self,
        compiler: Compiler | None,
        cache_tag: str | None,
        journal: Journal,
        backups: Backups,
    ) -> None:
        self._compiler = compiler
        self._cache_tag = cache_tag
        self._journal = journal
        self._backups = backups

    def modules_written(self, destination: PlacedDestination) -> None:
        """Hand over a written wheel's modules, each bytecode file journaled first."""
        compiler, cache_tag = self._compiler, self._cache_tag
        jobs = destination.sources_to_compile()
        if compiler is None or cache_tag is None or not jobs:
            return
        for real, *_rest in jobs:
            self._backups.make_way(pyc_path(real, cache_tag))
        compiler.modules_written(destination.project, jobs)

    def finish(self) -> dict[Path, Path]:
        """The bytecode file of each compiled module, by the module's path."""
        compiler, cache_tag = self._compiler, self._cache_tag
        if compiler is None or cache_tag is None:
            return {}
        try:
            results = compiler.finish()
        except CompilerFailed as exc:
            logger.warning(
                "bytecode compilation failed; modules will compile on first import: %s", exc
            )
            for real in compiler.written:
                remove_file(pyc_path(real, cache_tag))
            return {}
        compiled = {}
        for real, pyc in zip(compiler.written, results, strict=True):
            if pyc is not None:
                compiled[real] = pyc
                if pyc != pyc_path(real, cache_tag):
                    self._journal.created.append(pyc)
        return compiled

    def stop(self) -> None:
        """Kill the compiler before a rollback, so it writes nothing afterwards."""
        if self._compiler is not None:
            self._compiler.stop()
