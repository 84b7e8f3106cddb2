"""Inspect: every wheel is checked before a single byte of it is written.

A wheel is refused when its name, version, ``.dist-info`` and ``METADATA`` disagree, when its
metadata differs from what pip resolved with or names a direct URL the user did not give,
when ``RECORD`` is missing, incomplete, uses a weak hash, or a hash or size is wrong
(pypa/installer's own ``validate_record``), when an archive member or a console script would
not be a plain path inside its scheme, or when the zip itself is malformed: duplicate names,
symbolic links, bombs, or bytes outside its members.

Where each member goes is read the way pypa/installer reads it (DESIGN invariant 8): the
``.data`` directory is the one named from the wheel's *file name*, as installer names it,
whatever the ``.dist-info`` is called; a wheel with any other ``.data`` directory is refused
rather than read two ways.

What is found here is only about the archive. Where each file finally lands, and whether
that is acceptable, is :mod:`safe_pip.install.placement`'s question.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import posixpath
import re
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from installer.records import InvalidRecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES, parse_entrypoints
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from safe_pip.distfiles import dist_info_dirs, unapproved_url_requirements, url_key
from safe_pip.errors import PolicyDenied, UnsafeWheel
from safe_pip.models import Plan, PlannedDist

__all__ = [
    "Script",
    "WheelEntry",
    "WheelInfo",
    "check_direct_urls",
    "describe",
    "entry_points_text",
    "inspect_wheel",
    "known_hook",
    "may_install_hooks",
    "peek_wheel",
    "pip_scripts",
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
# Every byte sequence that ends a .pth line for some supported interpreter. 3.11 and 3.12
# read the file in text mode in the locale encoding (universal newlines: \n, \r, \r\n);
# 3.13+ decode it as utf-8-sig, else in the locale encoding, and split it with
# str.splitlines(), which also breaks at \x0b \x0c \x1c \x1d \x1e \x85 \u2028 \u2029.
# Spelt in every ASCII-compatible encoding a locale may use: single bytes (\x85 is NEL in
# latin-1 and its kin; \xc2\x85 in UTF-8 ends with it), UTF-8's \u2028 and \u2029, and
# gb18030's four-byte \x85, \u2028, \u2029. Splitting at all of them finds every line start
# of every reading; a test checks the list against every codec Python has.
_PTH_BREAKS = re.compile(
    rb"[\n\r\x0b\x0c\x1c\x1d\x1e\x85]|\xe2\x80[\xa8\xa9]|\x81\x30\x81\x35|\x81\x36\xa6[\x35\x36]"
)
# site executes a line that starts with "import " or "import\t". Leading blanks and
# byte-order marks (utf-8-sig drops the first) are allowed here too, a stricter reading.
_PTH_CODE = re.compile(rb"^[ \t\xef\xbb\xbf]*import[ \t]")
# pip's versioned wrappers (get_console_script_specs): the wheel's own versioned names of
# these two are dropped and written again for the interpreter installed into.
_PIP_VERSIONED = re.compile(r"pip(\d+(\.\d+)?)?$")
_EASY_INSTALL_VERSIONED = re.compile(r"easy_install(-\d+\.\d+)?$")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")

# setuptools' distutils-precedence.pth, byte for byte as each release since 49.3.0 wrote it
# (setup.py, install_with_pth: the lines joined with "; ", and the newline distutils adds in
# text mode: "\r\n" where built on Windows). It imports _distutils_hack, from the same wheel.
_DISTUTILS_PRECEDENCE = frozenset(
    ("; ".join(("import os", *lines)) + "; " + newline).encode()
    for newline in ("\n", "\r\n")
    for lines in (
        (  # 49.3.0 to 49.x
            "enabled = os.environ.get('SETUPTOOLS_USE_DISTUTILS') == 'local'",
            "enabled and __import__('_distutils_hack').add_shim()",
        ),
        *(
            (
                "var = 'SETUPTOOLS_USE_DISTUTILS'",
                f"enabled = os.environ.get(var, {default!r}) == 'local'",
                f"enabled and __import__('_distutils_hack').{call}()",
            )
            # 'local' in 50.0.x and from 60.0.0 on, 'stdlib' from 50.1.0 to 59.x;
            # ensure_shim in 60.1.x only.
            for default, call in (
                ("local", "add_shim"),
                ("stdlib", "add_shim"),
                ("local", "ensure_shim"),
            )
        ),
    )
)
# setuptools' -nspkg.pth for legacy namespace packages (namespaces.py, _nspkg_tmpl; before
# 28.7.0 in install_egg_info.py), each template it ever used since 20.6.0: one line per
# package (sorted, with every parent), the template's lines joined with ";", then the
# parent line for a subpackage; written in text mode ("\r\n" where built on Windows).
_NSPKG_ROOT = "sys._getframe(1).f_locals['sitedir']"
_NSPKG_P = "p = os.path.join(%(root)s, *%(pth)r)"
_NSPKG_TAIL = (
    "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
    "(p not in mp) and mp.append(p)",
)
_NSPKG_MODULE = "sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))"
_NSPKG_FROM_SPEC = (
    "sys.modules.setdefault(%(pkg)r, importlib.util.module_from_spec("
    "importlib.machinery.PathFinder.find_spec(%(pkg)r, [os.path.dirname(p)])))"
)
_NSPKG_IE = "ie = os.path.exists(os.path.join(p,'__init__.py'))"
_NSPKG_MFS = (
    "has_mfs = sys.version_info > (3, 5)",
    _NSPKG_P,
    "importlib = has_mfs and __import__('importlib.util')",
    "has_mfs and __import__('importlib.machinery')",
    f"m = has_mfs and {_NSPKG_FROM_SPEC}",
)
_NSPKG_TEMPLATES = tuple(
    ("import sys, types, os", *lines, *_NSPKG_TAIL)
    for lines in (
        (_NSPKG_P, _NSPKG_IE, f"m = not ie and {_NSPKG_MODULE}"),  # 20.6.0 to 28.6.1
        (
            "pep420 = sys.version_info > (3, 3)",
            _NSPKG_P,
            _NSPKG_IE,
            f"m = not ie and not pep420 and {_NSPKG_MODULE}",
        ),  # 28.3.0 to 30.4.0
        (*_NSPKG_MFS, f"m = m or not has_mfs and {_NSPKG_MODULE}"),  # 31.0.0 to 34.2.0
        (*_NSPKG_MFS, f"m = m or {_NSPKG_MODULE}"),  # 34.3.0 to 69.0.3
        (
            _NSPKG_P,
            "importlib = __import__('importlib.util')",
            "__import__('importlib.machinery')",
            f"m = {_NSPKG_FROM_SPEC}",
            f"m = m or {_NSPKG_MODULE}",
        ),  # 69.1.0 on
    )
)
_NSPKG_PARENT = "m and setattr(sys.modules[%(parent)r], %(child)r, m)"
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
    known_hook: str | None = None
    """For such a file: what it is, when its bytes are exactly those of a well-known hook
    of this project (see :func:`known_hook`)."""


Script = tuple[str, str, str, str]
"""``(name, module, attribute, section)`` of a script, as pypa/installer reads
``entry_points.txt``; section is ``console`` or ``gui``."""


@dataclass(frozen=True, slots=True)
class WheelInfo:
    """What inspection learnt about a wheel that later stages use."""

    dist_info: str
    entries: tuple[WheelEntry, ...]
    scripts: tuple[Script, ...] = ()
    """The scripts to write, as pip would (see :func:`pip_scripts`)."""
    scripts_renamed: bool = False
    """:attr:`scripts` differ from what ``entry_points.txt`` declares: the installer is
    given :func:`entry_points_text` of them instead."""
    namespaces: tuple[str, ...] = ()
    """The legacy namespace packages ``namespace_packages.txt`` declares, with their
    parents, sorted: the packages its ``-nspkg.pth`` hook may set up."""


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
    python_version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
) -> WheelInfo:
    """Check one wheel against its plan entry and list the files it will write.

    :param approved_urls: :func:`~safe_pip.distfiles.url_key` of every direct URL the user
        gave; any other ``name @ url`` requirement in ``METADATA`` is refused.
    :param script_kind: pypa/installer's launcher kind, which decides script file names.
    :param python_version: the target's, which names pip's versioned scripts (``pip3.11``).
    :raises UnsafeWheel: listing every problem found.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            reasons = list(_problems(dist, archive, path, approved_urls))
            if reasons:
                raise _refuse(dist, reasons)
            info = _info(dist, archive, script_kind, python_version)
            if info.scripts_renamed and not _survives(info.scripts):
                raise _refuse(dist, ["entry_points.txt does not survive pip's script renaming"])
            return info
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
        # RuntimeError: zipfile's answer to encryption and unknown compression methods.
        raise _refuse(dist, [f"not a readable zip archive: {exc}"]) from exc


def peek_wheel(
    dist: PlannedDist,
    path: Path,
    *,
    script_kind: str = "posix",
    python_version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
) -> WheelInfo | None:
    """What :func:`inspect_wheel` would list for a wheel, after every check but RECORD's
    hashes (which read every byte), to refuse early what the full inspection would refuse
    as well; ``None`` when a check fails (then :func:`inspect_wheel` says why). Never a
    reason to install anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            if any(_problems(dist, archive, path, (), hashes=False)):
                return None
            return _info(dist, archive, script_kind, python_version)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error, ValueError, KeyError):
        return None


def may_install_hooks(path: Path) -> bool:
    """Whether a wheel has any file that could be a startup hook wherever it lands (a
    ``.pth`` or ``.start`` file, anything named like ``sitecustomize``/``usercustomize``,
    any ``.data`` file, a script so named): a cheap look at its member names, so that
    :func:`peek_wheel` reads only these. ``True`` when the archive cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            scripts = [
                archive.read(name).lower()
                for name in names
                if name.count("/") == 1 and name.endswith(".dist-info/entry_points.txt")
            ]
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error, KeyError):
        return True
    if any(b"customize" in text for text in scripts):
        return True
    for name in names:
        lowered = name.lower()
        parts = lowered.split("/")
        if lowered.endswith((".pth", ".start")) or ".data" in parts[0]:
            return True
        if any(part.startswith(("sitecustomize", "usercustomize")) for part in parts):
            return True
    return False


def _info(
    dist: PlannedDist, archive: zipfile.ZipFile, script_kind: str, python_version: tuple[int, int]
) -> WheelInfo:
    """The files a wheel writes, its scripts and recognised hooks (not checked here)."""
    dist_info = dist_info_dirs(archive)[0]
    declared = _scripts(archive, dist_info)
    scripts = pip_scripts(declared, python_version)
    data_dir = _installer_data_dir(archive)
    namespaces = _namespaces(archive, dist_info)
    written = list(_entries(archive, dist_info, data_dir, scripts, script_kind))
    entries = [_recognised(dist.name, e, archive, namespaces, written) for e in written]
    return WheelInfo(dist_info, tuple(entries), tuple(scripts), scripts != declared, namespaces)


def _survives(scripts: Sequence[Script]) -> bool:
    """Whether pypa/installer reads :func:`entry_points_text` of ``scripts`` as them."""
    return list(parse_entrypoints(entry_points_text(scripts))) == list(scripts)


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
    dist: PlannedDist,
    archive: zipfile.ZipFile,
    path: Path,
    approved_urls: Collection[str],
    *,
    hashes: bool = True,
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
    data_dir = _installer_data_dir(archive)
    yield from _dist_info_problems(dist_info, name, version)
    yield from _wheel_file_problems(archive, dist_info)
    yield from _metadata_problems(archive, dist_info, dist, approved_urls)
    yield from _data_dir_problems(archive, data_dir)
    yield from _member_problems(archive, dist_info, data_dir)
    yield from _script_problems(archive, dist_info)
    if hashes:
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


def _installer_data_dir(archive: zipfile.ZipFile) -> str:
    """The ``.data`` directory exactly as pypa/installer names it when it installs this
    archive: ``{distribution}-{version}.data`` from the parts of the *file name*, spelt as
    they are there, whatever the ``.dist-info`` is called (``Evil-1.0.dist-info`` in
    ``evil-1.0-py3-none-any.whl`` still has ``evil-1.0.data``)."""
    return WheelFile(archive).data_dir


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


def _data_dir_problems(archive: zipfile.ZipFile, data_dir: str) -> Iterator[str]:
    """Any other ``.data`` directory (another spelling of the name or version, as in the
    ``.dist-info``) would be installed as plain files where a reader expects a scheme."""
    tops = {member.split("/", 1)[0] for member in archive.namelist()}
    for top in sorted(tops):
        if top != data_dir and top.lower().endswith(".data"):
            yield (
                f"{top} is not the .data directory pypa/installer reads ({data_dir}, named "
                f"from the file name)"
            )


def _member_problems(archive: zipfile.ZipFile, dist_info: str, data_dir: str) -> Iterator[str]:
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
        if scheme in ("purelib", "platlib") and _is_metadata_dir(top):
            if top != dist_info:
                yield f"archive member {member!r} would create metadata of another project ({top})"
            elif relative != member:
                yield f"archive member {member!r} writes into {dist_info} through .data"
        if relative in {f"{dist_info}/{generated}" for generated in _GENERATED}:
            yield f"archive member {member!r} is a file the installer writes itself"


def _is_metadata_dir(name: str) -> bool:
    return name.lower().endswith((".dist-info", ".egg-info"))


def _path_problem(member: str) -> str | None:
    if "\\" in member or "\x00" in member:
        return "contains a backslash or NUL character"
    if member.startswith("/") or (len(member) > 1 and member[1] == ":"):
        return "is an absolute path"
    parts = member.removesuffix("/").split("/")
    if ".." in parts:
        return "contains '..'"
    if posixpath.normpath(member).startswith(".."):
        return "leaves the archive root"
    if "" in parts or "." in parts:
        # installer compares paths component-wise (posixpath.commonpath drops "" and "."),
        # a reading no plain split agrees with: refused rather than read twice.
        return "has an empty or '.' path component"
    return None


def _destination(member: str, data_dir: str, root_scheme: str) -> tuple[str, str] | None:
    """``(scheme, path inside it)`` as pypa/installer maps a member (``_determine_scheme``,
    for the plain paths :func:`_path_problem` lets through); ``None`` if the member is in
    ``.data`` but not in one of its schemes.

    :param data_dir: the ``.data`` directory as :func:`_installer_data_dir` names it.
    """
    first, _, rest = member.partition("/")
    if first != data_dir:
        return root_scheme, member
    scheme, _, relative = rest.partition("/")
    if scheme not in SCHEME_NAMES or not relative:
        return None
    return scheme, relative


def _scripts(archive: zipfile.ZipFile, dist_info: str) -> list[Script]:
    """The console and GUI scripts ``entry_points.txt`` declares.

    :raises ValueError: the file does not parse the way pypa/installer reads it.
    """
    try:
        text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    except KeyError:
        return []
    except UnicodeDecodeError as exc:
        raise ValueError(exc) from exc
    try:
        return list(parse_entrypoints(text))
    except Exception as exc:
        # installer asserts on malformed entries and configparser raises its own errors.
        raise ValueError(str(exc) or type(exc).__name__) from exc


def _script_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    try:
        scripts = _scripts(archive, dist_info)
    except ValueError as exc:
        yield f"{dist_info}/entry_points.txt cannot be read: {exc}"
        return
    for name, *_rest in scripts:
        if not _plain_file_name(name):
            yield f"console script name {name!r} is not a plain file name"


def pip_scripts(declared: Sequence[Script], python_version: tuple[int, int]) -> list[Script]:
    """The scripts pip writes for the declared ones (``get_console_script_specs`` in
    ``pip._internal.operations.install.wheel``): a console script named ``pip`` is written
    as ``pip``, ``pipX`` and ``pipX.Y`` for the target interpreter, ``easy_install`` as
    ``easy_install`` and ``easy_install-X.Y``, and the wheel's own versioned names of
    either (built for whichever Python made the wheel) are dropped. Whatever project
    declares them, as pip does.

    pip's ``ENSUREPIP_OPTIONS`` (read only while ``ensurepip`` runs) is not followed.
    """
    major, minor = python_version
    console = {script[0]: script for script in declared if script[3] == "console"}
    written: list[Script] = []
    pip = console.pop("pip", None)
    if pip is not None:
        written += [(name, *pip[1:]) for name in ("pip", f"pip{major}", f"pip{major}.{minor}")]
        console = {k: v for k, v in console.items() if not _PIP_VERSIONED.match(k)}
    easy_install = console.pop("easy_install", None)
    if easy_install is not None:
        names = ("easy_install", f"easy_install-{major}.{minor}")
        written += [(name, *easy_install[1:]) for name in names]
        console = {k: v for k, v in console.items() if not _EASY_INSTALL_VERSIONED.match(k)}
    written += console.values()
    written += [script for script in declared if script[3] != "console"]
    return written


def entry_points_text(scripts: Sequence[Script]) -> str:
    """``entry_points.txt`` that pypa/installer reads as exactly ``scripts``."""
    sections: dict[str, list[str]] = {}
    for name, module, attribute, section in scripts:
        sections.setdefault(section, []).append(f"{name} = {module}:{attribute}\n")
    return "".join(f"[{section}_scripts]\n{''.join(lines)}" for section, lines in sections.items())


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


def _namespaces(archive: zipfile.ZipFile, dist_info: str) -> tuple[str, ...]:
    """What setuptools' ``_get_all_ns_packages`` makes of ``namespace_packages.txt``: every
    declared package and its parents, sorted; nothing unless each is a dotted identifier."""
    try:
        text = archive.read(f"{dist_info}/namespace_packages.txt").decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return ()
    names: set[str] = set()
    for line in filter(None, map(str.strip, text.splitlines())):
        parts = line.split(".")
        if not all(part.isidentifier() and part.isascii() for part in parts):
            return ()
        names.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return tuple(sorted(names))


def _nspkg_contents(namespaces: Sequence[str]) -> set[bytes]:
    """Every ``-nspkg.pth`` a setuptools release would write for these packages."""
    found = set()
    for template in _NSPKG_TEMPLATES:
        lines = []
        for package in namespaces:
            parent, _, child = package.rpartition(".")
            values = {
                "root": _NSPKG_ROOT,
                "pth": tuple(package.split(".")),
                "pkg": package,
                "parent": parent,
                "child": child,
            }
            joined = ";".join((*template, _NSPKG_PARENT) if parent else template)
            lines.append(joined % values + "\n")
        text = "".join(lines)
        found.update({text.encode(), text.replace("\n", "\r\n").encode()})
    return found


def known_hook(
    project: str, path: str, data: bytes, namespaces: Sequence[str], ships: Collection[str]
) -> str | None:
    """What a startup hook is, when its bytes are exactly those of a well-known one that
    imports nothing from another project; else ``None``.

    - ``distutils-precedence.pth`` of setuptools itself, as released, with the
      ``_distutils_hack`` it imports in the same wheel;
    - a legacy namespace package's ``-nspkg.pth``, as setuptools writes it for exactly the
      packages the wheel's ``namespace_packages.txt`` declares, which the wheel ships files
      in and none of which is in the standard library (it creates module objects and runs
      no package code; :mod:`safe_pip.install.placement` checks no module stands where it looks).

    :param path: the file's path in its scheme directory.
    :param ships: the paths in that scheme directory this wheel writes.
    """
    if "/" in path:
        return None
    if (
        project == "setuptools"
        and path == "distutils-precedence.pth"
        and data in _DISTUTILS_PRECEDENCE
        and "_distutils_hack/__init__.py" in ships
    ):
        return "setuptools' distutils-precedence.pth, as released"
    if (
        path.endswith("-nspkg.pth")
        and namespaces
        and _own_namespaces(namespaces, ships)
        and data in _nspkg_contents(namespaces)
    ):
        return f"setuptools' namespace-package hook for {', '.join(namespaces)}"
    return None


def _own_namespaces(namespaces: Sequence[str], ships: Collection[str]) -> bool:
    """Whether the wheel ships files in each namespace package, and none is a name of the
    standard library (which the hook would replace in ``sys.modules``)."""
    top = {name.split(".", 1)[0] for name in namespaces}
    if top & (set(sys.stdlib_module_names) | set(sys.builtin_module_names)):
        return False
    return all(
        any(path.startswith(f"{name.replace('.', '/')}/") for path in ships) for name in namespaces
    )


def _recognised(
    project: str,
    entry: WheelEntry,
    archive: zipfile.ZipFile,
    namespaces: Sequence[str],
    written: Sequence[WheelEntry],
) -> WheelEntry:
    if not entry.runs_code or entry.member is None:
        return entry
    ships = {other.path for other in written if other.scheme == entry.scheme}
    data = archive.read(entry.member)
    return replace(entry, known_hook=known_hook(project, entry.path, data, namespaces, ships))


def _runs_code(data: bytes) -> bool:
    """Whether ``site`` would execute a line of this ``.pth`` file on any supported Python,
    whatever encoding it decodes it with (see ``_PTH_BREAKS``)."""
    return any(_PTH_CODE.match(line) for line in _PTH_BREAKS.split(data))


def _entries(
    archive: zipfile.ZipFile,
    dist_info: str,
    data_dir: str,
    scripts: Sequence[Script],
    script_kind: str,
) -> Iterator[WheelEntry]:
    """Every file pypa/installer will write for this wheel, the way it maps them: the
    install stage writes nothing else."""
    root = _root_scheme(archive, dist_info)
    suffix = "" if script_kind == "posix" else ".exe"
    for name, *_rest in scripts:
        yield WheelEntry("scripts", name + suffix)
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
    # Written by the install stage (INSTALLER always, the others where they apply).
    for generated in _GENERATED:
        yield WheelEntry(root, f"{dist_info}/{generated}")
    yield WheelEntry(root, f"{dist_info}/RECORD")
