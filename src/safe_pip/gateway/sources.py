"""Read package sources: PEP 691 JSON and PEP 503 HTML indexes, ``file://`` indexes, find-links.

Every answer is one of three things: the project's files, "this source does not know the
project" (``None``), or an error. Anything but a clear "not found" is an error: the caller
must never take a failing source for an ignorant one and fall through to the next.

:class:`Upstream` is the one door to every source; it sends each question to the reader
of its kind: over the network (:mod:`~safe_pip.gateway.remote`), on this machine
(:mod:`~safe_pip.gateway.local_files`) or a find-links location
(:mod:`~safe_pip.gateway.find_links`). Those who only list projects, or only read files,
ask for no more than :class:`ProjectLister` or :class:`FileReader`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from safe_pip.errors import SourceError
from safe_pip.gateway.find_links import FindLinks
from safe_pip.gateway.index_pages import HTML_TYPES, JSON_TYPE, parse_html_page, parse_json_page
from safe_pip.gateway.local_files import open_local, read_local_index, read_local_optional
from safe_pip.gateway.locations import check_placed, scheme_of
from safe_pip.gateway.remote import RemoteReader
from safe_pip.models import ProjectPage, SourceKind, SourceSpec

if TYPE_CHECKING:
    import httpx
    from packaging.utils import NormalizedName

    from safe_pip.gateway.network import NetworkOptions
    from safe_pip.gateway.parsed_pages import ParsedPages

__all__ = ["FileReader", "ProjectLister", "Upstream"]


class ProjectLister(Protocol):
    """What the choice of source needs of the sources: their answer about one project."""

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        """The project's files at ``source``, or ``None`` if the source does not know it.

        :raises SourceError: the source failed; the caller must not try a lower source.
        """
        ...


class FileReader(Protocol):
    """What the fetch stage needs of the sources: the bytes of the files they list."""

    def open_stream(
        self, source: SourceSpec | None, url: str
    ) -> AbstractContextManager[Iterator[bytes]]:
        """Stream a file's bytes (no verification: the caller hashes while storing).

        :raises NetworkError: the file could not be fetched.
        """
        ...

    def read_optional(self, source: SourceSpec | None, url: str) -> bytes | None:
        """A small file's bytes, or ``None`` if it does not exist (a PEP 658 probe)."""
        ...


class Upstream:
    """Talks to the configured sources: listing projects and streaming files.

    Credentials go only to the origin of the source they were configured for.
    """

    def __init__(
        self,
        client: httpx.Client,
        options: NetworkOptions,
        parsed_pages: ParsedPages | None = None,
    ) -> None:
        """:param parsed_pages: JSON pages read before (``None``: each is read afresh)."""
        self._trusted_hosts = options.trusted_hosts
        self._remote = RemoteReader(client, options)
        self._find_links = FindLinks(self._remote, options.trusted_hosts)
        self._read_json = parse_json_page if parsed_pages is None else parsed_pages.files

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        """The project's files at ``source``, or ``None`` if the source does not know it.

        :raises SourceError: the source failed; the caller must not try a lower source.
        """
        if source.kind is SourceKind.FIND_LINKS:
            return self._find_links.project_page(source, name)
        url = source.url.rstrip("/") + f"/{name}/"
        if scheme_of(url) == "file":
            return read_local_index(source, name, url, self._trusted_hosts)
        return self._remote_index_page(source, name, url)

    def _remote_index_page(
        self, source: SourceSpec, name: NormalizedName, url: str
    ) -> ProjectPage | None:
        response = self._remote.get_page(source, url, f"project {name!r}")
        if response is None:
            return None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == JSON_TYPE:
                files = self._read_json(response.content, str(response.url), name)
            elif content_type in HTML_TYPES:
                files = parse_html_page(response.text, str(response.url), name)
            else:
                msg = f"unexpected content type {content_type or 'none'!r}"
                raise ValueError(msg)
        except ValueError as exc:
            msg = f"Source {source} sent an unreadable page for project {name!r}: {exc}"
            raise SourceError(msg) from exc
        placed = check_placed(source, str(response.url), files, self._trusted_hosts)
        return ProjectPage(name, source, tuple(placed))

    def open_stream(
        self, source: SourceSpec | None, url: str
    ) -> AbstractContextManager[Iterator[bytes]]:
        """Stream a file's bytes (no verification: the caller hashes while storing).

        :raises NetworkError: the file could not be fetched.
        :raises UnsafeSource: a remote source named a local file.
        """
        if scheme_of(url) == "file":
            return open_local(source, url)
        return self._remote.stream(source, url)

    def read_optional(self, source: SourceSpec | None, url: str) -> bytes | None:
        """A small file's bytes, or ``None`` if it does not exist (a PEP 658 probe).

        :raises NetworkError: the file could not be fetched.
        """
        if scheme_of(url) == "file":
            return read_local_optional(source, url)
        return self._remote.read_optional(source, url)
