"""The pages pip is served: PEP 691 JSON whose file URLs point back at the gateway.

A page names each file with its sha256 and never an upstream URL or credential; pip
resolves from these pages alone.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from safe_pip.gateway.index_pages import JSON_TYPE
from safe_pip.models import DistKind, IndexFile, ServedProject

__all__ = ["PAGE_TYPE", "render_page"]

PAGE_TYPE = JSON_TYPE


def render_page(served: ServedProject, base_url: str) -> str:
    """The project's PEP 691 page, its files served from ``base_url``."""
    files = [_file_entry(file, base_url) for file in served.served]
    versions = sorted({str(f.version) for f in served.served})
    page = {
        "meta": {"api-version": "1.1"},
        "name": served.page.name,
        "versions": versions,
        "files": files,
    }
    return json.dumps(page)


def _file_entry(file: IndexFile, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/files/{file.sha256}/{urllib.parse.quote(file.filename)}"
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": url,
        "hashes": {"sha256": file.sha256},
    }
    if file.requires_python:
        entry["requires-python"] = file.requires_python
    if file.yanked is not None:
        entry["yanked"] = file.yanked or True
    if file.upload_time is not None:
        entry["upload-time"] = file.upload_time.isoformat().replace("+00:00", "Z")
    if file.size is not None:
        entry["size"] = file.size
    if file.kind is DistKind.WHEEL:
        # The gateway can always produce a wheel's metadata (see Fetcher.metadata), so
        # pip never has to download a whole wheel just to resolve.
        metadata: Any = {"sha256": file.core_metadata_sha256} if file.core_metadata_sha256 else True
        entry["core-metadata"] = metadata
        entry["dist-info-metadata"] = metadata
    return entry
