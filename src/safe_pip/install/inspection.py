"""Inspect: every wheel is checked before a single byte of it is written.

A wheel is refused when its name, version, ``.dist-info`` and ``METADATA`` disagree, when its
metadata differs from what pip resolved with or names a direct URL the user did not give,
when ``RECORD`` is missing, incomplete, or gives a member no hash, no size or a weak hash
(:mod:`~safe_pip.install.dist_info`), when an archive member or a console script would
not be a plain path inside its scheme (:mod:`~safe_pip.install.members`,
:mod:`~safe_pip.install.scripts`), or when the zip itself is malformed: duplicate names,
symbolic links, bombs, or bytes outside its members (:mod:`~safe_pip.install.archive_checks`).

Where each member goes is read the way pypa/installer reads it (DESIGN invariant 8): the
``.data`` directory is the one named from the wheel's *file name*, as installer names it,
whatever the ``.dist-info`` is called; a wheel with any other ``.data`` directory is refused
rather than read two ways.

Whether each member's bytes have the hash and size ``RECORD`` gives is checked as the member
is written (:mod:`~safe_pip.install.wheel_source`), on the one reading that is installed.

What is found here is only about the archive. Where each file finally lands, and whether
that is acceptable, is :mod:`safe_pip.install.placement`'s question.
"""

from __future__ import annotations

import sys
import zipfile
import zlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from safe_pip.distfiles import dist_info_dirs, url_key
from safe_pip.errors import PolicyDenied, UnsafeWheel
from safe_pip.install.archive_checks import archive_problems
from safe_pip.install.dist_info import (
    metadata_problems,
    name_problems,
    record_problems,
    root_scheme,
    wheel_file_problems,
)
from safe_pip.install.known_hooks import (
    declared_namespaces,
    known_hook,
    may_install_hooks,
    runs_code,
)
from safe_pip.install.members import (
    data_dir_problems,
    generated_files,
    installer_data_dir,
    member_destination,
    member_problems,
)
from safe_pip.install.scripts import (
    Script,
    declared_scripts,
    entry_points_text,
    pip_scripts,
    script_problems,
    survives,
)

if TYPE_CHECKING:
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
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
        # RuntimeError: zipfile's answer to encryption and unknown compression methods.
        raise _refuse(dist, [f"not a readable zip archive: {exc}"]) from exc
    if info.scripts_renamed and not survives(info.scripts):
        raise _refuse(dist, ["entry_points.txt does not survive pip's script renaming"])
    return info


def peek_wheel(
    dist: PlannedDist,
    path: Path,
    *,
    script_kind: str = "posix",
    python_version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
) -> WheelInfo | None:
    """What :func:`inspect_wheel` lists for a wheel (no direct URL approved), to refuse
    early what the full inspection would refuse as well; ``None`` where it refuses (the full
    inspection then says why). Never a reason to install anything."""
    try:
        return inspect_wheel(dist, path, script_kind=script_kind, python_version=python_version)
    except (UnsafeWheel, ValueError, KeyError):
        return None


def _info(
    dist: PlannedDist, archive: zipfile.ZipFile, script_kind: str, python_version: tuple[int, int]
) -> WheelInfo:
    """The files a wheel writes, its scripts and recognised hooks (not checked here)."""
    dist_info = dist_info_dirs(archive)[0]
    declared = declared_scripts(archive, dist_info)
    scripts = pip_scripts(declared, python_version)
    data_dir = installer_data_dir(archive)
    namespaces = declared_namespaces(archive, dist_info)
    written = list(_entries(archive, dist_info, data_dir, scripts, script_kind))
    entries = [_recognised(dist.name, e, archive, namespaces, written) for e in written]
    return WheelInfo(dist_info, tuple(entries), tuple(scripts), scripts != declared, namespaces)


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
) -> Iterator[str]:
    structural = archive_problems(archive)
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
    data_dir = installer_data_dir(archive)
    yield from name_problems(dist_info, name, version)
    yield from wheel_file_problems(archive, dist_info)
    yield from metadata_problems(archive, dist_info, dist, approved_urls)
    yield from data_dir_problems(archive, data_dir)
    yield from member_problems(archive, dist_info, data_dir)
    yield from script_problems(archive, dist_info)
    yield from record_problems(archive, dist_info, path)


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


def _entries(
    archive: zipfile.ZipFile,
    dist_info: str,
    data_dir: str,
    scripts: Sequence[Script],
    script_kind: str,
) -> Iterator[WheelEntry]:
    """Every file pypa/installer will write for this wheel, the way it maps them: the
    install stage writes nothing else."""
    root = root_scheme(archive, dist_info)
    suffix = "" if script_kind == "posix" else ".exe"
    for name, *_rest in scripts:
        yield WheelEntry("scripts", name + suffix)
    for member in archive.namelist():
        # installer skips bytecode shipped in __pycache__, and rewrites RECORD at the end.
        if member.endswith("/") or "__pycache__" in member.split("/")[:-1]:
            continue
        if member == f"{dist_info}/RECORD":
            continue
        destination = member_destination(member, data_dir, root)
        if destination is None:
            continue
        scheme, relative = destination
        runs = relative.lower().endswith(".pth") and runs_code(archive.read(member))
        yield WheelEntry(scheme, relative, member, runs)
    # Written by the install stage (INSTALLER always, the others where they apply).
    for generated in generated_files(dist_info):
        yield WheelEntry(root, generated)
    yield WheelEntry(root, f"{dist_info}/RECORD")
