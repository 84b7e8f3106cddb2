"""Admission: requirements refused before anything is resolved.

Some requests would make pip run or fetch code outside the gateway's control: a VCS URL or
a remote editable (source checked out and built), ``--no-binary`` for a project that may not
build, a direct URL or local path to a source archive, a local wheel whose metadata requires
a URL the user did not give (pip reads that wheel itself, not through the gateway). These
are refused up front, each with the flag or requirement that allows it; none is silently
ignored.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from safe_pip.errors import PolicyDenied, UsageError
from safe_pip.models import ALL, DistKind, NameSet
from safe_pip.requirements import RequirementLine
from safe_pip.sources import parse_filename
from safe_pip.wheels import read_metadata, unapproved_url_requirements, url_key

__all__ = ["admit", "approved_urls"]

_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_URL_PREFIXES = ("http://", "https://", "file:", *_VCS_PREFIXES)


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or Path(text).exists() or "\\" in text


def _url_of(line: RequirementLine) -> tuple[str | None, str]:
    """``(project name or None, url or path)`` for a non-index requirement."""
    text = line.text.split(";", 1)[0].strip()
    if not line.editable:
        try:
            requirement = Requirement(line.text)
        except InvalidRequirement:
            return None, text
        return requirement.name, requirement.url or ""
    return None, text


def approved_urls(lines: Sequence[RequirementLine]) -> frozenset[str]:
    """:func:`~safe_pip.wheels.url_key` of every URL the user named as a requirement or
    constraint: the only direct URLs a distribution may come from or require."""
    locations = (_url_of(line)[1] for line in lines)
    return frozenset(url_key(loc) for loc in locations if loc.lower().startswith(_URL_PREFIXES))


def _problem(line: RequirementLine, allow_sdist: NameSet) -> str | None:
    name, location = _url_of(line)
    if not location:
        return None
    lowered = location.lower()
    if lowered.startswith(_VCS_PREFIXES):
        if name is not None and name in allow_sdist:
            return None
        flag = f"--allow-sdist {name}" if name else "--allow-sdist NAME (with 'NAME @ <url>')"
        return (
            f"{line.text} ({line.origin}) is a version-control URL: installing it builds "
            f"remote source code. Allow it with {flag}."
        )
    if line.editable and lowered.startswith(_URL_PREFIXES):
        return (
            f"-e {line.text} ({line.origin}) is not a local directory: safe-pip installs "
            f"editable projects only from local paths."
        )
    filename = location.rstrip("/").rsplit("/", 1)[-1]
    parsed = parse_filename(filename)
    if parsed is not None and parsed[2] is DistKind.SDIST and parsed[0] not in allow_sdist:
        return (
            f"{line.text} ({line.origin}) is a source archive of {parsed[0]}: installing it "
            f"runs its build code. Allow it with --allow-sdist {parsed[0]}."
        )
    return None


def _local_wheel(line: RequirementLine) -> Path | None:
    if line.editable:
        return None
    location = _url_of(line)[1] or line.text.split(";", 1)[0].strip()
    if location.lower().startswith("file:"):
        location = urllib.request.url2pathname(urllib.parse.urlsplit(location).path)
    elif "://" in location or not location.endswith(".whl"):
        return None
    path = Path(location).expanduser()
    return path if path.is_file() else None


def _local_wheel_problem(line: RequirementLine, approved: Collection[str]) -> str | None:
    path = _local_wheel(line)
    if path is None:
        return None
    try:
        found = unapproved_url_requirements(read_metadata(path), approved)
    except (ValueError, OSError):
        return None  # not a wheel pip can read either; inspection refuses it if planned
    if not found:
        return None
    return (
        f"{path} ({line.origin}) requires a direct URL that no requirement of yours names: "
        f"{', '.join(found)}. pip would fetch it by itself, outside the configured sources "
        f"(and build it, if it is a source archive). If you trust that URL, give the "
        f"requirement yourself ('NAME @ URL')."
    )


def _no_binary_problem(values: Iterable[str], allow_sdist: NameSet) -> str | None:
    asked = NameSet.from_csv(v for v in values if v != ":none:")
    if asked.everything and not allow_sdist.everything:
        return (
            f"--no-binary {ALL} builds every project from source. Allow that with "
            f"--allow-sdist {ALL}, or name the projects."
        )
    refused = sorted(name for name in asked.names if name not in allow_sdist)
    if refused:
        names = ",".join(refused)
        return (
            f"--no-binary {names} builds from source, which these projects are not "
            f"allowed to do. Allow it with --allow-sdist {names}."
        )
    return None


def _refusals(
    lines: Sequence[RequirementLine], no_binary: Sequence[str], allow_sdist: NameSet
) -> Iterator[str]:
    approved = approved_urls(lines)
    for line in lines:
        problem = _problem(line, allow_sdist) or _local_wheel_problem(line, approved)
        if problem:
            yield problem
    problem = _no_binary_problem(no_binary, allow_sdist)
    if problem:
        yield problem


def admit(lines: Sequence[RequirementLine], no_binary: Sequence[str], allow_sdist: NameSet) -> None:
    """Refuse the requests that would build or fetch code outside policy.

    :raises PolicyDenied: listing every refused request with the flag that allows it.
    :raises UsageError: a requirement is malformed.
    """
    for line in lines:
        if not line.editable and not line.text.lower().startswith(_URL_PREFIXES):
            _validate(line)
    refusals = list(_refusals(lines, no_binary, allow_sdist))
    if refusals:
        raise PolicyDenied("\n".join(refusals) + "\nNothing was installed.")


def _validate(line: RequirementLine) -> None:
    if _looks_like_path(line.text):
        return
    try:
        Requirement(line.text)
    except InvalidRequirement as exc:
        msg = f"Invalid requirement {line.text!r} ({line.origin}): {exc}"
        raise UsageError(msg) from exc
