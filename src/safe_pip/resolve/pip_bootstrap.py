"""pip's bootstrap (:mod:`safe_pip.resolve.pip_process`): run by the target interpreter, by
path, with the path of pip's runner script as its argument.

pip has shipped the runner script since 22.3; pip's own build environments and ``pip
--python`` run it the same way (``pip._internal.utils.misc.get_runnable_pip``). The
bootstrap sets up what running the runner script would (the runner's directory first on
sys.path, and this copy of pip found whatever the target has installed), imports what an
install imports, and then runs the runner itself on the arguments it is sent: one JSON list
on a line, after which standard input is /dev/null, as for any pip run. No line, no run.

It runs without ``-I`` and ``-S``, unlike safe-pip's other scripts in the target: the runner
script runs without them, and pip must see exactly what it sees there (site-packages and
``.pth`` entries, the user site, ``PYTHONPATH`` and the other ``PYTHON*`` variables). The
target interpreter has neither safe-pip nor its dependencies, and may be as old as Python
3.7: this module imports only the standard library and uses nothing newer.
"""

from __future__ import annotations

import os
import sys

# Run by path, a script has its directory first on sys.path (here safe-pip's own modules,
# which pip must not see), where running the runner script puts the runner's directory; with
# PYTHONSAFEPATH neither is put there. Only what the interpreter has already loaded (os,
# sys) is used before it is replaced.
if (
    __name__ == "__main__"
    and sys.path
    and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__))  # noqa: PTH120
):
    sys.path[0] = os.path.dirname(sys.argv[1])  # noqa: PTH120

import contextlib
import importlib
import json
import runpy
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import IO

INSTALL_MODULES = (
    "pip._internal.cli.main",
    "pip._internal.commands.install",
    "pip._internal.resolution.resolvelib.resolver",
    "pip._internal.operations.prepare",
)
"""What an install imports, and takes most of pip's start."""


class ThisPip:
    """Finds ``pip`` in one directory only: the runner's pip, whatever the target has
    installed (as the runner script's own finder does)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "pip":
            return None
        return PathFinder.find_spec(fullname, [self.root], target)


def preload() -> None:
    """Import pip's install machinery while the arguments are on their way. An import that
    fails here fails again, and is reported, when the runner script runs."""
    with contextlib.suppress(Exception):
        for name in INSTALL_MODULES:
            importlib.import_module(name)


def read_arguments(stream: IO[str]) -> list[str] | None:
    """pip's arguments: one JSON list on a line; ``None`` at the end of input."""
    line = stream.readline()
    if not line:
        return None
    arguments: list[str] = json.loads(line)
    return arguments


def detach_stdin() -> None:
    """Make standard input /dev/null, as for any pip run given its arguments."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def main(argv: Sequence[str]) -> int:
    """Run pip's runner script (``argv``: its path) on the arguments sent."""
    [runner] = argv
    sys.meta_path.insert(0, ThisPip(str(Path(runner).parent.parent)))
    preload()
    arguments = read_arguments(sys.stdin)
    if arguments is None:
        return 0
    detach_stdin()
    sys.argv = [runner, *arguments]
    runpy.run_path(runner, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
