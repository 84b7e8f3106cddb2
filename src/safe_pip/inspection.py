"""Inspect: every wheel is checked before a single byte of it is written.

A wheel is refused when its name, version, ``.dist-info`` and ``METADATA`` disagree, when its
metadata differs from what pip resolved with, when ``RECORD`` is incomplete or a hash or
size is wrong (pypa/installer's own ``validate_record``), when an archive member would land
outside its destination, or when the zip itself is malformed.
"""

from __future__ import annotations

import email.parser
import email.policy
import posixpath
import stat
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer.sources import WheelFile
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from safe_pip.errors import UnsafeWheel
from safe_pip.models import PlannedDist
from safe_pip.wheels import dist_info_dirs

__all__ = ["WheelInfo", "inspect_wheel"]

_SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})
_MAX_RATIO = 200
_MAX_TOTAL = 8 << 30


@dataclass(frozen=True, slots=True)
class WheelInfo:
    """What inspection learnt about a wheel that later stages use."""

    dist_info: str
    members: tuple[str, ...]


def _refuse(dist: PlannedDist, reasons: list[str]) -> UnsafeWheel:
    listed = "\n".join(f"  - {reason}" for reason in reasons)
    return UnsafeWheel(
        f"{dist.name} {dist.version} ({dist.filename}) failed inspection and was not "
        f"installed:\n{listed}\nNothing was installed. Report this to the project; do not "
        f"install the file by other means unless you know why it is malformed."
    )


def inspect_wheel(dist: PlannedDist, path: Path) -> WheelInfo:
    """Check one wheel against its plan entry.

    :raises UnsafeWheel: listing every problem found.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            reasons = list(_problems(dist, archive, path))
            info = WheelInfo(
                dist_info=next(iter(dist_info_dirs(archive)), ""),
                members=tuple(archive.namelist()),
            )
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(dist, [f"not a readable zip archive: {exc}"]) from exc
    if reasons:
        raise _refuse(dist, reasons)
    return info


def _problems(dist: PlannedDist, archive: zipfile.ZipFile, path: Path) -> Iterator[str]:
    yield from _archive_problems(archive)
    try:
        name, version, _build, _tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        yield f"invalid wheel file name: {exc}"
        return
    if name != dist.name or version != dist.version:
        yield f"file name says {name} {version}, the plan says {dist.name} {dist.version}"
    dirs = dist_info_dirs(archive)
    if len(dirs) != 1:
        yield f"expected exactly one .dist-info directory, found {len(dirs)}"
        return
    yield from _dist_info_problems(dirs[0], name, version)
    yield from _metadata_problems(archive, dirs[0], dist)
    yield from _member_problems(archive, dirs[0])
    yield from _record_problems(archive, path)


def _archive_problems(archive: zipfile.ZipFile) -> Iterator[str]:
    seen: set[str] = set()
    total = 0
    for item in archive.infolist():
        if item.filename in seen:
            yield f"duplicate archive member {item.filename!r}"
        seen.add(item.filename)
        if stat.S_ISLNK(item.external_attr >> 16):
            yield f"archive member {item.filename!r} is a symbolic link"
        total += item.file_size
        if _suspicious_ratio(item):
            ratio = item.file_size // item.compress_size
            yield f"archive member {item.filename!r} expands {ratio}x"
    if total > _MAX_TOTAL:
        yield f"archive expands to {total} bytes"


def _suspicious_ratio(item: zipfile.ZipInfo) -> bool:
    # Small members compress absurdly well legitimately (empty __init__.py); only a large
    # expansion is a zip bomb.
    if not item.compress_size or item.file_size <= 1 << 20:
        return False
    return item.file_size / item.compress_size > _MAX_RATIO


def _dist_info_problems(dist_info: str, name: str, version: Version) -> Iterator[str]:
    stem = dist_info.removesuffix(".dist-info")
    raw_name, _, raw_version = stem.rpartition("-")
    try:
        matches = canonicalize_name(raw_name) == name and Version(raw_version) == version
    except InvalidVersion:
        matches = False
    if not matches:
        yield f"{dist_info} does not match the file name ({name} {version})"


def _parse_metadata(data: bytes) -> Mapping[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    return {
        "name": message.get("Name", ""),
        "version": message.get("Version", ""),
        "requires_dist": sorted(message.get_all("Requires-Dist") or []),
        "requires_python": message.get("Requires-Python") or "",
    }


def _metadata_problems(
    archive: zipfile.ZipFile, dist_info: str, dist: PlannedDist
) -> Iterator[str]:
    try:
        data = archive.read(f"{dist_info}/METADATA")
    except KeyError:
        yield f"{dist_info}/METADATA is missing"
        return
    ours = _parse_metadata(data)
    try:
        version_ok = Version(ours["version"]) == dist.version
    except InvalidVersion:
        version_ok = False
    if canonicalize_name(ours["name"]) != dist.name or not version_ok:
        yield (
            f"METADATA says {ours['name']} {ours['version']}, the plan says "
            f"{dist.name} {dist.version}"
        )
    resolved = dist.metadata
    theirs = {
        "requires_dist": sorted(resolved.get("requires_dist", [])),
        "requires_python": resolved.get("requires_python", ""),
    }
    for key, value in theirs.items():
        if _normalized(key, ours[key]) != _normalized(key, value):
            yield (
                f"METADATA {key.replace('_', '-')} differs from the metadata pip resolved "
                f"with ({ours[key]!r} != {value!r})"
            )


def _normalized(key: str, value: Any) -> Any:
    if key == "requires_dist":
        return sorted(" ".join(str(v).split()) for v in value)
    return " ".join(str(value).split())


def _member_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    data_dir = dist_info.removesuffix(".dist-info") + ".data"
    for member in archive.namelist():
        problem = _path_problem(member)
        if problem:
            yield f"archive member {member!r} {problem}"
            continue
        parts = member.split("/")
        if parts[0] == data_dir and len(parts) > 2 and parts[1] not in _SCHEMES:
            yield f"archive member {member!r} is in an unknown .data scheme {parts[1]!r}"


def _path_problem(member: str) -> str | None:
    if "\\" in member or "\x00" in member:
        return "contains a backslash or NUL character"
    if member.startswith("/") or (len(member) > 1 and member[1] == ":"):
        return "is an absolute path"
    if ".." in member.split("/"):
        return "contains '..'"
    if posixpath.normpath(member).startswith(".."):
        return "leaves the archive root"
    return None


def _record_problems(archive: zipfile.ZipFile, path: Path) -> Iterator[str]:
    try:
        WheelFile(archive).validate_record(validate_contents=True)
    except ValueError as exc:
        issues = getattr(exc, "issues", None) or [str(exc)]
        for issue in issues:
            yield str(issue).replace(str(path), Path(archive.filename or "").name)
