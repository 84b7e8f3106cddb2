"""Read package sources: PEP 691 JSON and PEP 503 HTML indexes, ``file://`` indexes, find-links.

Every answer is one of three things: the project's files, "this source does not know the
project" (``None``), or an error. Anything but a clear "not found" is an error: the caller
must never take a failing source for an ignorant one and fall through to the next.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from packaging.utils import (
    NormalizedName,
)

from safe_pip.distfiles import parse_filename, parse_filename_with_tags
from safe_pip.errors import NetworkError, SourceError, UnsafeSource
from safe_pip.gateway.cache import MAX_FILENAME_BYTES, is_sha256, sha256_file
from safe_pip.gateway.network import (
    NetworkOptions,
    Origin,
    is_secure_origin,
    keyring_password,
    netrc_credentials,
    origin_of,
    redact_url,
    with_retries,
)
from safe_pip.models import IndexFile, ProjectPage, SourceKind, SourceSpec

__all__ = ["Upstream", "is_remote", "parse_html_page", "parse_json_page"]

logger = logging.getLogger(__name__)

_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
_ACCEPT = f"{_JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_CHUNK = 1 << 16
_MAX_REDIRECTS = 5
_REMOTE_SCHEMES = frozenset({"http", "https"})
_LOCAL_HOSTS = frozenset({"", "localhost"})


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _make_file(
    project: NormalizedName,
    filename: str,
    url: str,
    *,
    sha256: str | None,
    requires_python: str | None = None,
    yanked: str | None = None,
    upload_time: datetime | None = None,
    size: int | None = None,
    core_metadata: bool = False,
    core_metadata_sha256: str | None = None,
) -> IndexFile | None:
    if len(filename.encode()) > MAX_FILENAME_BYTES:
        logger.debug("skipping a file name of %d characters: too long", len(filename))
        return None
    parsed = parse_filename_with_tags(filename)
    if parsed is None or parsed[0] != project:
        logger.debug("skipping %s: not a distribution of %s", filename, project)
        return None
    name, version, kind, tags = parsed
    return IndexFile(
        filename=filename,
        url=url,
        project=name,
        version=version,
        kind=kind,
        sha256=_digest(sha256),
        requires_python=requires_python or None,
        yanked=yanked,
        upload_time=upload_time,
        size=size,
        core_metadata=core_metadata,
        core_metadata_sha256=_digest(core_metadata_sha256),
        tags=tags,
    )


def _digest(value: object) -> str | None:
    """A listed sha256 as the rest of safe-pip may use it, or None for anything that is not
    one: a malformed digest counts as none (so the file is withheld), and can never reach a
    lock file or a pip option as text of the index's choosing."""
    lowered = value.lower() if isinstance(value, str) else None
    return lowered if is_sha256(lowered) else None


def _json_metadata(entry: dict[str, Any]) -> tuple[bool, str | None]:
    value = entry.get("core-metadata", entry.get("dist-info-metadata", False))
    if isinstance(value, dict):
        return True, value.get("sha256")
    return bool(value), None


# PEP 691's types for the file keys safe-pip reads (None: the key is absent or null).
_ENTRY_TYPES: dict[str, type | tuple[type, ...]] = {
    "filename": str,
    "url": str,
    "hashes": dict,
    "requires-python": str,
    "upload-time": str,
    "size": int,
    "yanked": (bool, str),
    "core-metadata": (bool, dict),
    "dist-info-metadata": (bool, dict),
}


def _checked_entry(entry: object) -> dict[str, Any]:
    """One ``files`` entry of a JSON page, its keys of the types PEP 691 gives them.

    :raises ValueError: the entry is not a table, or a key has another type.
    """
    if not isinstance(entry, dict):
        msg = f"a file entry is a {type(entry).__name__}, not a table"
        raise ValueError(msg)
    for key, expected in _ENTRY_TYPES.items():
        value = entry.get(key)
        if value is not None and not isinstance(value, expected):
            shown = entry.get("filename") if isinstance(entry.get("filename"), str) else "?"
            msg = f"{key} of file {shown!r} is a {type(value).__name__}"
            raise ValueError(msg)
    return entry


def _json_yanked(value: Any) -> str | None:
    if value is True:
        return ""
    if isinstance(value, str) and value:
        return value
    return None


def _absolute(page_url: str, url: str) -> str:
    """A file URL made absolute against its page. Index pages mostly give absolute URLs,
    and urljoin() was a third of the time spent reading a page of thousands of files."""
    if url.startswith(("https://", "http://")):
        return url
    return urllib.parse.urljoin(page_url, url)


def parse_json_page(data: bytes, page_url: str, project: NormalizedName) -> list[IndexFile]:
    """Files of a PEP 691 JSON project page.

    A page of another shape is refused whole, not read in part: a source that sends one
    is broken or hostile, and what it meant cannot be known.

    :raises ValueError: the page is not valid PEP 691 JSON.
    """
    try:
        document = json.loads(data)
    except RecursionError:
        # json.loads recurses once per level: a page nested thousands deep exhausts it.
        msg = "its JSON is nested too deeply"
        raise ValueError(msg) from None
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        msg = "not a PEP 691 project page"
        raise ValueError(msg)
    files = []
    for entry in map(_checked_entry, document["files"]):
        if "filename" not in entry or "url" not in entry:
            continue
        has_metadata, metadata_sha = _json_metadata(entry)
        size = entry.get("size")
        made = _make_file(
            project,
            entry["filename"],
            _absolute(page_url, entry["url"]),
            sha256=(entry.get("hashes") or {}).get("sha256"),
            requires_python=entry.get("requires-python"),
            yanked=_json_yanked(entry.get("yanked")),
            upload_time=_parse_time(entry.get("upload-time")),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            core_metadata=has_metadata,
            core_metadata_sha256=metadata_sha,
        )
        if made is not None:
            files.append(made)
    return files


class _AnchorCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))


def _hash_fragment(url: str) -> tuple[str, str | None]:
    clean, _, fragment = url.partition("#")
    for part in fragment.split("&"):
        algorithm, _, digest = part.partition("=")
        if algorithm.lower() == "sha256" and digest:
            return clean, digest
    return clean, None


def _html_metadata(attrs: dict[str, str | None]) -> tuple[bool, str | None]:
    value = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
    if value is None or value.lower() == "false":
        return False, None
    algorithm, _, digest = value.partition("=")
    return True, digest if algorithm.lower() == "sha256" and digest else None


def parse_html_page(text: str, page_url: str, project: NormalizedName | None) -> list[IndexFile]:
    """Files of a PEP 503 HTML page (an index project page or a find-links page).

    :param project: keep only this project's files; ``None`` keeps every distribution.
    """
    collector = _AnchorCollector()
    collector.feed(text)
    base = urllib.parse.urljoin(page_url, collector.base) if collector.base else page_url
    files = []
    for attrs in collector.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, sha256 = _hash_fragment(urllib.parse.urljoin(base, href))
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        parsed = parse_filename(filename)
        if parsed is None:
            continue
        has_metadata, metadata_sha = _html_metadata(attrs)
        yanked = attrs.get("data-yanked")
        made = _make_file(
            project or parsed[0],
            filename,
            url,
            sha256=sha256,
            requires_python=attrs.get("data-requires-python"),
            yanked=None if yanked is None else yanked,
            core_metadata=has_metadata,
            core_metadata_sha256=metadata_sha,
        )
        if made is not None:
            files.append(made)
    return files


def _same_site(start: Origin, target: Origin) -> bool:
    """A redirect may stay on its origin, or only upgrade http to https on the same host."""
    if start == target:
        return True
    return start[1] == target[1] and start[0] == "http" and target == ("https", start[1], 443)


def _scheme(url: str) -> str:
    """How a URL is read: ``file`` from this machine's disk, ``http``/``https`` over the
    network. Every reader dispatches on this answer and the check of what a page may list
    asks it too, so the two never read one URL two ways (DESIGN invariant 8): upper case,
    a leading space or a tab inside the scheme make ``file`` for both alike."""
    return urllib.parse.urlsplit(url).scheme


def is_remote(url: str) -> bool:
    """Whether a source or page at ``url`` is read over the network (else from this machine,
    as a ``file:`` URL or a plain path the user named)."""
    return _scheme(url) in _REMOTE_SCHEMES


def _local_path(url: str) -> Path:
    if _scheme(url) == "file":
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    return Path(url)


def _with_local_hash(file: IndexFile) -> IndexFile:
    """Hash a file of a local find-links folder, only once its project is asked for.

    The user named this folder: its bytes are as trusted as a ``--hash`` they wrote, and
    hashing them here pins exactly the bytes that will be installed.
    """
    if file.sha256 is not None or _scheme(file.url) != "file":
        return file
    return dataclasses.replace(file, sha256=sha256_file(_local_path(file.url)))


class Upstream:
    """Talks to the configured sources: listing projects and streaming files.

    Credentials go only to the origin of the source they were configured for.
    """

    def __init__(self, client: httpx.Client, options: NetworkOptions) -> None:
        self._client = client
        self._options = options
        self._find_links_cache: dict[str, list[IndexFile]] = {}
        self._keyring_answers: dict[str, str | None] = {}
        self._lock = threading.Lock()

    # -- listing -------------------------------------------------------------------------

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        """The project's files at ``source``, or ``None`` if the source does not know it.

        :raises SourceError: the source failed; the caller must not try a lower source.
        """
        if source.kind is SourceKind.FIND_LINKS:
            files = [
                _with_local_hash(f) for f in self._find_links_files(source) if f.project == name
            ]
            return ProjectPage(name, source, tuple(files)) if files else None
        url = source.url.rstrip("/") + f"/{name}/"
        if _scheme(url) == "file":
            return self._local_index_page(source, name, url)
        return self._remote_index_page(source, name, url)

    def _local_index_page(
        self, source: SourceSpec, name: NormalizedName, url: str
    ) -> ProjectPage | None:
        page = _local_path(url) / "index.html"
        if not page.is_file():
            return None
        try:
            text = page.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"Cannot read {page} of source {source} for project {name!r}: {exc}"
            raise SourceError(msg) from exc
        files = parse_html_page(text, page.as_uri(), name)
        return ProjectPage(name, source, tuple(self._placed(source, page.as_uri(), files)))

    def _remote_index_page(
        self, source: SourceSpec, name: NormalizedName, url: str
    ) -> ProjectPage | None:
        response = self._get_page(source, url, f"project {name!r}")
        if response is None:
            return None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == _JSON_TYPE:
                files = parse_json_page(response.content, str(response.url), name)
            elif content_type in _HTML_TYPES:
                files = parse_html_page(response.text, str(response.url), name)
            else:
                msg = f"unexpected content type {content_type or 'none'!r}"
                raise ValueError(msg)
        except ValueError as exc:
            msg = f"Source {source} sent an unreadable page for project {name!r}: {exc}"
            raise SourceError(msg) from exc
        return ProjectPage(name, source, tuple(self._placed(source, str(response.url), files)))

    def _get_page(self, source: SourceSpec, url: str, what: str) -> httpx.Response | None:
        """GET a page, following redirects on the same host only; ``None`` for 404/410."""
        if not is_secure_origin(url, self._options.trusted_hosts):
            msg = (
                f"Source {source} is not a secure origin (plain http to a remote host). "
                f"Use https, or allow the host explicitly with --trusted-host."
            )
            raise SourceError(msg)
        start = origin_of(url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._request(source, url, what)
            if response.status_code in (404, 410):
                return None
            if not response.is_redirect:
                return self._checked(source, response, what)
            target = urllib.parse.urljoin(url, response.headers.get("location", ""))
            if not _same_site(start, origin_of(target)):
                msg = (
                    f"Source {source} redirected the request for {what} to another host "
                    f"({redact_url(target)}). safe-pip does not follow a source off its host "
                    f"(pypiserver does this for unknown names unless started with "
                    f"--disable-fallback); if that host is the real index, configure it as "
                    f"the source instead."
                )
                raise SourceError(msg)
            url = target
        msg = f"Source {source} redirected too many times for {what}."
        raise SourceError(msg)

    def _request(self, source: SourceSpec, url: str, what: str) -> httpx.Response:
        def attempt() -> httpx.Response:
            response = self._client.get(
                url, headers={"Accept": _ACCEPT}, auth=self._auth(source, url)
            )
            if response.status_code in (429, 500, 502, 503, 504, 520, 527):
                response.raise_for_status()
            return response

        try:
            return with_retries(attempt, self._options.retries)
        except httpx.HTTPStatusError as exc:
            msg = (
                f"Source {source} failed for {what}: HTTP {exc.response.status_code}. "
                f"safe-pip does not fall back to a lower-priority source; retry later "
                f"or fix the source."
            )
            raise SourceError(msg) from None
        except httpx.TimeoutException:
            msg = (
                f"Source {source} timed out for {what} (--timeout "
                f"{self._options.timeout:g}s). safe-pip does not fall back to a "
                f"lower-priority source; retry, or raise --timeout."
            )
            raise SourceError(msg) from None
        except httpx.TransportError as exc:
            msg = (
                f"Source {source} could not be reached for {what}: {_describe(exc)}. "
                f"safe-pip does not fall back to a lower-priority source."
            )
            raise SourceError(msg) from None

    def _checked(self, source: SourceSpec, response: httpx.Response, what: str) -> httpx.Response:
        status = response.status_code
        if status == 200:
            return response
        if status in (401, 403):
            msg = (
                f"Source {source} refused access for {what} (HTTP {status}). Check the "
                f"credentials for this source (in its URL, ~/.netrc or keyring); safe-pip "
                f"does not fall back to a lower-priority source."
            )
        else:
            msg = f"Source {source} answered HTTP {status} for {what}."
        raise SourceError(msg)

    def _auth(self, source: SourceSpec | None, url: str) -> httpx.Auth | None:
        same_origin = source is not None and origin_of(url) == origin_of(source.url)
        if source is not None and source.username is not None and same_origin:
            return httpx.BasicAuth(source.username, self._password(source))
        found = netrc_credentials(url, self._options.netrc_path)
        return httpx.BasicAuth(*found) if found else None

    def _password(self, source: SourceSpec) -> str:
        """The source's password: from its URL, else from the keyring (asked once)."""
        if source.password is not None or self._options.keyring is None:
            return source.password or ""
        with self._lock:
            if source.url not in self._keyring_answers:
                self._keyring_answers[source.url] = keyring_password(
                    self._options.keyring, source.url, source.username or ""
                )
            return self._keyring_answers[source.url] or ""

    def _placed(self, source: SourceSpec, page_url: str, files: list[IndexFile]) -> list[IndexFile]:
        """The files of a page, if each is listed where its page may point.

        A page on this machine (a ``file:`` index, a local find-links page) was named by the
        user and may list local files. A page fetched over the network may not: a ``file:``
        URL in it would have safe-pip install, or read as a wheel's metadata, whatever file
        of this machine the page's author chose. Each URL is judged as joined with its page,
        the exact string every reader fetches.

        :raises UnsafeSource: a file is listed where its page may not point; the source is
            refused as a whole, like any failing source.
        """
        local_page = not is_remote(page_url)
        for file in files:
            if file.url.startswith("https://"):
                continue  # nearly every file: decided without parsing thousands of URLs
            problem = self._misplaced(file.url, local_page=local_page)
            if problem is not None:
                where, fix = problem
                msg = (
                    f"Source {source} lists {file.filename} at {where}. {fix} Nothing was "
                    f"installed; safe-pip does not fall back to a lower-priority source."
                )
                raise UnsafeSource(msg)
        return files

    def _misplaced(self, url: str, *, local_page: bool) -> tuple[str, str] | None:
        """Where a listed URL points and how to fix it, if its page may not point there."""
        scheme = _scheme(url)
        if scheme == "file":
            host = urllib.parse.urlsplit(url).netloc.lower()
            if not local_page:
                return (
                    f"a local file ({_local_path(url)})",
                    "Only a file: index or a local find-links folder you name may list "
                    "files on this machine; fix the source, or remove it.",
                )
            if host not in _LOCAL_HOSTS:
                return (
                    f"a file on another host ({url})",
                    "A file: URL must name this machine (no host, or localhost).",
                )
            return None
        if scheme not in _REMOTE_SCHEMES:
            return (
                f"an address safe-pip does not download from ({redact_url(url)})",
                "Files must be listed at https (or http) URLs.",
            )
        if not is_secure_origin(url, self._options.trusted_hosts):
            return (
                f"{redact_url(url)}, plain http to a remote host",
                "Use https, or allow that host explicitly with --trusted-host.",
            )
        return None

    # -- find-links ----------------------------------------------------------------------

    def _find_links_files(self, source: SourceSpec) -> list[IndexFile]:
        cached = self._find_links_cache.get(source.url)
        if cached is None:
            cached = self._list_find_links(source)
            self._find_links_cache[source.url] = cached
        return cached

    def _list_find_links(self, source: SourceSpec) -> list[IndexFile]:
        location = source.url
        if is_remote(location):
            response = self._get_page(source, location, "its find-links page")
            if response is None:
                msg = f"Find-links page {source} was not found (HTTP 404)."
                raise SourceError(msg)
            files = parse_html_page(response.text, str(response.url), None)
            return self._placed(source, str(response.url), files)
        path = _local_path(location)
        if path.is_dir():
            return self._list_directory(path)
        if path.is_file():
            files = parse_html_page(path.read_text(encoding="utf-8"), path.as_uri(), None)
            return self._placed(source, path.as_uri(), files)
        logger.warning("find-links location %s does not exist; ignoring it", location)
        return []

    @staticmethod
    def _list_directory(path: Path) -> list[IndexFile]:
        files = []
        for entry in sorted(path.iterdir()):
            parsed = parse_filename(entry.name) if entry.is_file() else None
            made = parsed and _make_file(
                parsed[0],
                entry.name,
                entry.resolve().as_uri(),
                sha256=None,
                size=entry.stat().st_size,
            )
            if made:
                files.append(made)
        return files

    # -- files ---------------------------------------------------------------------------

    @contextmanager
    def open_stream(self, source: SourceSpec | None, url: str) -> Iterator[Iterator[bytes]]:
        """Stream a file's bytes (no verification: the caller hashes while storing).

        :raises NetworkError: the file could not be fetched.
        """
        if _scheme(url) == "file":
            path = self._readable(source, url)
            try:
                with path.open("rb") as stream:
                    yield iter(lambda: stream.read(_CHUNK), b"")
            except OSError as exc:
                msg = f"Cannot read {path}: {exc.strerror}"
                raise NetworkError(msg) from exc
            return
        shown = redact_url(url)
        try:
            with self._client.stream(
                "GET", url, auth=self._auth(source, url), follow_redirects=True
            ) as response:
                if response.status_code != 200:
                    msg = f"Downloading {shown} failed: HTTP {response.status_code}"
                    raise NetworkError(msg)
                yield response.iter_bytes(_CHUNK)
        except httpx.TimeoutException as exc:
            msg = f"Downloading {shown} timed out (--timeout {self._options.timeout:g}s)"
            raise NetworkError(msg) from exc
        except httpx.TransportError as exc:
            msg = f"Downloading {shown} failed: {_describe(exc)}"
            raise NetworkError(msg) from exc

    def read_optional(self, source: SourceSpec | None, url: str) -> bytes | None:
        """A small file's bytes, or ``None`` if it does not exist (a PEP 658 probe)."""
        if _scheme(url) == "file":
            path = self._readable(source, url)
            return path.read_bytes() if path.is_file() else None
        try:
            response = with_retries(
                lambda: self._client.get(url, auth=self._auth(source, url), follow_redirects=True),
                self._options.retries,
            )
        except httpx.TransportError as exc:
            msg = f"Downloading {redact_url(url)} failed: {_describe(exc)}"
            raise NetworkError(msg) from exc
        if response.status_code == 200:
            return response.content
        if response.status_code in (404, 403, 410):
            return None
        msg = f"Downloading {redact_url(url)} failed: HTTP {response.status_code}"
        raise NetworkError(msg)

    @staticmethod
    def _readable(source: SourceSpec | None, url: str) -> Path:
        """The local file behind a ``file:`` URL, if its source may name one: a remote
        source's listing never gets this far (see :meth:`_placed`), and if one did, the
        read is refused here as well.

        :raises UnsafeSource: a remote source named a local file.
        """
        if source is not None and is_remote(source.url):
            msg = (
                f"Source {source} names a local file ({_local_path(url)}); only a file: "
                f"index or a local find-links folder may. Nothing was installed."
            )
            raise UnsafeSource(msg)
        return _local_path(url)


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return redact_url(text) if "@" in text else text
