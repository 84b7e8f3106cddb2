"""Distribution files: what their names say, and small readers for wheel archives and core
metadata, shared by the gateway, the policy checks and inspection."""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from safe_pip.models import DistKind

if TYPE_CHECKING:
    import zipfile

    from packaging.metadata import RawMetadata
    from packaging.tags import Tag

__all__ = [
    "dependency_names",
    "dist_info_dirs",
    "marker_applies",
    "parse_filename",
    "parse_filename_with_tags",
    "read_metadata",
    "requirements_needed",
    "unapproved_url_requirements",
    "url_key",
]


_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".txz", ".tar")


def parse_filename(filename: str) -> tuple[NormalizedName, Version, DistKind] | None:
    """Project, version and kind from a distribution file name; ``None`` if it is none."""
    parsed = parse_filename_with_tags(filename)
    return None if parsed is None else parsed[:3]


def parse_filename_with_tags(
    filename: str,
) -> tuple[NormalizedName, Version, DistKind, frozenset[Tag]] | None:
    """:func:`parse_filename` and a wheel's tags (none for a source archive)."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return name, version, DistKind.WHEEL, tags
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return name, version, DistKind.SDIST, frozenset()
        for suffix in _SDIST_SUFFIXES:
            if filename.endswith(suffix):
                stem, _, raw_version = filename[: -len(suffix)].rpartition("-")
                return canonicalize_name(stem), Version(raw_version), DistKind.SDIST, frozenset()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def dist_info_dirs(archive: zipfile.ZipFile) -> list[str]:
    """The top-level ``*.dist-info`` names of a wheel (there must be exactly one), counted as
    pypa/installer counts them: a top-level *file* so named counts too."""
    tops = {name.split("/", 1)[0] for name in archive.namelist()}
    return sorted(top for top in tops if top.endswith(".dist-info"))


def read_metadata(path: Path) -> bytes:
    """The ``METADATA`` file of a wheel.

    :raises ValueError: the archive is not a wheel with exactly one ``.dist-info``.
    """
    # Imported here: most users of this module only parse file names, and an install
    # already satisfied opens no wheel.
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            dirs = dist_info_dirs(archive)
            if len(dirs) != 1:
                msg = f"expected one .dist-info directory, found {len(dirs)}"
                raise ValueError(msg)
            return archive.read(f"{dirs[0]}/METADATA")
    except (zipfile.BadZipFile, KeyError) as exc:
        msg = f"not a readable wheel: {exc}"
        raise ValueError(msg) from exc


def url_key(url: str) -> str:
    """A URL as compared for approval: without credentials and without its ``#`` fragment,
    which pip drops from the URLs it reports."""
    parts = urllib.parse.urlsplit(url.strip())
    netloc = parts.netloc.rpartition("@")[2]
    scheme, host = parts.scheme.lower(), netloc.lower()
    return urllib.parse.urlunsplit((scheme, host, parts.path, parts.query, ""))


def unapproved_url_requirements(metadata: bytes, approved: Collection[str]) -> list[str]:
    """``Requires-Dist`` entries naming a URL (PEP 508 ``name @ url``) that the user did not
    give as a requirement (``approved`` holds :func:`url_key` values).

    pip fetches such a URL itself, outside every configured source, and builds it if it is
    source. An entry that does not parse counts when it looks like a URL: pip might read it
    differently than we do. So does one that is not UTF-8, even if it reads as an approved
    URL: pip does not read such metadata at all.
    """
    entries, utf8 = _requires_dist(metadata)
    found = []
    for text in entries:
        try:
            url = Requirement(text).url
        except InvalidRequirement:
            url = text if "://" in text or "@" in text else None
        if url is not None and (not utf8 or url_key(url) not in approved):
            found.append(text)
    return found


def marker_applies(
    requirement: Requirement, environment: Mapping[str, str], extras: Iterable[str] = ()
) -> bool:
    """Whether a requirement applies in ``environment``, without an extra or with one of
    ``extras``, as pip evaluates its marker.

    :raises ValueError: the marker names a variable the environment does not define.
    """
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
    )


def dependency_names(metadata: bytes, environment: Mapping[str, str]) -> list[NormalizedName]:
    """The projects a distribution needs in ``environment``, without any extra: the names
    pip will ask about next once it takes this distribution."""
    names = []
    for text in _requires_dist(metadata)[0]:
        try:
            requirement = Requirement(text)
            needed = marker_applies(requirement, environment)
        except ValueError:  # unparsable, or a marker this environment cannot decide
            continue
        if needed:
            names.append(canonicalize_name(requirement.name))
    return names


def requirements_needed(
    metadata: bytes, environment: Mapping[str, str], extras: Collection[str]
) -> list[Requirement] | None:
    """The requirements a distribution places in ``environment`` when taken with ``extras``;
    ``None`` when its metadata cannot be read for certain: an entry that is not UTF-8, does
    not parse, names a URL or has a marker this environment cannot decide, or an extra the
    distribution does not provide."""
    raw, unparsed = _parsed(metadata)
    entries, utf8 = _entries(raw, unparsed)
    provided = {canonicalize_name(extra) for extra in raw.get("provides_extra", [])}
    if not utf8 or not {canonicalize_name(extra) for extra in extras} <= provided:
        return None
    needed = []
    for text in entries:
        try:
            requirement = Requirement(text)
            applies = marker_applies(requirement, environment, extras)
        except ValueError:
            return None
        if requirement.url is not None:
            return None
        if applies:
            needed.append(requirement)
    return needed


def _requires_dist(metadata: bytes) -> tuple[list[str], bool]:
    return _entries(*_parsed(metadata))


def _parsed(metadata: bytes) -> tuple[RawMetadata, dict[str, list[str]]]:
    # Imported here: packaging.metadata loads the email package, which parsing file names
    # does not need.
    from packaging.metadata import parse_email

    return parse_email(metadata)


def _entries(raw: RawMetadata, unparsed: Mapping[str, list[str]]) -> tuple[list[str], bool]:
    """The ``Requires-Dist`` entries with their whitespace (folded lines) made single
    spaces, and whether they are UTF-8: packaging gives entries with other bytes back
    decoded as Latin-1, among the fields it could not parse, rather than refusing them."""
    if "requires-dist" in unparsed:
        return [" ".join(value.split()) for value in unparsed["requires-dist"]], False
    return [" ".join(value.split()) for value in raw.get("requires_dist", [])], True
