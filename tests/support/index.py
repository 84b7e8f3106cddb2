"""A real package index over HTTP on 127.0.0.1, for end-to-end tests.

It serves PEP 691 JSON or PEP 503 HTML project pages for the files added to it, the files
themselves, and optionally PEP 658 ``.metadata`` files. Faults can be injected per project
(a status code, a delay, a redirect), basic auth can be required, and every request path
is logged so tests can assert which names were asked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import ssl
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

__all__ = ["LONG_AGO", "IndexFile", "PackageIndex", "serve_on_loopback", "shut_down"]


def serve_on_loopback(
    handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """An HTTP server (HTTPS with ``tls``) on a free port of 127.0.0.1, answering from a
    daemon thread until :func:`shut_down`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def shut_down(server: ThreadingHTTPServer | None) -> None:
    """Stop a server :func:`serve_on_loopback` started, if it was."""
    if server is not None:
        server.shutdown()
        server.server_close()


def _project_of(filename: str) -> str:
    stem = filename.removesuffix(".whl").removesuffix(".tar.gz").removesuffix(".zip")
    return canonicalize_name(stem.split("-", 1)[0])


LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
"""Every file's upload time unless a test sets one: old enough for the default cooldown,
which the tests thereby exercise (``upload_time=None``: the index gives no time)."""


@dataclass
class IndexFile:
    path: Path
    upload_time: datetime | None = LONG_AGO
    yanked: str | None = None
    requires_python: str | None = None
    sha256: str | None = None
    """Override the listed hash (to serve a file whose bytes do not match)."""
    listed_hash: bool = True

    @property
    def real_sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class _Fault:
    status: int = 0
    delay: float = 0.0
    redirect: str | None = None
    times: int | None = None
    """Fail this many times, then answer normally (``None``: always)."""


@dataclass
class PackageIndex:
    """A loopback package index. Use as a context manager."""

    flavour: str = "json"
    pep658: bool = True
    auth: tuple[str, str] | None = None
    tls: ssl.SSLContext | None = None
    files: dict[str, list[IndexFile]] = field(default_factory=dict)
    faults: dict[str, _Fault] = field(default_factory=dict)
    file_bytes_override: dict[str, bytes] = field(default_factory=dict)
    metadata_override: dict[str, bytes] = field(default_factory=dict)
    """PEP 658 metadata to serve instead of the wheel's own, by wheel file name."""
    page_override: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """A page to serve instead of the project's own, as ``(content type, body)`` by
    project name: what a hostile index answers (served whether or not it has files)."""
    downloads_held: threading.Event | None = None
    """Distribution files (not their ``.metadata``) are served only once this is set: a
    source that stalls mid-download."""
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    # -- content ---------------------------------------------------------------------

    def add(self, path: Path, **kwargs: Any) -> IndexFile:
        entry = IndexFile(path, **kwargs)
        self.files.setdefault(_project_of(path.name), []).append(entry)
        return entry

    def fail(
        self,
        project: str,
        status: int = 0,
        *,
        delay: float = 0.0,
        redirect: str | None = None,
        times: int | None = None,
    ) -> None:
        self.faults[canonicalize_name(project)] = _Fault(status, delay, redirect, times)

    def asked(self, project: str) -> bool:
        """Whether any request named this project's page."""
        name = canonicalize_name(project)
        return any(path.rstrip("/").endswith(f"/simple/{name}") for path in self.requests)

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> PackageIndex:
        self._server = serve_on_loopback(_handler(self), self.tls)
        return self

    def __exit__(self, *exc: object) -> None:
        shut_down(self._server)

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def file_url(self, filename: str) -> str:
        """Where this index serves ``filename``, as a direct URL names it."""
        return f"http://{self.host}/files/{filename}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}/simple/"

    def url_with_credentials(self, user: str, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"{self.scheme}://{user}{secret}@{self.host}/simple/"

    # -- rendering -------------------------------------------------------------------

    def _entries(self, name: str) -> list[dict[str, Any]]:
        entries = []
        for item in self.files.get(name, []):
            filename = item.path.name
            entry: dict[str, Any] = {
                "filename": filename,
                "url": f"/files/{filename}",
                "hashes": {"sha256": item.sha256 or item.real_sha256} if item.listed_hash else {},
                "yanked": item.yanked if item.yanked else False,
            }
            if item.requires_python:
                entry["requires-python"] = item.requires_python
            if item.upload_time is not None:
                entry["upload-time"] = item.upload_time.astimezone(UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                )
            if self.pep658 and filename.endswith(".whl"):
                entry["core-metadata"] = {
                    "sha256": hashlib.sha256(self._metadata(item.path)).hexdigest()
                }
            entries.append(entry)
        return entries

    def page(self, name: str) -> tuple[str, bytes] | None:
        if name in self.page_override:
            return self.page_override[name]
        if name not in self.files:
            return None
        entries = self._entries(name)
        if self.flavour == "json":
            body = {"meta": {"api-version": "1.1"}, "name": name, "files": entries}
            return "application/vnd.pypi.simple.v1+json", json.dumps(body).encode()
        anchors = []
        for entry in entries:
            attrs = []
            digest = entry["hashes"].get("sha256")
            href = entry["url"] + (f"#sha256={digest}" if digest else "")
            if "requires-python" in entry:
                attrs.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
            if entry["yanked"]:
                attrs.append(f'data-yanked="{html.escape(entry["yanked"])}"')
            if "core-metadata" in entry:
                attrs.append(f'data-core-metadata="sha256={entry["core-metadata"]["sha256"]}"')
            anchors.append(f'<a href="{href}" {" ".join(attrs)}>{entry["filename"]}</a><br/>')
        body_html = "<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>"
        return "text/html", body_html.encode()

    def file(self, filename: str) -> bytes | None:
        metadata = filename.endswith(".metadata")
        if not metadata and self.downloads_held is not None:
            self.downloads_held.wait()
        real = filename.removesuffix(".metadata")
        for items in self.files.values():
            for item in items:
                if item.path.name == real:
                    if metadata:
                        return self._metadata(item.path) if self.pep658 else None
                    return self.file_bytes_override.get(real, item.path.read_bytes())
        return None

    def _metadata(self, path: Path) -> bytes:
        return self.metadata_override.get(path.name) or _wheel_metadata(path)


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(names[0])


def _active_fault(fault: _Fault | None) -> _Fault | None:
    """The fault to inject now; one with a count is used up after that many requests."""
    if fault is None or fault.times is None:
        return fault
    if fault.times <= 0:
        return None
    fault.times -= 1
    return fault


def _handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(
            self,
            status: int,
            body: bytes = b"",
            content_type: str = "text/plain",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _authorized(self) -> bool:
            if index.auth is None:
                return True
            expected = base64.b64encode(":".join(index.auth).encode()).decode()
            return self.headers.get("Authorization") == f"Basic {expected}"

        def do_GET(self) -> None:
            index.requests.append(self.path)
            if not self._authorized():
                self._send(401, b"unauthorized", headers={"WWW-Authenticate": 'Basic realm="x"'})
                return
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if parts[0] == "simple" and len(parts) == 2:
                self._project(canonicalize_name(parts[1]))
            elif parts[0] == "files" and len(parts) == 2:
                body = index.file(parts[1])
                self._send(
                    200, body, "application/octet-stream"
                ) if body is not None else self._send(404)
            else:
                self._send(404)

        def _project(self, name: str) -> None:
            fault = _active_fault(index.faults.get(name))
            if fault is not None:
                time.sleep(fault.delay)
                if fault.redirect:
                    self._send(302, headers={"Location": fault.redirect})
                    return
                if fault.status:
                    self._send(fault.status, b"injected fault")
                    return
            page = index.page(name)
            if page is None:
                self._send(404, b"not found")
            else:
                self._send(200, page[1], page[0])

    return Handler
