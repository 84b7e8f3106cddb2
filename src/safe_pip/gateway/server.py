"""The gateway: a policy-filtered package index on 127.0.0.1, alive for one command.

pip's resolver is pointed at this index and at nothing else. For each project pip asks
about, the gateway asks the :class:`~safe_pip.gateway.selection.SourceSelector` (first source that
knows the name wins, files filtered by policy) and answers with PEP 691 JSON whose file
URLs point back at the gateway. Files are served only from the verified cache, so pip
never sees an upstream URL, a credential, or an unverified byte.

Any upstream failure is *fatal*: pip would treat an error page as "no versions here" and
carry on resolving, which is exactly a fall-through. The gateway records the first
failure and the resolve stage stops pip as soon as it sees it. So is a wheel whose
metadata requires a direct URL (``name @ url``) the user did not give: pip would fetch that
URL itself, past every source and policy, and run its build backend if it is source. The
metadata is never handed to pip, so pip never learns the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sys
import threading
import urllib.parse
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from packaging.markers import default_environment
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.distfiles import dependency_names, read_metadata, unapproved_url_requirements
from safe_pip.errors import PolicyDenied, SafePipError, SourceError
from safe_pip.gateway.selection import Compatibility, SourceSelector
from safe_pip.models import DistKind, IndexFile, ServedProject, SourceSpec

__all__ = ["FileSource", "Gateway", "Reply", "ServedFile"]

logger = logging.getLogger(__name__)

_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ServedFile:
    """A file the gateway listed to pip, and where it really comes from."""

    file: IndexFile
    source: SourceSpec


class FileSource(Protocol):
    """Where the gateway gets the bytes it serves, verified and cached (the fetch stage's
    :class:`~safe_pip.install.fetch.Fetcher`)."""

    def metadata(self, file: IndexFile, source: SourceSpec | None) -> bytes:
        """A wheel's core metadata."""
        ...

    def materialize(self, file: IndexFile, source: SourceSpec | None) -> Path:
        """The verified file in the cache."""
        ...


class Gateway:
    """The loopback index. Use as a context manager: it listens only while inside it."""

    def __init__(
        self,
        selector: SourceSelector,
        fetcher: FileSource,
        *,
        approved_urls: Collection[str] = frozenset(),
        follow_dependencies: bool = True,
        before_download: Callable[[ServedFile, bytes], None] | None = None,
    ) -> None:
        """:param approved_urls: :func:`~safe_pip.distfiles.url_key` of each direct URL the
        user gave; a wheel requiring any other URL fails the command.
        :param before_download: called before pip gets a whole file (not its metadata),
            which pip only asks for to install or build it, so its code is about to run
            (a build requirement, a source archive): raising refuses it. It is given the
            wheel's core metadata as pip was served it (empty for any other file).
        :param follow_dependencies: ask about dependencies ahead of pip (not with
            ``--no-deps``, where pip never asks and their names need not leave the machine).
        """
        self._follow_dependencies = follow_dependencies
        self.selector = selector
        self._fetcher = fetcher
        self._approved_urls = approved_urls
        self._before_download = before_download
        self._token = secrets.token_urlsafe(24)
        self._files: dict[str, ServedFile] = {}
        self._files_lock = threading.Lock()
        self._failure: SafePipError | None = None
        self.failed = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._prefetcher: ThreadPoolExecutor | None = None
        self._metadata: dict[str, Future[bytes]] = {}
        self._asked: list[NormalizedName] = []

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Gateway:
        server = _Server(("127.0.0.1", 0), _GatewayHandler)
        server.gateway = self
        server.daemon_threads = True
        self._server = server
        # shutdown() waits for the serving loop's next look at the clock: every command
        # that ends waits up to this long.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        self._prefetcher = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prefetch")
        logger.debug("gateway listening on 127.0.0.1:%d", server.server_address[1])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # A command that failed or was interrupted waits for nothing: a request still in
        # flight may wait on a source that never answers, up to every timeout and retry.
        # Its threads are abandoned (the command line exits without them on an interrupt).
        finished = exc_type is None
        if self._server is not None:
            self._server.stopping = True
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None and finished:
            self._thread.join()
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=finished, cancel_futures=True)
        # Nothing may keep the pages alive once the command is done with them: a cycle
        # back to the gateway (the server, the callbacks of the metadata fetches) leaves
        # them to the garbage collector, which took a tenth of a second at exit.
        self._server = None
        self._thread = None
        self._prefetcher = None
        with self._files_lock:
            self._metadata.clear()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/TOKEN``; the token keeps other local users out."""
        if self._server is None:
            msg = "the gateway is not running"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self._token}"

    @property
    def index_url(self) -> str:
        """The simple-index URL handed to pip."""
        return f"{self.base_url}/simple/"

    @property
    def failure(self) -> SafePipError | None:
        """The first upstream failure, which must end the command."""
        return self._failure

    def lookup_url(self, url: str) -> ServedFile | None:
        """The served file behind one of the gateway's own file URLs."""
        prefix = f"{self.base_url}/files/"
        if not url.startswith(prefix):
            return None
        sha256 = url[len(prefix) :].split("/", 1)[0]
        with self._files_lock:
            return self._files.get(sha256)

    def is_gateway_url(self, url: str) -> bool:
        """Whether a URL points at this gateway."""
        return self._server is not None and url.startswith(self.base_url + "/")

    # -- request handling ----------------------------------------------------------------

    def clear_failure(self) -> None:
        """Forget the failure the caller dealt with, to run pip through the gateway again
        (after a review that ``before_download`` asked for)."""
        with self._files_lock:
            self._failure = None
        self.failed.clear()

    def _fail(self, error: SafePipError) -> None:
        with self._files_lock:
            if self._failure is None:
                self._failure = error
        self.failed.set()

    def project_json(self, name: str) -> bytes | None:
        """The PEP 691 page for a project, or ``None`` if no source knows it."""
        served = self._served(canonicalize_name(name), ahead=True)
        return None if served is None else json.dumps(self._page(served)).encode()

    @property
    def asked(self) -> tuple[NormalizedName, ...]:
        """The projects pip asked for, in the order it first asked."""
        with self._files_lock:
            return tuple(self._asked)

    def page_digest(self, name: NormalizedName) -> str:
        """A digest of everything the gateway tells pip about a project: its page, which
        names every file with its sha256 (and so the metadata in it), less this gateway's
        address. Files become servable as if pip had asked, but nothing is asked ahead.

        :raises SourceError: a source failed.
        """
        served = self._served(name, ahead=False)
        if served is None:
            return "unknown"
        page = json.dumps(self._page(served)).replace(self.base_url, "")
        return hashlib.sha256(page.encode()).hexdigest()

    def _served(self, name: NormalizedName, *, ahead: bool) -> ServedProject | None:
        """The project as the selector answers it, its files made servable."""
        served = self.selector.select(name)
        if served is not None:
            self._register(served)
            if ahead:
                self._ask_ahead(served)
        return served

    def _register(self, served: ServedProject) -> None:
        with self._files_lock:
            for file in served.served:
                if file.sha256 is not None:
                    self._files[file.sha256] = ServedFile(file, served.page.source_of(file))

    def _ask_ahead(self, served: ServedProject) -> None:
        compatibility = self.selector.policy.compatibility
        likely = _likely_choice(served, compatibility) if compatibility is not None else None
        if likely is not None:
            # pip asks for this file's metadata next, almost always: fetch it while pip is
            # still reading the page, so upstream latency overlaps with pip's own work.
            future = self._metadata_of(ServedFile(likely, served.page.source_of(likely)))
            if self._follow_dependencies:
                future.add_done_callback(self._prefetch_dependencies)

    def _prefetch_dependencies(self, metadata: Future[bytes]) -> None:
        """Ask the sources about the likely choice's dependencies before pip does.

        pip asks for one page at a time, each after it has read the previous metadata, so
        a graph of N projects costs N upstream round trips in a row; asked ahead, in
        parallel, they cost about as many as the graph is deep. Each name is still asked of
        its sources in priority order, and an answer pip never asks for is only a cached
        page. A failure here is left for pip's own request to meet and report.
        """
        if metadata.cancelled() or metadata.exception() is not None:
            return
        with contextlib.suppress(RuntimeError):  # shutting down: pip is done asking
            self.ask_ahead(dependency_names(metadata.result(), self._marker_environment))

    @cached_property
    def _marker_environment(self) -> dict[str, str]:
        """Markers as the target evaluates them, as far as the gateway knows the target; a
        wrong guess costs one unneeded page, never a wrong plan."""
        environment = {key: str(value) for key, value in default_environment().items()}
        compatibility = self.selector.policy.compatibility
        if compatibility is not None and compatibility.python is not None:
            python = compatibility.python
            environment["python_full_version"] = str(python)
            environment["python_version"] = f"{python.major}.{python.minor}"
        return environment

    def ask_ahead(self, names: Collection[NormalizedName]) -> None:
        """Ask the sources about projects pip is about to ask for, while pip starts: its
        first request then finds the answer (and the likely metadata) waiting."""
        for name in names:
            if not self.selector.known(name):
                self._submit(self._prefetch_project, name)

    def _prefetch_project(self, name: NormalizedName) -> None:
        try:
            self._served(name, ahead=True)
        except SafePipError as exc:
            logger.debug("prefetch of %s failed (pip's own request will report it): %s", name, exc)

    def _metadata_of(self, served: ServedFile) -> Future[bytes]:
        sha256 = served.file.sha256 or ""
        with self._files_lock:
            future = self._metadata.get(sha256)
            if future is None:
                future = self._submit(self._fetcher.metadata, served.file, served.source)
                self._metadata[sha256] = future
            return future

    def _submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        if self._prefetcher is None:
            msg = "the gateway is not running"
            raise RuntimeError(msg)
        return self._prefetcher.submit(function, *args)

    def _page(self, served: ServedProject) -> dict[str, Any]:
        files = [self._file_entry(file) for file in served.served]
        versions = sorted({str(f.version) for f in served.served})
        return {
            "meta": {"api-version": "1.1"},
            "name": served.page.name,
            "versions": versions,
            "files": files,
        }

    def _file_entry(self, file: IndexFile) -> dict[str, Any]:
        url = f"{self.base_url}/files/{file.sha256}/{urllib.parse.quote(file.filename)}"
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
            metadata: Any = (
                {"sha256": file.core_metadata_sha256} if file.core_metadata_sha256 else True
            )
            entry["core-metadata"] = metadata
            entry["dist-info-metadata"] = metadata
        return entry

    def handle(self, raw_path: str) -> Reply:
        """Route one GET request; any upstream failure is recorded as fatal, and so is any
        unexpected error: pip, answered with an error page (or none), would retry, then
        carry on resolving as if the project did not exist."""
        parts = urllib.parse.unquote(raw_path.split("?", 1)[0]).strip("/").split("/")
        if len(parts) < 3 or not secrets.compare_digest(parts[0], self._token):
            return _NOT_FOUND
        try:
            if parts[1] == "simple" and len(parts) == 3:
                self._note_asked(canonicalize_name(parts[2]))
                body = self.project_json(parts[2])
                return _NOT_FOUND if body is None else Reply(HTTPStatus.OK, _JSON_TYPE, body)
            if parts[1] == "files" and len(parts) == 4:
                return self._file_reply(parts[2], metadata=parts[3].endswith(".metadata"))
        except SafePipError as exc:
            return self._failed(exc)
        except Exception as exc:  # what no check foresaw still stops the command
            logger.debug("gateway: unexpected error for %s", parts[1:], exc_info=True)
            return self._failed(SourceError(self._unexpected(parts, exc)))
        return _NOT_FOUND

    def _failed(self, error: SafePipError) -> Reply:
        self._fail(error)
        return Reply(HTTPStatus.BAD_GATEWAY, "text/plain", str(error).encode())

    def _unexpected(self, parts: list[str], exc: Exception) -> str:
        """The message of an unexpected error while answering pip: what was asked, of
        which source, and what went wrong."""
        if parts[1] == "simple":
            name = canonicalize_name(parts[2])
            sources = ", ".join(str(s) for s in self.selector.candidates(name))
            what = f"project {name!r} from {sources}"
        else:
            with self._files_lock:
                served = self._files.get(parts[2])
            what = (
                f"{parts[3]}"
                if served is None
                else f"{served.file.filename} of project {served.file.project!r} from "
                f"{served.source}"
            )
        return (
            f"Reading {what} failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}). "
            f"safe-pip stops rather than resolve without it; -vv shows where it failed."
        )

    def _note_asked(self, name: NormalizedName) -> None:
        with self._files_lock:
            if name not in self._asked:
                self._asked.append(name)

    def _file_reply(self, sha256: str, *, metadata: bool) -> Reply:
        with self._files_lock:
            served = self._files.get(sha256)
        if served is None:
            return _NOT_FOUND
        if metadata:
            data = self._metadata_of(served).result()
            self._check_requirements(served.file, data)
            return Reply(HTTPStatus.OK, "application/octet-stream", data)
        if self._before_download is not None:
            # The metadata pip read while resolving, not fetched again.
            wheel = served.file.kind is DistKind.WHEEL
            self._before_download(served, self._metadata_of(served).result() if wheel else b"")
        path = self._fetcher.materialize(served.file, served.source)
        if served.file.kind is DistKind.WHEEL:
            try:
                data = read_metadata(path)
            except ValueError:
                data = b""  # not a wheel: inspection refuses it if it is ever planned
            self._check_requirements(served.file, data)
        return Reply(HTTPStatus.OK, "application/octet-stream", path=path)

    def _check_requirements(self, file: IndexFile, metadata: bytes) -> None:
        found = unapproved_url_requirements(metadata, self._approved_urls)
        if not found:
            return
        listed = "\n".join(f"  - {requirement}" for requirement in found)
        msg = (
            f"{file.project} {file.version} ({file.filename}) requires a direct URL that no "
            f"requirement of yours names:\n{listed}\npip would fetch it by itself, outside "
            f"the configured sources (and build it, if it is a source archive). Nothing was "
            f"installed. If you trust that URL, give the requirement yourself ('NAME @ URL' "
            f"on the command line or in a requirements file)."
        )
        raise PolicyDenied(msg)


def _likely_choice(served: ServedProject, compatibility: Compatibility) -> IndexFile | None:
    """The wheel pip will most likely take: the best one of the newest final release."""
    wheels = [
        f
        for f in served.served
        if f.kind is DistKind.WHEEL and f.yanked is None and not f.version.is_prerelease
    ]
    if not wheels:
        return None
    newest = max(f.version for f in wheels)
    return min(
        (f for f in wheels if f.version == newest),
        key=lambda f: compatibility.rank(f) or 0,
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: a body, or a verified file to stream."""

    status: HTTPStatus
    content_type: str
    body: bytes = b""
    path: Path | None = None


_NOT_FOUND = Reply(HTTPStatus.NOT_FOUND, "text/plain")


class _Server(ThreadingHTTPServer):
    gateway: Gateway
    stopping = False
    """Set once the command is done with the gateway: requests still in flight are
    abandoned, and whatever becomes of them is no news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # pip is stopped the moment a source fails, often in the middle of a request: the
        # broken connection is expected, and so is any end of a request abandoned when the
        # command stopped (a metadata fetch cancelled, the client closed); socketserver's
        # default would print a traceback.
        if self.stopping or isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("gateway: request of %s abandoned", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACKs every keep-alive request would stall ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("gateway: " + format, *args)

    def do_GET(self) -> None:
        reply = cast(_Server, self.server).gateway.handle(self.path)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-store")
        if reply.path is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        with reply.path.open("rb") as stream:
            self.send_header("Content-Length", str(os.fstat(stream.fileno()).st_size))
            self.end_headers()
            shutil.copyfileobj(stream, self.wfile, 1 << 20)
