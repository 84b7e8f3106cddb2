"""The text of a requirements file as pip reads it (``pip._internal.req.req_file``).

Decoding (a byte-order mark, else a PEP 263 ``coding`` line, else UTF-8), splitting with
``str.splitlines()``, joining ``\\`` continuations, dropping comments, expanding
``${VAR}`` and parsing options from the first token that starts with ``-``: the same
rules serve both reading the user's files (:mod:`safe_pip.resolve.requirements`) and
checking that pip reads back what safe-pip writes for it
(:mod:`safe_pip.resolve.requirement_line`).
"""

from __future__ import annotations

import argparse
import codecs
import functools
import re
from collections.abc import Iterator, Mapping
from typing import NoReturn

from safe_pip.errors import UsageError

__all__ = [
    "ENV_VAR_RE",
    "LINE_BREAKS",
    "decode",
    "expand_variables",
    "line_parser",
    "logical_lines",
    "plain_options",
    "split_args_options",
    "unsafe_character",
]

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character ``str.splitlines()`` breaks a line at: pip splits requirements files
with it, and ``site`` (3.13+) splits ``.pth`` files with it."""
ENV_VAR_RE = re.compile(r"(\$\{([A-Z0-9_]+)\})")
"""A ``${VAR}`` pip expands: the whole reference, then the variable's name."""
_UNSAFE_RE = re.compile(f"[{LINE_BREAKS}\x00]")
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
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


def unsafe_character(text: str) -> str | None:
    """What in ``text`` would end a line for pip or ``site``, or cut it short (a NUL), as
    words for a message; ``None`` when there is nothing."""
    match = _UNSAFE_RE.search(text)
    if match is None:
        return None
    found = match.group(0)
    return "a NUL character" if found == "\x00" else f"a line break (U+{ord(found):04X})"


def decode(data: bytes, where: str) -> str:
    """A requirements file's text, decoded as pip decodes it.

    :raises UsageError: the bytes are not text in the encoding they declare.
    """
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


def logical_lines(content: str) -> Iterator[tuple[int, str]]:
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


def expand_variables(line: str, environ: Mapping[str, str], where: str) -> str:
    """pip's ``expand_env_variables``, to the letter: each ``${VAR}`` found in the line, in
    turn, replaced everywhere (an unset or empty one stays as written).

    :raises UsageError: a value holds a line break or NUL, which would split the line in
        the file safe-pip writes for pip.
    """
    for variable, name in ENV_VAR_RE.findall(line):
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


def split_args_options(line: str) -> tuple[str, str]:
    """Split where the first token starting with ``-`` begins; markers stay unparsed."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


class _LineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


@functools.cache
def plain_options() -> Mapping[str, object]:
    """The options of a line that has none."""
    return vars(line_parser().parse_args([]))


@functools.cache
def line_parser() -> argparse.ArgumentParser:
    """The parser of a line's options (made once: parsing leaves it as it was); it raises
    :class:`ValueError` for options pip would refuse."""
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
