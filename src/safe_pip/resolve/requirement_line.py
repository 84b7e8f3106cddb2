"""One requirement line, and the check that pip reads it exactly as safe-pip judged it.

safe-pip hands pip its requirement lines in a requirements file of its own, which pip
reads with the rules of :mod:`safe_pip.resolve.reqfile_syntax`. A field that would read
back as anything else (a line break of any kind hidden in an expanded variable, a
``${VAR}`` pip would expand again, a comment, a continuation, an option) would let whoever
wrote it hand pip options nobody checked (``--extra-index-url`` around the gateway,
``--no-require-hashes``): every line is refused unless pip would read it back exactly as
safe-pip judged it (:meth:`RequirementLine.to_pip_line`, checked when a line is read and
when it is written).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from safe_pip.errors import UsageError
from safe_pip.resolve.reqfile_syntax import (
    ENV_VAR_RE,
    decode,
    line_parser,
    logical_lines,
    plain_options,
    split_args_options,
    unsafe_character,
)

__all__ = ["RequirementLine", "names_index_project", "requirement_name"]


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
    variable = ENV_VAR_RE.search(text)
    if variable is not None:
        return (
            f"it contains {variable.group(1)}, which pip would replace with the value of "
            f"{variable.group(2)} in its environment"
        )
    try:
        read = [logical for _, logical in logical_lines(decode(text.encode(), line.origin))]
    except (UnicodeEncodeError, UsageError):
        return "it is not text pip would decode as written"
    if len(read) != 1:
        return "pip would read it as a comment, a continued line or nothing"
    args, options = split_args_options(read[0])
    try:
        ns = line_parser().parse_args(shlex.split(options))
    except ValueError:
        return f"pip could not parse its options {options!r}"
    if args != ("" if line.editable else line.text):
        return f"pip would read the requirement {args!r} and the options {options!r}"
    expected = dict(plain_options())
    expected["hashes"] = list(line.hashes)
    expected["config_settings"] = list(line.config_settings)
    if line.editable:
        expected["editables"] = [line.text]
    if vars(ns) != expected:
        return f"pip would read the options {options!r} differently"
    return None
