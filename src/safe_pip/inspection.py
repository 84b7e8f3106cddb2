"""Inspect: every wheel is checked before a single byte of it is written.

A wheel is refused when its name, version, ``.dist-info`` and ``METADATA`` disagree, when its
metadata differs from what pip resolved with or names a direct URL the user did not give,
when ``RECORD`` is missing, incomplete, uses a weak hash, or a hash or size is wrong
(pypa/installer's own ``validate_record``), when an archive member or a console script would
not be a plain path inside its scheme, or when the zip itself is malformed: duplicate names,
symbolic links, bombs, or bytes outside its members.

What is found here is only about the archive. Where each file finally lands, and whether
that is acceptable, is :mod:`safe_pip.placement`'s question.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from installer.records import InvalidRecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES, parse_entrypoints
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from safe_pip.errors import PolicyDenied, UnsafeWheel
from safe_pip.models import Plan, PlannedDist
from safe_pip.wheels import dist_info_dirs, unapproved_url_requirements, url_key

__all__ = [
    "WheelEntry",
    "WheelInfo",
    "check_direct_urls",
    "describe",
    "inspect_wheel",
    "refusal",
]

# A zip bomb is about size, not ratio alone: real wheels ship megabytes of zeros that
# compress a thousandfold (onnx's test data), but no real member expands past 64 MiB at 200x.
_MAX_RATIO = 200
_BIG_MEMBER = 64 << 20
_BIG_ARCHIVE = 1 << 30
_MAX_TOTAL = 8 << 30
# PEP 427: RECORD hashes are sha256 or stronger; md5 and sha1 are not allowed.
_STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
# pypa/installer writes these itself; a wheel that ships them would collide with them.
_GENERATED = ("INSTALLER", "REQUESTED", "direct_url.json")
_PTH_CODE = re.compile(rb"^[\s\xef\xbb\xbf]*import[ \t]")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_DESCRIPTOR_SLACK = 24
"""The largest data descriptor (zip64, with signature) that may follow a member's data."""


@dataclass(frozen=True, slots=True)
class WheelEntry:
    """One file the installer will write: its scheme and its path inside that scheme."""

    scheme: str
    path: str
    member: str | None = None
    """The archive member it comes from; ``None`` for generated files (scripts, RECORD)."""
    runs_code: bool = False
    """A ``.pth`` file with an ``import`` line, which ``site`` executes at every start."""


@dataclass(frozen=True, slots=True)
class WheelInfo:
    """What inspection learnt about a wheel that later stages use."""

    dist_info: str
    entries: tuple[WheelEntry, ...]


def refusal(sections: Sequence[tuple[str, Sequence[str], str]]) -> UnsafeWheel:
    """One error for every ``(heading, reasons, fix)`` found, so nothing is reported later."""
    parts = []
    for heading, reasons, fix in sections:
        listed = "\n".join(f"  - {reason}" for reason in reasons)
        parts.append(f"{heading}:\n{listed}\n{fix}")
    return UnsafeWheel("\n".join(parts) + "\nNothing was installed.")


def describe(dist: PlannedDist) -> str:
    """``name version (file name)``, how refusals name a wheel."""
    return f"{dist.name} {dist.version} ({Path(dist.filename).name})"


def _refuse(dist: PlannedDist, reasons: Sequence[str]) -> UnsafeWheel:
    return refusal(
        [
            (
                f"{describe(dist)} failed inspection",
                reasons,
                "Report this to the project; do not install the file by other means unless "
                "you know why it is malformed.",
            )
        ]
    )


def inspect_wheel(
    dist: PlannedDist,
    path: Path,
    *,
    approved_urls: Collection[str] = frozenset(),
    script_kind: str = "posix",
) -> WheelInfo:
    """Check one wheel against its plan entry and list the files it will write.

    :param approved_urls: :func:`~safe_pip.wheels.url_key` of every direct URL the user
        gave; any other ``name @ url`` requirement in ``METADATA`` is refused.
    :param script_kind: pypa/installer's launcher kind, which decides script file names.
    :raises UnsafeWheel: listing every problem found.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            reasons = list(_problems(dist, archive, path, approved_urls))
            if reasons:
                raise _refuse(dist, reasons)
            dist_info = dist_info_dirs(archive)[0]
            return WheelInfo(dist_info, tuple(_entries(archive, dist_info, script_kind)))
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
        # RuntimeError: zipfile's answer to encryption and unknown compression methods.
        raise _refuse(dist, [f"not a readable zip archive: {exc}"]) from exc


def check_direct_urls(plan: Plan, approved_urls: Collection[str]) -> None:
    """Refuse distributions pip took from a URL the user never gave (a dependency's
    ``name @ url``), before anything downloads it again.

    :raises PolicyDenied: naming each such distribution and its URL.
    """
    unapproved = [
        f"  - {dist.label} from {url_key(dist.file.url)}"
        for dist in plan
        if dist.source is None
        and dist.file is not None
        and url_key(dist.file.url) not in approved_urls
    ]
    if unapproved:
        listed = "\n".join(unapproved)
        msg = (
            f"These distributions come from direct URLs that no requirement of yours names:\n"
            f"{listed}\nNothing was installed. If you trust a URL, give it as a requirement "
            f"yourself ('NAME @ URL' on the command line or in a requirements file)."
        )
        raise PolicyDenied(msg)


def _problems(
    dist: PlannedDist, archive: zipfile.ZipFile, path: Path, approved_urls: Collection[str]
) -> Iterator[str]:
    structural = [*_archive_problems(archive), *_layout_problems(archive)]
    if structural:
        # The members of a malformed archive are not worth reading: what they say may
        # depend on who reads them.
        yield from structural
        return
    try:
        # The cache keeps each file's own name; a built wheel is named by its backend.
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
    dist_info = dirs[0]
    yield from _dist_info_problems(dist_info, name, version)
    yield from _wheel_file_problems(archive, dist_info)
    yield from _metadata_problems(archive, dist_info, dist, approved_urls)
    yield from _member_problems(archive, dist_info)
    yield from _script_problems(archive, dist_info)
    yield from _record_problems(archive, dist_info, path)


def _archive_problems(archive: zipfile.ZipFile) -> Iterator[str]:
    seen: set[str] = set()
    total = compressed = 0
    for item in archive.infolist():
        if item.filename in seen:
            yield f"duplicate archive member {item.filename!r}"
        seen.add(item.filename)
        if stat.S_ISLNK(item.external_attr >> 16):
            yield f"archive member {item.filename!r} is a symbolic link"
        if item.flag_bits & 0x1:
            yield f"archive member {item.filename!r} is encrypted"
        total += item.file_size
        compressed += item.compress_size
        if _bomb(item.file_size, item.compress_size, _BIG_MEMBER):
            ratio = item.file_size // max(item.compress_size, 1)
            yield f"archive member {item.filename!r} expands {ratio}x, to {item.file_size} bytes"
    if total > _MAX_TOTAL or _bomb(total, compressed, _BIG_ARCHIVE):
        yield f"archive expands to {total} bytes from {compressed}"


def _bomb(size: int, compressed: int, big: int) -> bool:
    return size > big and size > compressed * _MAX_RATIO


def _layout_problems(archive: zipfile.ZipFile) -> Iterator[str]:
    """Every byte before the central directory must belong to exactly one member.

    Overlapping members (a zip bomb that reuses one compressed stream), members pointing
    past the directory, and bytes hidden before or between members (a polyglot file whose
    other reading differs from what was inspected) are all refused.
    """
    if archive.fp is None:
        return
    start_dir: int = getattr(archive, "start_dir", 0)
    end = 0
    for item in sorted(archive.infolist(), key=lambda i: i.header_offset):
        if item.header_offset < end:
            yield f"archive member {item.filename!r} overlaps the member before it"
        elif item.header_offset > end + (_DESCRIPTOR_SLACK if end else 0):
            yield f"{item.header_offset - end} bytes before {item.filename!r} belong to no member"
        end = max(end, _member_end(archive.fp, item))
        if end > start_dir:
            yield f"archive member {item.filename!r} extends into the central directory"
            return
    if start_dir > end + _DESCRIPTOR_SLACK:
        yield f"{start_dir - end} bytes before the central directory belong to no member"


def _member_end(stream: IO[bytes], item: zipfile.ZipInfo) -> int:
    stream.seek(item.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size:
        return 1 << 62
    *_fields, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    return int(item.header_offset + len(header) + name_length + extra_length + item.compress_size)


def _dist_info_problems(dist_info: str, name: str, version: Version) -> Iterator[str]:
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


def _wheel_file_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    try:
        wheel = _headers(archive.read(f"{dist_info}/WHEEL"))
    except KeyError:
        yield f"{dist_info}/WHEEL is missing"
        return
    if not str(wheel.get("Wheel-Version", "")).startswith("1."):
        yield f"{dist_info}/WHEEL: unsupported Wheel-Version {wheel.get('Wheel-Version')!r}"


def _root_scheme(archive: zipfile.ZipFile, dist_info: str) -> str:
    wheel = _headers(archive.read(f"{dist_info}/WHEEL"))
    return "purelib" if str(wheel.get("Root-Is-Purelib", "")).lower() == "true" else "platlib"


def _parse_metadata(data: bytes) -> Mapping[str, Any]:
    message = _headers(data)
    return {
        "name": message.get("Name", ""),
        "version": message.get("Version", ""),
        "requires_dist": sorted(message.get_all("Requires-Dist") or []),
        "requires_python": message.get("Requires-Python") or "",
    }


def _metadata_problems(
    archive: zipfile.ZipFile, dist_info: str, dist: PlannedDist, approved_urls: Collection[str]
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
    for requirement in unapproved_url_requirements(data, approved_urls):
        yield f"METADATA requires {requirement!r}, a direct URL no requirement of yours names"


def _normalized(key: str, value: Any) -> Any:
    if key == "requires_dist":
        return sorted(" ".join(str(v).split()) for v in value)
    return " ".join(str(value).split())


def _member_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    data_dir = _data_dir(dist_info)
    for member in archive.namelist():
        problem = _path_problem(member)
        if problem:
            yield f"archive member {member!r} {problem}"
            continue
        if member.endswith("/"):
            continue
        destination = _destination(member, data_dir, "purelib")
        if destination is None:
            yield f"archive member {member!r} is not in a known .data scheme"
            continue
        scheme, relative = destination
        top = relative.split("/", 1)[0]
        if scheme in ("purelib", "platlib") and top != dist_info and _is_metadata_dir(top):
            yield f"archive member {member!r} would create metadata of another project ({top})"
        if relative in {f"{dist_info}/{generated}" for generated in _GENERATED}:
            yield f"archive member {member!r} is a file the installer writes itself"


def _is_metadata_dir(name: str) -> bool:
    return name.endswith((".dist-info", ".egg-info"))


def _data_dir(dist_info: str) -> str:
    return dist_info.removesuffix(".dist-info") + ".data"


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


def _destination(member: str, data_dir: str, root_scheme: str) -> tuple[str, str] | None:
    """``(scheme, path inside it)`` as pypa/installer maps a member; ``None`` if the member
    is in ``.data`` but not in one of its schemes."""
    first, _, rest = member.partition("/")
    if first != data_dir:
        return root_scheme, member
    scheme, _, relative = rest.partition("/")
    if scheme not in SCHEME_NAMES or not relative:
        return None
    return scheme, relative


def _scripts(archive: zipfile.ZipFile, dist_info: str) -> list[str]:
    """Names of the console and GUI scripts ``entry_points.txt`` declares.

    :raises ValueError: the file does not parse the way pypa/installer reads it.
    """
    try:
        text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    except KeyError:
        return []
    except UnicodeDecodeError as exc:
        raise ValueError(exc) from exc
    try:
        return [name for name, *_rest in parse_entrypoints(text)]
    except Exception as exc:
        # installer asserts on malformed entries and configparser raises its own errors.
        raise ValueError(str(exc) or type(exc).__name__) from exc


def _script_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    try:
        names = _scripts(archive, dist_info)
    except ValueError as exc:
        yield f"{dist_info}/entry_points.txt cannot be read: {exc}"
        return
    for name in names:
        if not _plain_file_name(name):
            yield f"console script name {name!r} is not a plain file name"


def _plain_file_name(name: str) -> bool:
    if name in ("", ".", "..") or name != name.strip():
        return False
    return not any(c in "/\\:" or ord(c) < 32 or ord(c) == 127 for c in name)


def _record_problems(archive: zipfile.ZipFile, dist_info: str, path: Path) -> Iterator[str]:
    try:
        WheelFile(archive).validate_record(validate_contents=True)
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


def _runs_code(data: bytes) -> bool:
    # site.py executes .pth lines that start with "import"; leading blanks and a byte-order
    # mark are allowed here too, so nothing slips through a stricter reading.
    return any(_PTH_CODE.match(line) for line in data.splitlines())


def _entries(archive: zipfile.ZipFile, dist_info: str, script_kind: str) -> Iterator[WheelEntry]:
    """Every file pypa/installer will write for this wheel, the way it maps them."""
    root = _root_scheme(archive, dist_info)
    suffix = "" if script_kind == "posix" else ".exe"
    for name in _scripts(archive, dist_info):
        yield WheelEntry("scripts", name + suffix)
    data_dir = _data_dir(dist_info)
    for member in archive.namelist():
        # installer skips bytecode shipped in __pycache__, and rewrites RECORD at the end.
        if member.endswith("/") or "__pycache__" in member.split("/")[:-1]:
            continue
        if member == f"{dist_info}/RECORD":
            continue
        destination = _destination(member, data_dir, root)
        if destination is None:
            continue
        scheme, relative = destination
        runs_code = relative.lower().endswith(".pth") and _runs_code(archive.read(member))
        yield WheelEntry(scheme, relative, member, runs_code)
    yield WheelEntry(root, f"{dist_info}/RECORD")
