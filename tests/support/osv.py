"""OSV advisories made in tests: documents, a directory or zip of them, and a loopback
HTTP server that serves the zip (with an ETag, and faults on demand)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.index import serve_on_loopback, shut_down

__all__ = ["AdvisoryServer", "advisory", "write_directory", "zip_bytes"]

REAL = Path(__file__).resolve().parent.parent / "data" / "advisories" / "real"
"""Real advisories from the Python Packaging Advisory Database (CC-BY 4.0, see README)."""


def advisory(
    ident: str,
    package: str,
    *,
    events: Sequence[Sequence[tuple[str, str]]] = (),
    versions: Sequence[str] = (),
    aliases: Sequence[str] = (),
    summary: str = "",
    details: str = "",
    withdrawn: str | None = None,
    ecosystem: str = "PyPI",
) -> dict[str, Any]:
    """One OSV document for one package: ``events`` is one list of events per range."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": package}}
    if events:
        affected["ranges"] = [
            {"type": "ECOSYSTEM", "events": [{kind: value} for kind, value in range_events]}
            for range_events in events
        ]
    if versions:
        affected["versions"] = list(versions)
    document: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": ident,
        "modified": "2026-01-01T00:00:00Z",
        "published": "2025-12-01T00:00:00Z",
        "aliases": list(aliases),
        "details": details or f"Details of {ident}.",
        "affected": [affected],
    }
    if summary:
        document["summary"] = summary
    if withdrawn:
        document["withdrawn"] = withdrawn
    return document


def write_directory(directory: Path, documents: Iterable[dict[str, Any]]) -> Path:
    """One ``<id>.json`` file per document."""
    directory.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (directory / f"{document['id']}.json").write_text(json.dumps(document))
    return directory


def zip_bytes(documents: Iterable[dict[str, Any]], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of ``<id>.json`` members, as osv.dev's all.zip is laid out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in documents:
            archive.writestr(f"{document['id']}.json", json.dumps(document))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass
class AdvisoryServer:
    """Serves ``body`` at ``/PyPI/all.zip`` on 127.0.0.1, with an ETag; ``status`` other
    than 200 injects a fault. Every request's headers are recorded."""

    body: bytes = b""
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/PyPI/all.zip"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def __enter__(self) -> AdvisoryServer:
        self._server = serve_on_loopback(_handler(self))
        return self

    def __exit__(self, *exc: object) -> None:
        shut_down(self._server)


def _handler(server: AdvisoryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            server.requests.append(dict(self.headers))
            if server.status != 200:
                self._send(server.status, b"injected fault", {})
            elif self.path != "/PyPI/all.zip":
                self._send(404, b"not found", {})
            elif self.headers.get("If-None-Match") == server.etag:
                self._send(304, b"", {"ETag": server.etag})
            else:
                self._send(200, server.body, {"ETag": server.etag})

    return Handler
