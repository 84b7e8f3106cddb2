"""Archive members as pypa/installer reads them (DESIGN invariant 8): where each one goes.

The ``.data`` directory is the one named from the wheel's *file name*, as installer names
it, whatever the ``.dist-info`` is called; a wheel with any other ``.data`` directory is
refused rather than read two ways. A member must be a plain path that stays in its scheme,
writes no other project's metadata, and is none of the files the installer writes itself.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator

from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

__all__ = [
    "data_dir_problems",
    "generated_files",
    "installer_data_dir",
    "member_destination",
    "member_problems",
]

# pypa/installer writes these itself; a wheel that ships them would collide with them.
_GENERATED = ("INSTALLER", "REQUESTED", "direct_url.json")


def generated_files(dist_info: str) -> list[str]:
    """The paths, in the root scheme, of what the installer writes into the ``.dist-info``
    itself (``INSTALLER`` always, the others where they apply)."""
    return [f"{dist_info}/{generated}" for generated in _GENERATED]


def installer_data_dir(archive: zipfile.ZipFile) -> str:
    """The ``.data`` directory exactly as pypa/installer names it when it installs this
    archive: ``{distribution}-{version}.data`` from the parts of the *file name*, spelt as
    they are there, whatever the ``.dist-info`` is called (``Evil-1.0.dist-info`` in
    ``evil-1.0-py3-none-any.whl`` still has ``evil-1.0.data``)."""
    return WheelFile(archive).data_dir


def data_dir_problems(archive: zipfile.ZipFile, data_dir: str) -> Iterator[str]:
    """Any other ``.data`` directory (another spelling of the name or version, as in the
    ``.dist-info``) would be installed as plain files where a reader expects a scheme."""
    tops = {member.split("/", 1)[0] for member in archive.namelist()}
    for top in sorted(tops):
        if top != data_dir and top.lower().endswith(".data"):
            yield (
                f"{top} is not the .data directory pypa/installer reads ({data_dir}, named "
                f"from the file name)"
            )


def member_problems(archive: zipfile.ZipFile, dist_info: str, data_dir: str) -> Iterator[str]:
    """Members that are no plain path, fit no scheme, or write metadata they should not."""
    generated = set(generated_files(dist_info))
    for member in archive.namelist():
        problem = _path_problem(member)
        if problem:
            yield f"archive member {member!r} {problem}"
            continue
        if member.endswith("/"):
            continue
        destination = member_destination(member, data_dir, "purelib")
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
        if relative in generated:
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


def member_destination(member: str, data_dir: str, root_scheme: str) -> tuple[str, str] | None:
    """``(scheme, path inside it)`` as pypa/installer maps a member (``_determine_scheme``,
    for the plain paths :func:`_path_problem` lets through); ``None`` if the member is in
    ``.data`` but not in one of its schemes.

    :param data_dir: the ``.data`` directory as :func:`installer_data_dir` names it.
    """
    first, _, rest = member.partition("/")
    if first != data_dir:
        return root_scheme, member
    scheme, _, relative = rest.partition("/")
    if scheme not in SCHEME_NAMES or not relative:
        return None
    return scheme, relative
