"""Parse pip requirements and constraints files faithfully, without handing them to pip.

A requirements file can carry ``--index-url``, ``--extra-index-url`` and ``--find-links``
lines; if pip read the file itself those would bypass the gateway. safe-pip parses every
file (comments, ``\\`` continuations, ``${VAR}`` expansion, nested ``-r``/``-c``, per-line
``--hash`` and ``--config-settings``) the way pip's ``req_file`` module does, applies the
index options to its own source list, and hands pip only requirement lines.
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import shlex
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from packaging.requirements import InvalidRequirement, Requirement

from safe_pip.errors import UsageError

__all__ = [
    "FileOptions",
    "ParsedRequirements",
    "RequirementLine",
    "names_index_project",
    "parse_files",
    "requirement_name",
]

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_SCHEME_RE = re.compile(r"^(http|https|file):", re.IGNORECASE)
# PEP 751 names, which pip 26 reads as lock files (optionally with "[extras]" appended).
_PYLOCK_RE = re.compile(r"(^|[/\\])pylock(\.[^/\\]+)?\.toml(\[[^\]]*\])?$")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


@dataclass(frozen=True, slots=True)
class RequirementLine:
    """One requirement, with the options scoped to it and where it was written."""

    text: str
    origin: str
    hashes: tuple[str, ...] = ()
    """``algorithm:hexdigest`` values of ``--hash`` options."""
    config_settings: tuple[str, ...] = ()
    editable: bool = False
    constraint: bool = False

    def to_pip_line(self) -> str:
        """The line as safe-pip hands it to pip's resolver."""
        parts = ["-e " + self.text if self.editable else self.text]
        parts += [f"--hash={value}" for value in self.hashes]
        parts += [f"--config-settings={shlex.quote(value)}" for value in self.config_settings]
        return " ".join(parts)


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


class _LineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _line_parser() -> argparse.ArgumentParser:
    parser = _LineParser(add_help=False, allow_abbrev=True, prog="requirements file")
    add = parser.add_argument
    add("-r", "--requirement", dest="requirements", action="append", default=[])
    add("-c", "--constraint", dest="constraints", action="append", default=[])
    add("-e", "--editable", dest="editables", action="append", default=[])
    add("-i", "--index-url", "--pypi-url", dest="index_url")
    add("--extra-index-url", dest="extra_index_urls", action="append", default=[])
    add("--no-index", action="store_true")
    add("-f", "--find-links", dest="find_links", action="append", default=[])
    add("--trusted-host", dest="trusted_hosts", action="append", default=[])
    add("--pre", action="store_true")
    add("--prefer-binary", action="store_true")
    add("--require-hashes", action="store_true")
    add("--no-require-hashes", action="store_true")
    add("--only-binary", action="append", default=[])
    add("--no-binary", action="append", default=[])
    add("--all-releases", action="append", default=[])
    add("--only-final", action="append", default=[])
    add("--use-feature", dest="use_features", action="append", default=[])
    add("--hash", dest="hashes", action="append", default=[])
    add("-C", "--config-settings", dest="config_settings", action="append", default=[])
    return parser


def _absolute(path: str | Path) -> str:
    # normpath, unlike Path.absolute(), folds "..": recursion is detected by this string.
    return os.path.normpath(Path(path).absolute())


def _decode(data: bytes, where: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
    for line in data.split(b"\n")[:2]:
        match = _PEP263_RE.search(line) if line[:1] == b"#" else None
        if match:
            return data.decode(match.group(1).decode("ascii"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{where} is not UTF-8 text; declare its encoding with a '# -*- coding: ... -*-' line"
        raise UsageError(msg) from exc


def _logical_lines(content: str, environ: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """pip's preprocessing: join ``\\`` continuations, drop comments, expand ``${VAR}``."""
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(content.splitlines(), start=1):
        is_comment = bool(_COMMENT_RE.match(raw))
        if raw.endswith("\\") and not is_comment:
            if not pending:
                first = number
            pending.append(raw.strip("\\"))
            continue
        line = " " + raw if is_comment else raw
        if pending:
            yield from _cleaned(first, "".join([*pending, line]), environ)
            pending = []
        else:
            yield from _cleaned(number, line, environ)
    if pending:
        yield from _cleaned(first, "".join(pending), environ)


def _cleaned(number: int, line: str, environ: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    line = _COMMENT_RE.sub("", line).strip()
    if not line:
        return
    yield number, _ENV_VAR_RE.sub(lambda m: environ.get(m.group(1)) or m.group(0), line)


def _split_args_options(line: str) -> tuple[str, str]:
    """Split where the first token starting with ``-`` begins; markers stay unparsed."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


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
        if _PYLOCK_RE.search(location):
            msg = (
                f"Cannot read {location}: safe-pip does not install from PEP 751 pylock.toml "
                f"files yet. Write a hash-pinned requirements file with "
                f"'safe-pip lock -r <requirements> -o requirements.txt' and install that."
            )
            raise UsageError(msg)
        content = self._load(location, kind)
        parser = _line_parser()
        for number, line in _logical_lines(content, self.environ):
            where = f"line {number} of {location}"
            args, options = _split_args_options(line)
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

    def _load(self, location: str, kind: str) -> str:
        if _SCHEME_RE.match(location) and not location.lower().startswith("file:"):
            if self.fetch_url is None:
                msg = f"Cannot read {kind} file {location}: URLs are not supported here"
                raise UsageError(msg)
            return self.fetch_url(location)
        path = (
            Path(urllib.parse.unquote(urllib.parse.urlsplit(location).path))
            if (location.lower().startswith("file:"))
            else Path(location)
        )
        try:
            return _decode(path.read_bytes(), location)
        except OSError as exc:
            msg = f"Could not open {kind} file: {exc.strerror}: {location!r}"
            raise UsageError(msg) from exc

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
        self.lines.append(
            RequirementLine(
                text=text.strip(),
                origin=f"{flag} {location} ({where.split(' of ')[0]})",
                hashes=tuple(_normalize_hashes(ns.hashes, where)),
                config_settings=tuple(ns.config_settings),
                editable=editable,
                constraint=constraint,
            )
        )

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
            local = not _SCHEME_RE.match(location) and relative.exists()
            self.lists["find_links"].append(str(relative) if local else value)
        for key in _LIST_OPTIONS:
            self.lists[key].extend(getattr(ns, key))
        for key in _FLAG_OPTIONS:
            if getattr(ns, key):
                self.flags[key] = True

    def _nested(
        self, nested: str, parent: str, *, constraint: bool, stack: tuple[str, ...]
    ) -> None:
        if _SCHEME_RE.match(parent):
            location = urllib.parse.urljoin(parent, nested)
        elif _SCHEME_RE.match(nested):
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
_STRONG_ALGORITHMS = frozenset({"sha256", "sha384", "sha512"})


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
        if algorithm in _WEAK_ALGORITHMS or algorithm not in _STRONG_ALGORITHMS:
            msg = (
                f"Unknown or weak hash algorithm {algorithm!r} on {where}; use one of "
                f"{', '.join(sorted(_STRONG_ALGORITHMS))}"
            )
            raise UsageError(msg)
        yield f"{algorithm}:{digest.lower()}"


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
    collector.lines.extend(RequirementLine(text=arg, origin="command line") for arg in args)
    collector.lines.extend(
        RequirementLine(text=path, origin="command line", editable=True) for path in editables
    )
    for location in requirement_files:
        collector.read(location, False, (_absolute(location),))
    for location in constraint_files:
        collector.read(location, True, (_absolute(location),))
    return ParsedRequirements(lines=tuple(collector.lines), options=collector.file_options())


def names_index_project(line: RequirementLine) -> bool:
    """Whether the line asks for a project by name from the sources (not a path, a URL,
    ``name @ url`` or an editable)."""
    if line.editable:
        return False
    try:
        return Requirement(line.text).url is None
    except InvalidRequirement:
        return False


def requirement_name(line: RequirementLine) -> str | None:
    """The project name a line names, or ``None`` for paths and URLs without one."""
    if line.editable:
        return None
    try:
        return Requirement(line.text).name
    except InvalidRequirement:
        return None
