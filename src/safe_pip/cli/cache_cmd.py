"""``safe-pip cache info`` and ``safe-pip cache purge``: safe-pip's cache, then pip's.

safe-pip keeps a cache of its own beside pip's. These two show or empty it, then hand the
same command to pip, so that its cache (and its output) follows; every other ``cache``
subcommand is pip's alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from safe_pip.cli.options import INSTALL_OPTIONS, Group, general_value_flags, split_command
from safe_pip.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from safe_pip.cache_usage import SafePipCache

__all__ = ["CACHE_HELP", "handles", "run_cache_command"]

CACHE_HELP = """\
Usage:
  safe-pip [options] cache info
  safe-pip [options] cache purge

info     Prints safe-pip's cache directory and, for each part of safe-pip's cache
         (downloads, remembered resolutions, advisories, bytecode store), its entries
         and size; then pip's cache, as `pip cache info` does.
purge    Removes every part of safe-pip's cache, then pip's, as `pip cache purge` does.

The cache is the one `safe-pip install` uses with the same options: `--cache-dir <dir>`,
else pip's configured cache-dir, else the `cache` directory in safe-pip's home
(SAFE_PIP_HOME). The trust store, the audit log and the settings are never touched.
`cache dir`, `cache list` and `cache remove` are pip's alone.
"""

_OWN = frozenset({"info", "purge"})


def handles(rest: Sequence[str]) -> bool:
    """Whether ``safe-pip cache REST`` is one of safe-pip's own: ``info`` or ``purge``."""
    return split_command(rest)[1] in _OWN


def run_cache_command(general: Sequence[str], rest: Sequence[str], out: Console) -> int:
    """Show or empty safe-pip's cache, then run pip's ``cache`` command; pip's status.

    :raises SafePipError: a usage error, settings that cannot be read, a file that cannot
        be removed.
    """
    from safe_pip.cache_usage import SafePipCache, cache_directory
    from safe_pip.cli.install_cmd import parse_configured
    from safe_pip.cli.passthrough import pip_command, run_pip
    from safe_pip.settings.options import default_home

    before, subcommand, after = split_command(rest)
    options = [*general, *before, *after]
    if "-h" in options or "--help" in options:
        out.print(CACHE_HELP, markup=False, highlight=False, end="")
        return EXIT_OK
    _check_options(f"cache {subcommand}", options)
    args, _ = parse_configured("install", options, os.environ)
    out.quiet = out.quiet or args.quiet > 0  # as pip's own lines are silenced
    home = default_home(os.environ)
    cache_dir = cache_directory(args.cache_dir, home, disabled=args.no_cache_dir)
    # With --no-cache-dir safe-pip keeps nothing; pip says its cache is disabled.
    if cache_dir is not None:
        show = _info if subcommand == "info" else _purge
        show(SafePipCache(cache_dir, home), out)
    out.file.flush()  # before pip writes to the same stream
    return run_pip(pip_command(general, "cache", rest, os.environ))


def _check_options(command: str, options: Sequence[str]) -> None:
    """``cache info`` and ``cache purge`` take pip's general options and nothing else.

    :raises UsageError: an argument or another option.
    """
    flags = {flag for o in INSTALL_OPTIONS if o.group is Group.GENERAL for flag in o.flags}
    takes_value = general_value_flags()
    index = 0
    while index < len(options):
        arg = options[index]
        if arg.split("=", 1)[0] not in flags and not _short_flags(arg, flags):
            what = "an option" if arg.startswith("-") else "an argument"
            msg = (
                f"safe-pip {command} takes only pip's general options, not {what} {arg!r} "
                f'(see "safe-pip {command} --help").'
            )
            raise UsageError(msg)
        index += 2 if arg in takes_value else 1


def _short_flags(arg: str, flags: set[str]) -> bool:
    """Whether ``arg`` is short flags written together, as ``-vv``."""
    return (
        len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and all(f"-{c}" in flags for c in arg[1:])
    )


def _info(cache: SafePipCache, out: Console) -> None:
    from safe_pip.cli.present import format_size, printable

    out.print(printable(f"safe-pip's cache: {cache.directory}"), markup=False, style="bold")
    for part in cache.parts():
        label = f"{part.name}:"
        line = f"  {label:<24}{_count(part.entries, 'entry', 'entries')}, {format_size(part.size)}"
        if part.directory.parent != cache.directory:
            line += f" (in {part.directory})"
        out.print(printable(line), markup=False, highlight=False)
    out.print()


def _purge(cache: SafePipCache, out: Console) -> None:
    from safe_pip.cli.present import format_size, printable

    removed = cache.purge()
    files = _count(removed.files, "file", "files")
    line = f"Removed {files} ({format_size(removed.size)}) from safe-pip's cache {cache.directory}"
    out.print(printable(line), markup=False, highlight=False)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
