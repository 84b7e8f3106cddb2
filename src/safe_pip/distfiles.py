"""Distribution files: what their names say, and small readers for wheel archives and core
metadata, shared by the gateway, the policy checks and inspection."""

from __future__ import annotations

import email.parser
import email.policy
import urllib.parse
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
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

__all__ = [
    "dependency_names",
    "dist_info_dirs",
    "parse_filename",
    "parse_filename_with_tags",
    "read_metadata",
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
    differently than we do.
    """
    found = []
    for text in _requires_dist(metadata):
        try:
            url = Requirement(text).url
        except InvalidRequirement:
            url = text if "://" in text or "@" in text else None
        if url is not None and url_key(url) not in approved:
            found.append(text)
    return found


def dependency_names(metadata: bytes, environment: Mapping[str, str]) -> list[NormalizedName]:
    """The projects a distribution needs in ``environment``, without any extra: the names
    pip will ask about next once it takes this distribution."""
    names = []
    for text in _requires_dist(metadata):
        try:
            requirement = Requirement(text)
            needed = requirement.marker is None or requirement.marker.evaluate(
                {**environment, "extra": ""}
            )
        except ValueError:  # unparsable, or a marker this environment cannot decide
            continue
        if needed:
            names.append(canonicalize_name(requirement.name))
    return names


def _requires_dist(metadata: bytes) -> list[str]:
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(metadata)
    return [" ".join(str(value).split()) for value in message.get_all("Requires-Dist") or []]
