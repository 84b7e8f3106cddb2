"""``safe-pip sources``: the sources an install asks, in order, where each came from, and
the pins and mirror groups of the settings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from safe_pip.errors import EXIT_OK
from safe_pip.models import SourceKind, SourceSpec

if TYPE_CHECKING:
    from safe_pip.resolve.requirements import FileOptions
    from safe_pip.settings.options import FileSettings

__all__ = ["SOURCES_HELP", "run_sources_command"]

SOURCES_HELP = """\
Usage:
  safe-pip [--python <python>] sources [install options: -i, --extra-index-url,
                                        -f, --no-index, -r <file>]

Prints the sources `safe-pip install` would ask with the same options, in the order it
asks them (a project comes from the first that knows it, or from its pin), where each
came from (a flag, an environment variable, a pip configuration file, a requirements
file, the settings), whether it counts as public, private or local, its mirror group,
and the pins of the settings. Nothing is asked of any source.
"""


def _key(raw: str, kind: SourceKind) -> str:
    """A configured value as the source list spells it (credentials off, paths absolute)."""
    from safe_pip.gateway.network import split_credentials

    clean = split_credentials(raw)[0]
    if kind is SourceKind.FIND_LINKS and "://" not in clean:
        return str(Path(clean).expanduser().absolute())
    return clean


def _candidates(
    option: str,
    *,
    from_files: Sequence[str],
    flags: Sequence[str],
    pip_config: Mapping[str, str],
    origins: Mapping[str, str],
    settings: Sequence[str],
    settings_files: str,
) -> list[tuple[Sequence[str], str]]:
    """Each place a value of ``option`` can come from, with its values, highest first."""
    configured = pip_config.get(option, "").split()
    return [
        (from_files, f"a requirements file (--{option})"),
        (flags, f"the command line (--{option})"),
        (configured, origins.get(option, "pip's configuration")),
        (settings, f"safe-pip settings ({option} in {settings_files})"),
    ]


def _origin(
    source: SourceSpec, places: Mapping[str, list[tuple[Sequence[str], str]]], files: FileSettings
) -> str:
    option = "find-links" if source.kind is SourceKind.FIND_LINKS else "index-url"
    for name in (option, "extra-index-url") if option == "index-url" else (option,):
        for values, origin in places[name]:
            if any(_key(v, source.kind) == source.url for v in values):
                return origin
    if source.name in files.sources:
        return "safe-pip settings ([tool.safe-pip.sources])"
    return "pip's default index"


def _describe(source: SourceSpec, sources: Sequence[SourceSpec], origin: str) -> str:
    from safe_pip.gateway.shadows import checks_public, exposure, group_head

    kind = "find-links" if source.kind is SourceKind.FIND_LINKS else "index"
    facts = [exposure(source, sources).value, kind]
    head = group_head(source, sources)
    if head != source:
        facts.append(f"mirror of {head.name}, merged with it")
    if checks_public(source):
        facts.append("its names are also asked of the public index (check-public-shadows)")
    facts.append(f"from {origin}")
    return f"{source} ({'; '.join(facts)})"


def run_sources_command(argv: Sequence[str], out: TextIO) -> int:
    """Print the resolved source list; return the exit status.

    :raises SafePipError: bad arguments or settings.
    """
    from safe_pip.cli.install_cmd import configured_sources
    from safe_pip.cli.options import locate, parse_args
    from safe_pip.resolve.pipconfig import load_pip_config, pip_config_origins
    from safe_pip.resolve.requirements import parse_files
    from safe_pip.settings.files import load_file_settings
    from safe_pip.settings.options import default_home
    from safe_pip.settings.sources import build_pins
    from safe_pip.target import site_prefix_of

    if "-h" in argv or "--help" in argv:
        out.write(SOURCES_HELP)
        return EXIT_OK
    environ = dict(os.environ)
    first, choice = locate("install", argv, environ)
    prefix = site_prefix_of(choice.python)
    pip_config = load_pip_config("install", environ, prefix, isolated=first.isolated)
    origins = pip_config_origins("install", environ, prefix, isolated=first.isolated)
    args = parse_args("install", argv, pip_config)
    files = load_file_settings(Path.cwd(), default_home(environ), environ)
    parsed = parse_files(args.requirements or [], args.constraints or [], environ=environ)
    sources = configured_sources(args, parsed, files)
    places = _places(first, parsed.options, pip_config, origins, files)
    out.write("Sources, in the order safe-pip asks them (a project comes from the first that\n")
    out.write("knows it; a name a public source answers is also asked of the private ones):\n")
    for number, source in enumerate(sources, start=1):
        text = _describe(source, sources, _origin(source, places, files))
        out.write(f"  {number}. {text}\n")
    if not sources:
        out.write("  none (--no-index and no --find-links)\n")
    pins = build_pins(files.pins, files.sources, files.source_marks)
    where = ", ".join(str(path) for path in files.files) or "the settings"
    out.write(f"Pins ({where}):\n" if pins else "Pins: none\n")
    for pin in pins:
        out.write(f"  {pin.pattern} -> {pin.source}\n")
    return EXIT_OK


def _places(
    flags: argparse.Namespace,
    from_files: FileOptions,
    pip_config: Mapping[str, str],
    origins: Mapping[str, str],
    files: FileSettings,
) -> dict[str, list[tuple[Sequence[str], str]]]:
    """Where each source option's values come from. ``flags`` is the command line parsed
    without pip's configuration, so its values are the flags' own."""
    settings_files = ", ".join(str(path) for path in files.files) or "SAFE_PIP_* variables"
    options: tuple[tuple[str, str, list[str]], ...] = (
        ("index-url", "index_url", [files.index_url] if files.index_url else []),
        ("extra-index-url", "extra_index_urls", list(files.extra_index_urls)),
        ("find-links", "find_links", []),
    )
    places = {}
    for option, attribute, settings in options:
        flag = getattr(flags, attribute)
        file_value = getattr(from_files, attribute)
        places[option] = _candidates(
            option,
            from_files=[file_value] if isinstance(file_value, str) else list(file_value or ()),
            flags=[flag] if isinstance(flag, str) else list(flag or ()),
            pip_config=pip_config,
            origins=origins,
            settings=settings,
            settings_files=settings_files,
        )
    return places
