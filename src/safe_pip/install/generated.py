"""What the install stage hands pypa/installer beyond the wheel's own members: the
``INSTALLER``, ``REQUESTED`` and ``direct_url.json`` (PEP 610) files of the ``.dist-info``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safe_pip.models import PlannedDist

__all__ = ["additional_metadata"]

_INSTALLER_NAME = b"safe-pip\n"


def additional_metadata(dist: PlannedDist) -> dict[str, bytes]:
    """The files pypa/installer adds to the ``.dist-info``, by name."""
    extra = {"INSTALLER": _INSTALLER_NAME}
    if dist.requested:
        extra["REQUESTED"] = b""
    direct = _direct_url(dist)
    if direct is not None:
        extra["direct_url.json"] = json.dumps(direct, sort_keys=True).encode()
    return extra


def _direct_url(dist: PlannedDist) -> dict[str, Any] | None:
    """PEP 610 data for distributions that did not come from an index."""
    if dist.local_path is not None:
        url = Path(dist.local_path).absolute().as_uri()
        if dist.local_sha256:
            return {"url": url, "archive_info": {"hashes": {"sha256": dist.local_sha256}}}
        return {"url": url, "dir_info": {"editable": True} if dist.editable else {}}
    if dist.file is not None and dist.source is None:
        return {"url": dist.file.url, "archive_info": {"hashes": {"sha256": dist.file.sha256}}}
    return None
