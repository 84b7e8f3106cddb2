"""The ``.dist-info`` of a wheel: its name, ``WHEEL``, ``METADATA`` and ``RECORD``.

A wheel is refused when its ``.dist-info`` is named for another project or version, when
``WHEEL`` is missing or of an unsupported version, when ``METADATA`` is not UTF-8, names
another project, differs from what pip resolved with or names a direct URL the user did not
give, and when ``RECORD`` is missing, incomplete, uses a weak hash, or a hash or size is
wrong (pypa/installer's own ``validate_record``).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import zipfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.records import InvalidRecordEntry, parse_record_file
from installer.sources import WheelFile
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.distfiles import unapproved_url_requirements

if TYPE_CHECKING:
    from safe_pip.models import PlannedDist

__all__ = [
    "metadata_problems",
    "name_problems",
    "record_problems",
    "root_scheme",
    "wheel_file_problems",
]

# PEP 427: RECORD hashes are sha256 or stronger; md5 and sha1 are not allowed.
_STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)


def name_problems(dist_info: str, name: str, version: Version) -> Iterator[str]:
    """Whether the ``.dist-info`` is named for the project and version of the file name."""
    stem = dist_info.removesuffix(".dist-info")
    raw_name, _, raw_version = stem.rpartition("-")
    try:
        matches = canonicalize_name(raw_name) == name and Version(raw_version) == version
    except InvalidVersion:
        matches = False
    if not matches:
        yield f"{dist_info} does not match the file name ({name} {version})"


def _headers(data: bytes) -> email.message.Message:
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)


def _wheel_headers(archive: zipfile.ZipFile, dist_info: str) -> email.message.Message:
    """The headers of ``WHEEL`` (``KeyError`` when there is none)."""
    return _headers(archive.read(f"{dist_info}/WHEEL"))


def wheel_file_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    try:
        wheel = _wheel_headers(archive, dist_info)
    except KeyError:
        yield f"{dist_info}/WHEEL is missing"
        return
    if not str(wheel.get("Wheel-Version", "")).startswith("1."):
        yield f"{dist_info}/WHEEL: unsupported Wheel-Version {wheel.get('Wheel-Version')!r}"


def root_scheme(archive: zipfile.ZipFile, dist_info: str) -> str:
    """The scheme the wheel's root goes to, as ``WHEEL`` declares it."""
    wheel = _wheel_headers(archive, dist_info)
    return "purelib" if str(wheel.get("Root-Is-Purelib", "")).lower() == "true" else "platlib"


def _parse_metadata(data: bytes) -> Mapping[str, Any]:
    message = _headers(data)
    return {
        "name": message.get("Name", ""),
        "version": message.get("Version", ""),
        "requires_dist": sorted(message.get_all("Requires-Dist") or []),
        "requires_python": message.get("Requires-Python") or "",
    }


def metadata_problems(
    archive: zipfile.ZipFile, dist_info: str, dist: PlannedDist, approved_urls: Collection[str]
) -> Iterator[str]:
    """Whether ``METADATA`` is the plan entry's, as pip resolved it, with no unapproved URL."""
    try:
        data = archive.read(f"{dist_info}/METADATA")
    except KeyError:
        yield f"{dist_info}/METADATA is missing"
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Core metadata is UTF-8: other bytes read differently for each reader.
        yield f"{dist_info}/METADATA is not UTF-8 text"
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
    for requirement in unapproved_url_requirements(data, approved_urls):
        yield f"METADATA requires {requirement!r}, a direct URL no requirement of yours names"


def _normalized(key: str, value: Any) -> Any:
    if key == "requires_dist":
        return sorted(" ".join(str(v).split()) for v in value)
    return " ".join(str(value).split())


def record_problems(archive: zipfile.ZipFile, dist_info: str, path: Path) -> Iterator[str]:
    """Whether ``RECORD`` lists every member with a strong hash and a size (that the bytes
    agree is checked as they are written, by :mod:`safe_pip.install.wheel_source`)."""
    try:
        WheelFile(archive).validate_record(validate_contents=False)
    except ValueError as exc:
        issues = getattr(exc, "issues", None) or [str(exc)]
        for issue in issues:
            yield str(issue).replace(str(path), Path(archive.filename or "").name)
        return
    yield from _weak_hashes(archive.read(f"{dist_info}/RECORD").decode("utf-8").splitlines())


def _weak_hashes(lines: list[str]) -> Iterator[str]:
    try:
        rows = list(parse_record_file(lines))
    except InvalidRecordEntry as exc:
        yield f"RECORD cannot be parsed: {exc}"
        return
    for member, digest, _size in rows:
        algorithm = digest.partition("=")[0]
        if digest and algorithm not in _STRONG_HASHES:
            yield f"RECORD hashes {member!r} with {algorithm}, which is too weak (PEP 427)"
