"""pip's installation report (format version 1), turned into a :class:`~safe_pip.models.Plan`.

Every distribution pip chose becomes a :class:`~safe_pip.models.PlannedDist`: a file the
gateway served (mapped back to its source), a local directory or archive, a direct URL
pinned to the hash pip saw, or a git checkout pinned to its commit. Raw report
dictionaries are read here and kept by :mod:`~safe_pip.resolve.resolutions`, never
interpreted elsewhere.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.distfiles import parse_filename
from safe_pip.errors import PolicyDenied, ResolveError
from safe_pip.gateway.cache import sha256_file
from safe_pip.models import DistKind, IndexFile, Plan, PlannedDist, VcsRef

if TYPE_CHECKING:
    from safe_pip.resolve.gateway_view import GatewayView

__all__ = ["plan_from_report", "read_report"]


def read_report(path: Path) -> dict[str, Any]:
    """The report pip wrote at ``path``.

    :raises ResolveError: there is none, or it is not JSON.
    """
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"pip's resolver produced no readable report: {exc}"
        raise ResolveError(msg) from exc
    return report


def plan_from_report(report: dict[str, Any], gateway: GatewayView) -> Plan:
    """The plan a report describes, each file pip chose from the gateway mapped back to
    the source that served it.

    :raises ResolveError: the report is of a format version safe-pip does not read.
    :raises PolicyDenied: a distribution cannot be pinned to what pip saw.
    """
    if str(report.get("version")) != "1":
        msg = f"pip produced an installation report of unknown version {report.get('version')!r}"
        raise ResolveError(msg)
    dists = tuple(_planned(item, gateway) for item in report.get("install", []))
    return Plan(dists=dists, environment=dict(report.get("environment", {})))


def _planned(item: dict[str, Any], gateway: GatewayView) -> PlannedDist:
    metadata = item.get("metadata", {})
    name = canonicalize_name(metadata.get("name", ""))
    version = Version(metadata.get("version", "0"))
    info = item.get("download_info", {})
    url = str(info.get("url", ""))
    common: dict[str, Any] = {
        "name": name,
        "version": version,
        "requested": bool(item.get("requested")),
        "metadata": metadata,
        "yanked": bool(item.get("is_yanked")),
    }
    served = gateway.lookup_url(url)
    if served is not None:
        return PlannedDist(kind=served.file.kind, file=served.file, source=served.source, **common)
    if "vcs_info" in info:
        return _vcs(url, info, info["vcs_info"], common)
    if url.startswith("file:"):
        return _local(url, info, common)
    return _direct(url, info, common)


def _archive_sha256(info: dict[str, Any]) -> str | None:
    archive = info.get("archive_info") or {}
    hashes = archive.get("hashes") or {}
    if "sha256" in hashes:
        return str(hashes["sha256"]).lower()
    algorithm, _, digest = str(archive.get("hash", "")).partition("=")
    return digest.lower() if algorithm == "sha256" and digest else None


def _local(url: str, info: dict[str, Any], common: dict[str, Any]) -> PlannedDist:
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if "dir_info" in info:
        editable = bool(info["dir_info"].get("editable"))
        return PlannedDist(
            kind=DistKind.LOCAL_DIR, local_path=str(path), editable=editable, **common
        )
    parsed = parse_filename(path.name)
    kind = parsed[2] if parsed else DistKind.SDIST
    sha256 = _archive_sha256(info) or sha256_file(path)
    return PlannedDist(kind=kind, local_path=str(path), local_sha256=sha256, **common)


def _direct(url: str, info: dict[str, Any], common: dict[str, Any]) -> PlannedDist:
    """A direct URL the user gave: its bytes are pinned to what pip saw while resolving."""
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    parsed = parse_filename(filename)
    sha256 = _archive_sha256(info)
    if parsed is None or sha256 is None:
        msg = f"{common['name']}: cannot install from {url}: not a verifiable distribution file."
        raise PolicyDenied(msg)
    file = IndexFile(
        filename=filename,
        url=url,
        project=parsed[0],
        version=parsed[1],
        kind=parsed[2],
        sha256=sha256,
    )
    return PlannedDist(kind=parsed[2], file=file, **common)


def _vcs(
    url: str, info: dict[str, Any], vcs_info: dict[str, Any], common: dict[str, Any]
) -> PlannedDist:
    """A version-control requirement, pinned to the commit pip resolved it at."""
    commit = str(vcs_info.get("commit_id", ""))
    if vcs_info.get("vcs") != "git" or not commit:
        msg = (
            f"{common['name']}: cannot install from {url}: safe-pip builds only git "
            f"checkouts pinned to a commit."
        )
        raise PolicyDenied(msg)
    ref = VcsRef(url, commit, str(info.get("subdirectory", "")))
    return PlannedDist(kind=DistKind.VCS, vcs=ref, **common)
