"""The ``safe-pip`` command: the only place that prints, prompts or sets an exit status.

``install`` goes through safe-pip's pipeline; every other pip command is handed to pip
unchanged, for the same target environment.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from safe_pip.cli.consoles import Consoles
from safe_pip.cli.options import locate, split_command
from safe_pip.errors import EXIT_INTERRUPTED, EXIT_OK, SafePipError, UsageError

if TYPE_CHECKING:
    from safe_pip.resolve.ahead import Ahead

__all__ = ["entrypoint", "main"]

_CHECKED_COMMANDS = frozenset({"install", "download", "wheel", "lock", "audit"})
_RESOLVING_COMMANDS = frozenset({"install", "lock"})
_CANCELLED = "ERROR: Operation cancelled by user; the environment was left as it was.\n"

_HELP = """\
Usage:
  safe-pip <command> [options]

safe-pip is a drop-in for pip that checks what it installs: wheels only unless a project
is allowed to build from source, the first source that knows a project serves it (no
dependency confusion), every file verified against its sha256, every wheel inspected
before it is written, and the whole install rolled back if anything fails.

Checked commands:
  install                     Install packages (see "safe-pip install --help").
  download                    Download packages through the same gateway and policy.
  wheel                       Build wheels; only allowed projects build from source.
  lock                        Resolve through the same gateway and policy and write a
                              pinned requirements file with every file's sha256.

safe-pip's own commands:
  trust                       List, approve, remove or forget approved projects and the
                              remembered sha256 of installed files (see "safe-pip trust").
  audit                       Check the environment, or a pinned requirements file (-r),
                              against known vulnerabilities (OSV advisories, --advisories).
  doctor                      Look for ways around safe-pip in this set-up (plain pip on
                              PATH, extra indexes, pip in Dockerfiles and CI files).
  sources                     Print the sources an install asks, in order, where each
                              came from, the mirror groups and the pins.
  cache info | purge          Show or empty safe-pip's cache (downloads, remembered
                              resolutions, advisories, bytecode store), then pip's.

Every other pip command (list, freeze, show, uninstall, check, inspect, config, the other
cache commands, hash, index, help, ...) is handed to pip unchanged, for the same
environment.

General options:
  -h, --help                  Show help.
  -V, --version               Show safe-pip's and pip's versions.
  --python <python>           The interpreter or environment to work on (default: the
                              active virtual environment, else the active conda
                              environment, else the first python3 or python on PATH).
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from safe_pip import __version__

    try:
        pip_version = version("pip")
    except PackageNotFoundError:
        pip_version = "not installed"
    python = ".".join(str(part) for part in sys.version_info[:3])
    location = Path(__file__).resolve().parent.parent
    return f"safe-pip {__version__} from {location} (pip {pip_version}, python {python})"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM stops a command as Ctrl-C does: it unwinds, rolling back what it began."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ahead(command: str, argv: list[str]) -> Ahead | None:
    """For a command that resolves, the target's description and pip, started now in the
    target interpreter: both overlap safe-pip's own imports and settings."""
    if command not in _RESOLVING_COMMANDS:
        return None
    from safe_pip.resolve.ahead import Ahead

    try:
        first, choice = locate(command, argv, os.environ)
    except UsageError:
        return None  # the command itself reports it
    # An install starts pip once what is installed does not satisfy it (PipelineStages).
    return Ahead.start(choice.python, first.prefix, os.environ, pip=command != "install")


def _run_checked(command: str, rest: list[str], general: list[str]) -> int:
    argv = [*general, *rest]
    if "-h" in rest or "--help" in rest:
        from safe_pip.cli.install_cmd import command_help

        _consoles(argv).line_printer()(command_help(command))
        return EXIT_OK
    with _interruptible():
        try:
            with ExitStack() as stack:
                ahead = _ahead(command, argv)
                if ahead is not None:
                    stack.enter_context(ahead)
                return _run_guarded(command, argv, ahead)
        except KeyboardInterrupt:
            sys.stderr.write(_CANCELLED)
            return EXIT_INTERRUPTED


def _run_guarded(command: str, argv: list[str], ahead: Ahead | None) -> int:
    from safe_pip.cli.install_cmd import run_install_command, run_pip_command_through_gateway

    consoles = _consoles(argv)
    debug = "--debug" in argv
    try:
        if command == "install":
            return run_install_command(argv, consoles, ahead)
        if command == "lock":
            from safe_pip.cli.lock_cmd import run_lock_command

            return run_lock_command(argv, consoles.out, consoles.err, ahead)
        if command == "audit":
            from safe_pip.cli.audit_cmd import run_audit_command

            return run_audit_command(argv, consoles.out, consoles.err)
        return run_pip_command_through_gateway(command, argv, consoles.out, consoles.err)
    except SafePipError as exc:
        if debug:
            raise
        consoles.line_printer(to_err=True)(f"ERROR: {exc}")
        return exc.exit_code


def _consoles(argv: list[str]) -> Consoles:
    return Consoles(no_color="--no-color" in argv or bool(os.environ.get("NO_COLOR")))


def _reported(run: Callable[[], int]) -> int:
    """Run a plain subcommand: an expected failure is one ``ERROR:`` line and its status."""
    try:
        return run()
    except SafePipError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return exc.exit_code


def _run_trust(rest: list[str]) -> int:
    from safe_pip.cli.trust_cmd import run_trust_command

    return _reported(lambda: run_trust_command(rest, sys.stdout, sys.stderr))


def _run_doctor(rest: list[str]) -> int:
    from safe_pip.cli.doctor_cmd import run_doctor_command

    return _reported(lambda: run_doctor_command(rest, sys.stdout))


def _run_sources(argv: list[str]) -> int:
    from safe_pip.cli.sources_cmd import run_sources_command

    return _reported(lambda: run_sources_command(argv, sys.stdout))


def _run_cache(general: list[str], rest: list[str]) -> int:
    from safe_pip.cli.cache_cmd import run_cache_command

    out = _consoles([*general, *rest]).out
    return _reported(lambda: run_cache_command(general, rest, out))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``safe-pip`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    general, command, rest = split_command(arguments)
    if command is None:
        if "-V" in general or "--version" in general:
            sys.stdout.write(_version() + "\n")
            return EXIT_OK
        if not general or "-h" in general or "--help" in general:
            sys.stdout.write(_HELP)
            return EXIT_OK
        sys.stderr.write('ERROR: You must give a command (use "safe-pip --help").\n')
        return UsageError.exit_code
    if command in _CHECKED_COMMANDS:
        return _run_checked(command, rest, general)
    if command == "trust":
        return _run_trust(rest)
    if command == "doctor":
        return _run_doctor(rest)
    if command == "sources":
        return _run_sources([*general, *rest])
    if command == "cache":
        from safe_pip.cli.cache_cmd import handles

        if handles(rest):
            return _run_cache(general, rest)
    if command == "help" and rest and rest[0] in _CHECKED_COMMANDS:
        return _run_checked(rest[0], ["--help"], general)
    from safe_pip.cli.guard import refusal_of_pip_command
    from safe_pip.cli.passthrough import pip_command, run_pip

    refusal = refusal_of_pip_command(general, command, rest, os.environ)
    if refusal is not None:
        sys.stderr.write(f"ERROR: {refusal}\n")
        return refusal.exit_code
    return run_pip(pip_command(general, command, rest, os.environ))


_YOUNG_COLLECTION = 10_000
"""Allocations between two collections of young objects (Python's default is 700)."""


def entrypoint() -> None:
    """Console-script entry point."""
    # A command allocates in bursts (index pages, wheel listings) and ends soon after: at the
    # default rate the collector spent 0.4 s of a large install, and 0.17 s at this one.
    gc.set_threshold(_YOUNG_COLLECTION, *gc.get_threshold()[1:])
    status = main()
    if status == EXIT_INTERRUPTED:
        _exit_abandoning_threads(status)
    # What the command loaded is freed with the process: left to the collector, tearing it
    # down would add tens of milliseconds to every exit.
    gc.freeze()
    raise SystemExit(status)


def _exit_abandoning_threads(status: int) -> None:
    """Exit now, without waiting for the threads an interrupt left behind.

    An interrupted command has undone what it began, but threads may still wait on a
    source that never answers (a prefetch, a download): the interpreter's exit would join
    them (``concurrent.futures`` joins its workers at exit), up to every timeout and retry.
    Output and logs are flushed first; nothing else is left to do.
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(status)
