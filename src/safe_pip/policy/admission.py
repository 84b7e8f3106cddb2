"""Admission: requirements refused before anything is resolved.

Some requests would make pip run or fetch code outside the gateway's control: a VCS URL or
a remote editable (source checked out and built), ``--no-binary`` for a project that may not
build, a direct URL or local path to a source archive, a local wheel whose metadata requires
a URL the user did not give (pip reads that wheel itself, not through the gateway). These
are refused up front, each with the flag or requirement that allows it; none is silently
ignored.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement

from safe_pip.distfiles import parse_filename, read_metadata, unapproved_url_requirements, url_key
from safe_pip.errors import HashMismatch, PolicyDenied, UsageError
from safe_pip.models import ALL, NameSet

if TYPE_CHECKING:
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = [
    "admit",
    "approved_urls",
    "checked_wheel_line",
    "from_sources",
    "local_projects",
    "remote_wheel",
]

_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_URL_PREFIXES = ("http://", "https://", "file:", *_VCS_PREFIXES)


def _looks_like_path(text: str) -> bool:
    # os.path.exists(), unlike Path.exists() before 3.12, is False for a name too long to
    # be a file (a hostile requirement line) instead of an error.
    return text.startswith((".", "/", "~")) or os.path.exists(text) or "\\" in text  # noqa: PTH110


def approved_urls(lines: Sequence[RequirementLine]) -> frozenset[str]:
    """:func:`~safe_pip.distfiles.url_key` of every URL the user named as a requirement or
    constraint: the only direct URLs a distribution may come from or require."""
    targets = (_target(line) for line in lines if not line.editable)
    return frozenset(url_key(target.location) for target in targets if target.is_url)


# pip's ARCHIVE_EXTENSIONS: a requirement ending in one of these is a file to pip even
# when it also reads as a project name ("archive.tar.gz").
_ARCHIVE_SUFFIXES = (
    ".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
    ".tar.gz", ".tgz", ".tar",
)  # fmt: skip
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")


# A named tuple, not a frozen dataclass: every install defines it at start-up, and it costs
# a fraction of one to define.
class _Target(NamedTuple):
    """What a requirement line makes pip fetch or build, read as pip reads it."""

    name: str | None
    """The project named by ``NAME @ ...`` or ``#egg=``; never guessed from a file name."""
    location: str
    """The URL or local path; empty for a requirement resolved from the sources."""
    is_url: bool


def _pip_looks_like_path(text: str) -> bool:
    return os.sep in text or (os.altsep is not None and os.altsep in text) or text[:1] == "."


def _target(line: RequirementLine) -> _Target:
    """The location pip will take for a (non-editable) requirement line.

    pip (``req.constructors.parse_req_from_line``) treats a line as a URL if it has a
    URL scheme, as a local file or directory before trying PEP 508, and only then as
    ``NAME @ URL`` or a name: the same order is followed here.
    """
    text = line.text.strip()
    lowered = text.lower()
    if lowered.startswith(_URL_PREFIXES):
        location = text.split("; ", 1)[0].strip()
        egg = _EGG_RE.search(location)
        return _Target(egg.group(1) if egg else None, location, True)
    bare = text.split(";", 1)[0].strip()
    if (_pip_looks_like_path(bare) and _is_dir(bare)) or (
        bare.lower().endswith(_ARCHIVE_SUFFIXES) and _file_not_requirement(bare)
    ):
        return _Target(None, bare, False)
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return _Target(None, bare if _looks_like_path(bare) else "", False)
    url = requirement.url or ""
    return _Target(requirement.name, url, bool(url))


def _file_not_requirement(text: str) -> bool:
    """pip's reading of a line ending in an archive suffix: a file, unless it does not
    exist and reads as ``NAME @ URL``."""
    if os.path.isfile(text):  # noqa: PTH113 - see _is_dir
        return True
    name, sep, _ = text.partition("@")
    return not sep or _pip_looks_like_path(name)


def _url_path(location: str) -> str:
    """The path a URL names, without query and fragment (what decides its kind)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(location).path)


def _file_path(url: str) -> str:
    """The local path a ``file:`` URL names."""
    # Imported here: urllib.request loads the HTTP client and ssl, which every install's
    # start-up would pay for.
    from urllib.request import url2pathname

    return url2pathname(_url_path(url))


def _is_wheel(target: _Target) -> bool:
    path = _url_path(target.location) if target.is_url else target.location
    return path.endswith(".whl")


def _is_dir(location: str) -> bool:
    # os.path.isdir(), unlike Path.is_dir() before 3.12, is False for a name too long to
    # be a file (a hostile requirement line) instead of an error.
    return os.path.isdir(os.path.expanduser(location))  # noqa: PTH111, PTH112


def _is_local_directory(target: _Target) -> bool:
    if not target.is_url:
        return _is_dir(target.location)
    if not target.location.lower().startswith("file:"):
        return False
    return _is_dir(_file_path(target.location))


def from_sources(line: RequirementLine) -> bool:
    """Whether pip takes this requirement from the sources (not a URL, path or file)."""
    return not line.editable and not _target(line).location


def local_projects(lines: Sequence[RequirementLine]) -> frozenset[Path]:
    """The local project directories the user named (their own code, built unasked)."""
    found = set()
    for line in lines:
        if line.editable:
            found.add(Path(line.text.split(";", 1)[0].strip()).expanduser().resolve())
            continue
        target = _target(line)
        if target.location and _is_local_directory(target):
            location = target.location
            if target.is_url:
                location = _file_path(location)
            found.add(Path(location).expanduser().resolve())
    return frozenset(found)


def _as_uri(location: str) -> str:
    return Path(location).expanduser().absolute().as_uri()


def _source_problem(line: RequirementLine, target: _Target, allow_sdist: NameSet) -> str | None:
    """Default-deny: anything that is neither a wheel nor a local project directory is a
    source build, allowed only by ``--allow-sdist`` for the project it names."""
    if _is_wheel(target) or _is_local_directory(target):
        return None
    if allow_sdist.everything or (target.name is not None and target.name in allow_sdist):
        return None
    if target.name is not None:
        return (
            f"{line.text} ({line.origin}) is a source archive of {target.name}: installing "
            f"it runs its build code. Allow it with --allow-sdist {target.name}."
        )
    url = target.location if target.is_url else _as_uri(target.location)
    filename = (_url_path(url) if target.is_url else target.location).rstrip("/")
    guessed = parse_filename(filename.rsplit("/", 1)[-1])
    fix = (
        f"'{guessed[0]} @ {url}' with --allow-sdist {guessed[0]}"
        if guessed is not None
        else "('NAME @ <url>') with --allow-sdist NAME"
    )
    return (
        f"{line.text} ({line.origin}) is a source archive that names no project: installing "
        f"it runs its build code. Name the project and allow it: {fix}."
    )


def _problem(line: RequirementLine, allow_sdist: NameSet) -> str | None:
    if line.editable:
        if line.text.lower().startswith(_URL_PREFIXES):
            return (
                f"-e {line.text} ({line.origin}) is not a local directory: safe-pip installs "
                f"editable projects only from local paths."
            )
        return None
    target = _target(line)
    if not target.location:
        return None
    if target.location.lower().startswith(_VCS_PREFIXES):
        name = target.name
        if name is not None and name in allow_sdist:
            return None
        flag = f"--allow-sdist {name}" if name else "--allow-sdist NAME (with 'NAME @ <url>')"
        return (
            f"{line.text} ({line.origin}) is a version-control URL: installing it builds "
            f"remote source code. Allow it with {flag}."
        )
    return _source_problem(line, target, allow_sdist)


def _local_wheel(line: RequirementLine) -> Path | None:
    if line.editable:
        return None
    target = _target(line)
    location = target.location
    if target.is_url:
        if not location.lower().startswith("file:"):
            return None
        location = _file_path(location)
    if not location.endswith(".whl"):
        return None
    path = Path(location).expanduser()
    return path if os.path.isfile(path) else None  # noqa: PTH113 - see _is_dir


def _local_wheel_problem(line: RequirementLine, approved: Collection[str]) -> str | None:
    path = _local_wheel(line)
    return None if path is None else _wheel_problem(str(path), path, line, approved)


def _wheel_problem(
    shown: str, path: Path, line: RequirementLine, approved: Collection[str]
) -> str | None:
    """The direct-URL rule for a wheel pip is handed as a file: it may require no URL the
    user did not give, since pip would fetch (and build) that URL by itself."""
    try:
        found = unapproved_url_requirements(read_metadata(path), approved)
    except (ValueError, OSError):
        return None  # not a wheel pip can read either; inspection refuses it if planned
    if not found:
        return None
    return (
        f"{shown} ({line.origin}) requires a direct URL that no requirement of yours names: "
        f"{', '.join(found)}. pip would fetch it by itself, outside the configured sources "
        f"(and build it, if it is a source archive). If you trust that URL, give the "
        f"requirement yourself ('NAME @ URL')."
    )


def remote_wheel(line: RequirementLine) -> str | None:
    """The http(s) URL of the wheel a line names: safe-pip fetches it into its verified
    cache and checks it (:func:`checked_wheel_line`) before pip sees it."""
    if line.editable:
        return None
    target = _target(line)
    if target.is_url and target.location.lower().startswith(("http://", "https://")):
        return target.location if _is_wheel(target) else None
    return None


def checked_wheel_line(
    line: RequirementLine, path: Path, approved: Collection[str]
) -> RequirementLine:
    """The line of :func:`remote_wheel`, pointing at the downloaded copy ``path`` instead,
    after the same checks as a local wheel and the URL's own ``#algorithm=digest``.

    :raises PolicyDenied: the wheel requires a URL the user did not give.
    :raises HashMismatch: the file differs from the digest in the URL's fragment.
    """
    url = _target(line).location
    _check_fragment_hash(url, path, line)
    problem = _wheel_problem(url, path, line, approved)
    if problem:
        raise PolicyDenied(problem + "\nNothing was installed.")
    uri = path.resolve().as_uri()
    text = line.text.strip()
    if text.lower().startswith(_URL_PREFIXES):
        parsed = parse_filename(path.name)
        name = parsed[0] if parsed is not None else path.name
        _, sep, marker = text.partition("; ")
        return replace(line, text=f"{name} @ {uri}" + (f" ; {marker}" if sep else ""))
    requirement = Requirement(text)
    requirement.url = uri
    return replace(line, text=str(requirement))


_FRAGMENT_HASH_RE = re.compile(r"[#&](sha512|sha384|sha256|sha224|sha1|md5)=([^&]*)")


def _check_fragment_hash(url: str, path: Path, line: RequirementLine) -> None:
    """pip checks a ``#sha256=...`` fragment against the file it downloads; pip now reads
    the copy, so safe-pip checks it."""
    match = _FRAGMENT_HASH_RE.search("#" + urllib.parse.urlsplit(url).fragment)
    if match is None:
        return
    algorithm, expected = match.group(1), match.group(2).lower()
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        msg = (
            f"{url} ({line.origin}): the downloaded file does not match the {algorithm} in "
            f"its URL (expected {expected}, got {digest.hexdigest()}). Nothing was installed."
        )
        raise HashMismatch(msg)


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
