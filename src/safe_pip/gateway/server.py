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

import hashlib
import logging
import secrets
import threading
import urllib.parse
from collections.abc import Collection
from http import HTTPStatus
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.errors import SafePipError, SourceError
from safe_pip.gateway.file_requests import FileRequests
from safe_pip.gateway.listener import NOT_FOUND, Listener, Reply
from safe_pip.gateway.pages import PAGE_TYPE, render_page
from safe_pip.gateway.prefetch import Prefetcher
from safe_pip.gateway.served import BeforeDownload, FileSource, ServedFile, ServedLedger

if TYPE_CHECKING:
    from safe_pip.gateway.selection import SourceSelector
    from safe_pip.models import ServedProject

__all__ = ["BeforeDownload", "FileSource", "Gateway", "Reply", "ServedFile"]

logger = logging.getLogger(__name__)


class Gateway:
    """The loopback index. Use as a context manager: it listens only while inside it."""

    def __init__(
        self,
        selector: SourceSelector,
        fetcher: FileSource,
        *,
        approved_urls: Collection[str] = frozenset(),
        follow_dependencies: bool = True,
        before_download: BeforeDownload | None = None,
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
        self.selector = selector
        self._token = secrets.token_urlsafe(24)
        self._ledger = ServedLedger()
        self._prefetcher = Prefetcher(selector, fetcher, follow_dependencies=follow_dependencies)
        self._files = FileRequests(
            self._ledger, self._prefetcher, fetcher, approved_urls, before_download
        )
        self._listener = Listener()
        self._failure: SafePipError | None = None
        self._failure_lock = threading.Lock()
        self.failed = threading.Event()

    def __enter__(self) -> Gateway:
        self._listener.start(self.handle)
        self._prefetcher.start(self._serve_ahead)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # A command that failed or was interrupted waits for nothing: a request still in
        # flight may wait on a source that never answers, up to every timeout and retry.
        # Its threads are abandoned (the command line exits without them on an interrupt).
        finished = exc_type is None
        self._listener.stop(wait=finished)
        self._prefetcher.stop(wait=finished)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/TOKEN``; the token keeps other local users out."""
        port = self._listener.port
        if port is None:
            msg = "the gateway is not running"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{port}/{self._token}"

    @property
    def index_url(self) -> str:
        """The simple-index URL handed to pip."""
        return f"{self.base_url}/simple/"

    def lookup_url(self, url: str) -> ServedFile | None:
        """The served file behind one of the gateway's own file URLs."""
        prefix = f"{self.base_url}/files/"
        if not url.startswith(prefix):
            return None
        return self._ledger.file(url[len(prefix) :].split("/", 1)[0])

    def is_gateway_url(self, url: str) -> bool:
        """Whether a URL points at this gateway."""
        return self._listener.port is not None and url.startswith(self.base_url + "/")

    @property
    def failure(self) -> SafePipError | None:
        """The first upstream failure, which must end the command."""
        return self._failure

    def clear_failure(self) -> None:
        """Forget the failure the caller dealt with, to run pip through the gateway again
        (after a review that ``before_download`` asked for)."""
        with self._failure_lock:
            self._failure = None
        self.failed.clear()

    def project_json(self, name: str) -> bytes | None:
        """The PEP 691 page for a project, or ``None`` if no source knows it."""
        served = self._served(canonicalize_name(name), ahead=True)
        return None if served is None else render_page(served, self.base_url).encode()

    @property
    def asked(self) -> tuple[NormalizedName, ...]:
        """The projects pip asked for, in the order it first asked."""
        return self._ledger.asked

    def page_digest(self, name: NormalizedName) -> str:
        """A digest of everything the gateway tells pip about a project: its page, which
        names every file with its sha256 (and so the metadata in it), less this gateway's
        address. Files become servable as if pip had asked, but nothing is asked ahead.

        :raises SourceError: a source failed.
        """
        served = self._served(name, ahead=False)
        if served is None:
            return "unknown"
        page = render_page(served, self.base_url).replace(self.base_url, "")
        return hashlib.sha256(page.encode()).hexdigest()

    def ask_ahead(self, names: Collection[NormalizedName]) -> None:
        """Ask the sources about projects pip is about to ask for, while pip starts: its
        first request then finds the answer (and the likely metadata) waiting."""
        self._prefetcher.ask_ahead(names)

    def wait_idle(self, timeout: float) -> bool:
        """See :meth:`~safe_pip.gateway.prefetch.Prefetcher.wait_idle`."""
        return self._prefetcher.wait_idle(timeout)

    def _served(self, name: NormalizedName, *, ahead: bool) -> ServedProject | None:
        """The project as the selector answers it, its files made servable."""
        served = self.selector.select(name)
        if served is not None:
            self._ledger.register(served)
            if ahead:
                self._prefetcher.after_page(served)
        return served

    def _serve_ahead(self, name: NormalizedName) -> None:
        self._served(name, ahead=True)

    def handle(self, raw_path: str) -> Reply:
        """Route one GET request; any upstream failure is recorded as fatal, and so is any
        unexpected error: pip, answered with an error page (or none), would retry, then
        carry on resolving as if the project did not exist."""
        parts = urllib.parse.unquote(raw_path.split("?", 1)[0]).strip("/").split("/")
        if len(parts) < 3 or not secrets.compare_digest(parts[0], self._token):
            return NOT_FOUND
        try:
            if parts[1] == "simple" and len(parts) == 3:
                self._ledger.note_asked(canonicalize_name(parts[2]))
                body = self.project_json(parts[2])
                return NOT_FOUND if body is None else Reply(HTTPStatus.OK, PAGE_TYPE, body)
            if parts[1] == "files" and len(parts) == 4:
                return self._files.reply(parts[2], metadata=parts[3].endswith(".metadata"))
        except SafePipError as exc:
            return self._failed(exc)
        except Exception as exc:  # what no check foresaw still stops the command
            logger.debug("gateway: unexpected error for %s", parts[1:], exc_info=True)
            return self._failed(SourceError(_unexpected(parts, exc, self.selector, self._ledger)))
        return NOT_FOUND

    def _failed(self, error: SafePipError) -> Reply:
        with self._failure_lock:
            if self._failure is None:
                self._failure = error
        self.failed.set()
        return Reply(HTTPStatus.BAD_GATEWAY, "text/plain", str(error).encode())


def _unexpected(
    parts: list[str], exc: Exception, selector: SourceSelector, ledger: ServedLedger
) -> str:
    """The message of an unexpected error while answering pip: what was asked, of
    which source, and what went wrong."""
    if parts[1] == "simple":
        name = canonicalize_name(parts[2])
        sources = ", ".join(str(s) for s in selector.candidates(name))
        what = f"project {name!r} from {sources}"
    else:
        served = ledger.file(parts[2])
        what = (
            f"{parts[3]}"
            if served is None
            else f"{served.file.filename} of project {served.file.project!r} from {served.source}"
        )
    return (
        f"Reading {what} failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}). "
        f"safe-pip stops rather than resolve without it; -vv shows where it failed."
    )
