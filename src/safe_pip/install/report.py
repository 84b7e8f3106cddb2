"""pip's JSON installation report (format version 1) of what was really installed.

``--report FILE`` writes the same shape pip writes, so tools that read pip's report keep
working; URLs are the upstream ones, never the gateway's, and carry no credentials.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.gateway.network import redact_url

if TYPE_CHECKING:
    from safe_pip.install.installer import InstallResult
    from safe_pip.models import Plan, PlannedDist

__all__ = ["installation_report"]


def _download_info(dist: PlannedDist) -> dict[str, Any]:
    if dist.file is not None:
        return {
            "url": redact_url(dist.file.url),
            "archive_info": {
                "hash": f"sha256={dist.file.sha256}",
                "hashes": {"sha256": dist.file.sha256},
            },
        }
    url = Path(dist.local_path or "").absolute().as_uri()
    if dist.local_sha256:
        return {
            "url": url,
            "archive_info": {
                "hash": f"sha256={dist.local_sha256}",
                "hashes": {"sha256": dist.local_sha256},
            },
        }
    return {"url": url, "dir_info": {"editable": True} if dist.editable else {}}


def _item(dist: PlannedDist) -> dict[str, Any]:
    return {
        "download_info": _download_info(dist),
        "is_direct": dist.source is None,
        "is_yanked": dist.yanked,
        "requested": dist.requested,
        "metadata": dict(dist.metadata),
    }


def installation_report(plan: Plan, result: InstallResult | None) -> dict[str, Any]:
    """The report: every installed distribution (for a dry run, every planned one)."""
    dists = plan.dists if result is None else result.installed
    try:
        pip_version = version("pip")
    except PackageNotFoundError:
        pip_version = "unknown"
    return {
        "version": "1",
        "pip_version": pip_version,
        "install": [_item(dist) for dist in dists],
        "environment": dict(plan.environment),
    }
