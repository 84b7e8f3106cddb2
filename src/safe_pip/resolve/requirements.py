"""Parse pip requirements and constraints files faithfully, without handing them to pip.

A requirements file can carry ``--index-url``, ``--extra-index-url`` and ``--find-links``
lines; if pip read the file itself those would bypass the gateway. safe-pip parses every
file (comments, ``\\`` continuations, ``${VAR}`` expansion, nested ``-r``/``-c``, per-line
``--hash`` and ``--config-settings``) the way pip's ``req_file`` module does, applies the
index options to its own source list, and hands pip only requirement lines.

Those lines are written into a requirements file of safe-pip's own, which pip reads with
the same rules (``pip._internal.req.req_file``): split with ``str.splitlines()``, ``\\``
continuations joined, comments dropped, ``${VAR}`` expanded, options parsed from the first
token that starts with ``-``. A field that would read back as anything else (a line break
of any kind hidden in an expanded variable, a ``${VAR}`` pip would expand again, a comment,
a continuation, an option) would let whoever wrote it hand pip options nobody checked
(``--extra-index-url`` around the gateway, ``--no-require-hashes``): every line is refused
unless pip would read it back exactly as safe-pip judged it
(:meth:`RequirementLine.to_pip_line`, checked when a line is read and when it is written).
"""

from __future__ import annotations

import argparse
import codecs
import functools
import os
import re
import shlex
import stat
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from safe_pip.errors import UsageError

__all__ = [
    "LINE_BREAKS",
    "FileOptions",
    "ParsedRequirements",
    "RequirementLine",
    "names_index_project",
    "parse_files",
    "requirement_name",
    "unsafe_character",
]

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"(\$\{([A-Z0-9_]+)\})")
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character ``str.splitlines()`` breaks a line at: pip splits requirements files
with it, and ``site`` (3.13+) splits ``.pth`` files with it."""
_UNSAFE_RE = re.compile(f"[{LINE_BREAKS}\x00]")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"[0-9a-f]+")
_SCHEME_RE = re.compile(r"^(http|https|file):", re.IGNORECASE)
# PEP 751 names, which pip 26 reads as lock files (optionally with "[extras]" appended).
_PYLOCK_RE = re.compile(r"(^|[/\\])pylock(\.[^/\\]+)?\.toml(\[[^\]]*\])?$")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_MAX_FILE_BYTES = 10 << 20
"""The largest requirements file read: ten megabytes is a hundred thousand pinned lines
with their hashes; more is an endless stream, or an attempt to exhaust memory."""
# A FIFO nobody writes to would block open() for ever; opened without blocking, it reads
# as empty instead. (Not on Windows, which has no such files.)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
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
        """The line as safe-pip hands it to pip's resolver.

        :raises UsageError: pip would not read the line back as this requirement with these
            options (and nothing else), naming where the requirement was written.
        """
        parts = ["-e " + shlex.quote(self.text) if self.editable else self.text]
        parts += [f"--hash={value}" for value in self.hashes]
        parts += [f"--config-settings={shlex.quote(value)}" for value in self.config_settings]
        line = " ".join(parts)
        problem = _misread(self, line)
        if problem is not None:
            msg = (
                f"Refused the requirement {_shown(self.text)} ({self.origin}): {problem}, so pip "
                f"would not read it as written (safe-pip hands pip only what it checked). "
                f"Nothing was installed; write it without that."
            )
            raise UsageError(msg)
        return line


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


def unsafe_character(text: str) -> str | None:
    """What in ``text`` would end a line for pip or ``site``, or cut it short (a NUL), as
    words for a message; ``None`` when there is nothing."""
    match = _UNSAFE_RE.search(text)
    if match is None:
        return None
    found = match.group(0)
    return "a NUL character" if found == "\x00" else f"a line break (U+{ord(found):04X})"


def _shown(text: str) -> str:
    """A requirement as a message quotes it: a hostile one may be megabytes long."""
    return repr(text) if len(text) <= 200 else f"{text[:200]!r}..."


def _unreadable_version(text: str) -> str | None:
    """Why a version the requirement names cannot be read, or ``None``: a number longer
    than Python turns into an integer (4300 digits) makes pip's resolver crash."""
    try:
        specifier = Requirement(text).specifier
    except InvalidRequirement:
        return None  # a path or a URL: pip reads no version from it
    for spec in specifier:
        if spec.operator == "===":
            continue  # compared as text, never read as a number
        try:
            Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        except ValueError:
            return f"its version {spec.version[:20]}... has a number too long to read"
    return None


def _misread(line: RequirementLine, text: str) -> str | None:
    """Why pip would read ``text`` as something other than ``line``; ``None`` if it would
    read exactly that requirement, with exactly those options."""
    unsafe = unsafe_character(text)
    if unsafe is not None:
        return f"it contains {unsafe}"
    unreadable = _unreadable_version(line.text)
    if unreadable is not None:
        return unreadable
    variable = _ENV_VAR_RE.search(text)
    if variable is not None:
        return (
            f"it contains {variable.group(1)}, which pip would replace with the value of "
            f"{variable.group(2)} in its environment"
        )
    try:
        read = [logical for _, logical in _logical_lines(_decode(text.encode(), line.origin))]
    except (UnicodeEncodeError, UsageError):
        return "it is not text pip would decode as written"
    if len(read) != 1:
        return "pip would read it as a comment, a continued line or nothing"
    args, options = _split_args_options(read[0])
    try:
        ns = _line_parser().parse_args(shlex.split(options))
    except ValueError:
        return f"pip could not parse its options {options!r}"
    if args != ("" if line.editable else line.text):
        return f"pip would read the requirement {args!r} and the options {options!r}"
    expected = dict(_plain_options())
    expected["hashes"] = list(line.hashes)
    expected["config_settings"] = list(line.config_settings)
    if line.editable:
        expected["editables"] = [line.text]
    if vars(ns) != expected:
        return f"pip would read the options {options!r} differently"
    return None


class _LineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


@functools.cache
def _plain_options() -> Mapping[str, object]:
    """The options of a line that has none."""
    return vars(_line_parser().parse_args([]))


@functools.cache
def _line_parser() -> argparse.ArgumentParser:
    """The parser of a line's options (made once: parsing leaves it as it was)."""
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
    encoding = "utf-8"
    for line in data.split(b"\n")[:2]:
        match = _PEP263_RE.search(line) if line[:1] == b"#" else None
        if match:
            encoding = match.group(1).decode("ascii")
            break
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        msg = (
            f"{where} is not {encoding} text; declare its encoding with a "
            f"'# -*- coding: ... -*-' line"
        )
        raise UsageError(msg) from exc


def _refuse_device(found: os.stat_result, location: str, kind: str) -> None:
    """Refuse a device, except the null device (``-r /dev/null``, empty, is in scripts)."""
    if not (stat.S_ISCHR(found.st_mode) or stat.S_ISBLK(found.st_mode)):
        return
    null = Path(os.devnull).stat()
    if not (stat.S_ISCHR(null.st_mode) and found.st_rdev == null.st_rdev):
        msg = (
            f"Cannot read {kind} file {location}: it is a device, not a file (a device such "
            f"as /dev/zero can be read without end). Name a file, or a pipe such as <(...)."
        )
        raise UsageError(msg)


def _read_local(path: Path, location: str, kind: str) -> bytes:
    """A local requirements file's bytes, at most :data:`_MAX_FILE_BYTES` of them.

    A regular file or a pipe (``-r <(command)`` names ``/dev/fd/N``, which scripts use) is
    read; a device is refused before it is opened, since opening one can itself act.

    :raises UsageError: the file cannot be read, is a device, or is too large.
    """
    try:
        _refuse_device(path.stat(), location, kind)
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
        with open(fd, "rb") as stream:
            # What was opened is what was checked (the name may have changed in between).
            _refuse_device(os.fstat(fd), location, kind)
            if _NONBLOCK:
                os.set_blocking(fd, True)  # a pipe's writer may be slow: wait for it
            data = stream.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        msg = f"Could not open {kind} file: {exc.strerror}: {location!r}"
        raise UsageError(msg) from exc
    if len(data) > _MAX_FILE_BYTES:
        msg = (
            f"Cannot read {kind} file {location}: it is larger than "
            f"{_MAX_FILE_BYTES >> 20} MB, more than any requirements file needs."
        )
        raise UsageError(msg)
    return data


def _logical_lines(content: str) -> Iterator[tuple[int, str]]:
    """pip's preprocessing before ``${VAR}`` expansion: split with ``str.splitlines()``,
    join ``\\`` continuations, drop comments and empty lines."""
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
            yield from _cleaned(first, "".join([*pending, line]))
            pending = []
        else:
            yield from _cleaned(number, line)
    if pending:
        yield from _cleaned(first, "".join(pending))


def _cleaned(number: int, line: str) -> Iterator[tuple[int, str]]:
    line = _COMMENT_RE.sub("", line).strip()
    if line:
        yield number, line


def _expanded(line: str, environ: Mapping[str, str], where: str) -> str:
    """pip's ``expand_env_variables``, to the letter: each ``${VAR}`` found in the line, in
    turn, replaced everywhere (an unset or empty one stays as written).

    :raises UsageError: a value holds a line break or NUL, which would split the line in
        the file safe-pip writes for pip.
    """
    for variable, name in _ENV_VAR_RE.findall(line):
        value = environ.get(name)
        if not value:
            continue
        unsafe = unsafe_character(value)
        if unsafe is not None:
            msg = (
                f"Refused {where}: the value of ${{{name}}} contains {unsafe}, which would "
                f"make what follows it a line of its own that pip reads as an option or a "
                f"requirement nobody checked. Nothing was installed; remove it from {name}."
            )
            raise UsageError(msg)
        line = line.replace(variable, value)
    return line


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
        for number, raw in _logical_lines(content):
            where = f"line {number} of {location}"
            unsafe = unsafe_character(raw)
            if unsafe is not None:
                msg = f"Refused {where}: it contains {unsafe}. Nothing was installed."
                raise UsageError(msg)
            line = _expanded(raw, self.environ, where)
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
        return _decode(_read_local(path, location, kind), location)

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
            local = not _SCHEME_RE.match(location) and os.path.exists(relative)  # noqa: PTH110
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
