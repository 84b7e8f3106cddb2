"""Parse pip requirements and constraints files faithfully, without handing them to pip.

A requirements file can carry ``--index-url``, ``--extra-index-url`` and ``--find-links``
lines; if pip read the file itself those would bypass the gateway. safe-pip parses every
file (comments, ``\\`` continuations, ``${VAR}`` expansion, nested ``-r``/``-c``, per-line
``--hash`` and ``--config-settings``) the way pip's ``req_file`` module does
(:mod:`~safe_pip.resolve.reqfile_syntax`, reading each file with
:mod:`~safe_pip.resolve.reqfile_reading`), applies the index options to its own source
list, and hands pip only requirement lines (:mod:`~safe_pip.resolve.requirement_line`,
each refused unless pip would read it back exactly as safe-pip judged it).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safe_pip.errors import UsageError
from safe_pip.resolve.reqfile_reading import has_url_scheme, read_text
from safe_pip.resolve.reqfile_syntax import (
    expand_variables,
    line_parser,
    logical_lines,
    split_args_options,
    unsafe_character,
)
from safe_pip.resolve.requirement_line import RequirementLine

__all__ = ["FileOptions", "ParsedRequirements", "parse_files"]

_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class FileOptions:
    """Options written in requirements files that apply to the whole command."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    no_index: bool = False
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    pre: bool = False
    prefer_binary: bool = False
    require_hashes: bool = False
    no_require_hashes: bool = False
    only_binary: tuple[str, ...] = ()
    no_binary: tuple[str, ...] = ()
    all_releases: tuple[str, ...] = ()
    only_final: tuple[str, ...] = ()
    use_features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedRequirements:
    """Every requirement and constraint line, and the file-level options."""

    lines: tuple[RequirementLine, ...] = ()
    options: FileOptions = field(default_factory=FileOptions)

    @property
    def requirements(self) -> tuple[RequirementLine, ...]:
        """Lines read from ``-r`` files and the command line."""
        return tuple(line for line in self.lines if not line.constraint)

    @property
    def constraints(self) -> tuple[RequirementLine, ...]:
        """Lines read from ``-c`` files."""
        return tuple(line for line in self.lines if line.constraint)


def _absolute(path: str | Path) -> str:
    # normpath, unlike Path.absolute(), folds "..": recursion is detected by this string.
    return os.path.normpath(Path(path).absolute())


@dataclass
class _Collector:
    environ: Mapping[str, str]
    fetch_url: Callable[[str], str] | None
    lines: list[RequirementLine] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    flags: dict[str, bool] = field(default_factory=dict)
    index_url: str | None = None

    def file_options(self) -> FileOptions:
        lists = {key: tuple(self.lists[key]) for key in _LIST_OPTIONS}
        flags = {key: self.flags.get(key, False) for key in _FLAG_OPTIONS}
        return FileOptions(
            index_url=self.index_url,
            find_links=tuple(self.lists["find_links"]),
            extra_index_urls=lists["extra_index_urls"],
            trusted_hosts=lists["trusted_hosts"],
            only_binary=lists["only_binary"],
            no_binary=lists["no_binary"],
            all_releases=lists["all_releases"],
            only_final=lists["only_final"],
            use_features=lists["use_features"],
            no_index=flags["no_index"],
            pre=flags["pre"],
            prefer_binary=flags["prefer_binary"],
            require_hashes=flags["require_hashes"],
            no_require_hashes=flags["no_require_hashes"],
        )

    def read(self, location: str, constraint: bool, stack: tuple[str, ...]) -> None:
        kind = "constraints" if constraint else "requirements"
        content = read_text(location, kind, self.fetch_url)
        parser = line_parser()
        for number, raw in logical_lines(content):
            where = f"line {number} of {location}"
            unsafe = unsafe_character(raw)
            if unsafe is not None:
                msg = f"Refused {where}: it contains {unsafe}. Nothing was installed."
                raise UsageError(msg)
            line = expand_variables(raw, self.environ, where)
            args, options = split_args_options(line)
            try:
                ns = parser.parse_args(shlex.split(options))
            except ValueError as exc:
                msg = f"Invalid requirement or option on {where}: {line}\n{exc}"
                raise UsageError(msg) from exc
            if args:
                self._requirement(args, ns, where, location, constraint)
            elif ns.editables:
                self._requirement(ns.editables[0], ns, where, location, constraint, editable=True)
            else:
                self._options(ns, location, constraint, stack)

    def _requirement(
        self,
        text: str,
        ns: argparse.Namespace,
        where: str,
        location: str,
        constraint: bool,
        *,
        editable: bool = False,
    ) -> None:
        flag = "-c" if constraint else "-r"
        for value in ns.config_settings:
            if "=" not in value:
                msg = f"--config-settings {value!r} on {where}: expected KEY=VALUE"
                raise UsageError(msg)
        line = RequirementLine(
            text=text.strip(),
            origin=f"{flag} {location} ({where.split(' of ')[0]})",
            hashes=tuple(_normalize_hashes(ns.hashes, where)),
            config_settings=tuple(ns.config_settings),
            editable=editable,
            constraint=constraint,
        )
        line.to_pip_line()  # refused now, naming the file and line, if pip would misread it
        self.lines.append(line)

    def _options(
        self, ns: argparse.Namespace, location: str, constraint: bool, stack: tuple[str, ...]
    ) -> None:
        for nested in ns.requirements:
            self._nested(nested, location, constraint=False, stack=stack)
        for nested in ns.constraints:
            self._nested(nested, location, constraint=True, stack=stack)
        if ns.index_url:
            # pip: a file's --index-url replaces every index named so far.
            self.index_url = ns.index_url
            self.lists["extra_index_urls"] = []
        for value in ns.find_links:
            # pip: a relative find-links path is taken from the file's folder if it is there.
            relative = Path(location).parent / value
            # os.path.exists(), unlike Path.exists() before 3.12, is False for a name too
            # long to be a file rather than an error.
            local = not has_url_scheme(location) and os.path.exists(relative)  # noqa: PTH110
            self.lists["find_links"].append(str(relative) if local else value)
        for key in _LIST_OPTIONS:
            self.lists[key].extend(getattr(ns, key))
        for key in _FLAG_OPTIONS:
            if getattr(ns, key):
                self.flags[key] = True

    def _nested(
        self, nested: str, parent: str, *, constraint: bool, stack: tuple[str, ...]
    ) -> None:
        if has_url_scheme(parent):
            location = urllib.parse.urljoin(parent, nested)
        elif has_url_scheme(nested):
            location = nested
        else:
            location = _absolute(Path(parent).parent / nested)
        if location in stack:
            msg = f"{location} recursively references itself in {parent}"
            raise UsageError(msg)
        self.read(location, constraint, (*stack, location))


_LIST_OPTIONS = (
    "extra_index_urls",
    "trusted_hosts",
    "only_binary",
    "no_binary",
    "all_releases",
    "only_final",
    "use_features",
)
_FLAG_OPTIONS = ("no_index", "pre", "prefer_binary", "require_hashes", "no_require_hashes")
_WEAK_ALGORITHMS = frozenset({"md5", "sha1", "sha224"})


def _normalize_hashes(values: Sequence[str], where: str) -> Iterator[str]:
    for value in values:
        algorithm, sep, digest = value.partition(":")
        algorithm = algorithm.lower()
        if not sep or not digest:
            msg = (
                f"Arguments to --hash must be a hash name followed by a value, like "
                f"--hash=sha256:abcde... ({where})"
            )
            raise UsageError(msg)
        if algorithm in _WEAK_ALGORITHMS or algorithm not in _DIGEST_LENGTHS:
            msg = (
                f"Unknown or weak hash algorithm {algorithm!r} on {where}; use one of "
                f"{', '.join(sorted(_DIGEST_LENGTHS))}"
            )
            raise UsageError(msg)
        digest = digest.lower()
        if len(digest) != _DIGEST_LENGTHS[algorithm] or not _HEX_RE.fullmatch(digest):
            msg = (
                f"Refused the --hash on {where}: a {algorithm} digest is "
                f"{_DIGEST_LENGTHS[algorithm]} hexadecimal digits, not {digest!r}"
            )
            raise UsageError(msg)
        yield f"{algorithm}:{digest}"


def parse_files(
    requirement_files: Sequence[str],
    constraint_files: Sequence[str],
    *,
    args: Sequence[str] = (),
    editables: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    fetch_url: Callable[[str], str] | None = None,
) -> ParsedRequirements:
    """Parse the command line's requirements and every ``-r``/``-c`` file they name.

    :param fetch_url: reads a requirements file given as an http(s) URL.
    :raises UsageError: a file is missing, undecodable or malformed.
    """
    collector = _Collector(environ if environ is not None else os.environ, fetch_url)
    collector.lines.extend(RequirementLine(text=arg.strip(), origin="command line") for arg in args)
    collector.lines.extend(
        RequirementLine(text=path.strip(), origin="command line", editable=True)
        for path in editables
    )
    for line in collector.lines:
        line.to_pip_line()  # refused now, before anything runs, if pip would misread it
    for location in requirement_files:
        collector.read(location, False, (_absolute(location),))
    for location in constraint_files:
        collector.read(location, True, (_absolute(location),))
    return ParsedRequirements(lines=tuple(collector.lines), options=collector.file_options())
