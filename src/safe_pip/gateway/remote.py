"""Read sources over the network: index pages, find-links pages and files, over HTTP(S).

Pages are fetched with retries, following redirects on their own host only; files are
streamed unverified (the caller hashes them while storing). Every failure is a
:class:`~safe_pip.errors.SourceError` or :class:`~safe_pip.errors.NetworkError` whose
message names no credential.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from safe_pip.errors import NetworkError, SourceError
from safe_pip.gateway.credentials import Credentials
from safe_pip.gateway.index_pages import JSON_TYPE
from safe_pip.gateway.network import (
    NetworkOptions,
    Origin,
    is_secure_origin,
    origin_of,
    redact_url,
    with_retries,
)

if TYPE_CHECKING:
    from safe_pip.models import SourceSpec

__all__ = ["RemoteReader"]

_ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
CHUNK = 1 << 16
_MAX_REDIRECTS = 5


def _same_site(start: Origin, target: Origin) -> bool:
    """A redirect may stay on its origin, or only upgrade http to https on the same host."""
    if start == target:
        return True
    return start[1] == target[1] and start[0] == "http" and target == ("https", start[1], 443)


class RemoteReader:
    """GETs pages and files of the configured sources, with their credentials."""

    def __init__(self, client: httpx.Client, options: NetworkOptions) -> None:
        self._client = client
        self._options = options
        self._credentials = Credentials(options)

    def get_page(self, source: SourceSpec, url: str, what: str) -> httpx.Response | None:
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
                url, headers={"Accept": _ACCEPT}, auth=self._credentials.auth(source, url)
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

    @staticmethod
    def _checked(source: SourceSpec, response: httpx.Response, what: str) -> httpx.Response:
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

    @contextmanager
    def stream(self, source: SourceSpec | None, url: str) -> Iterator[Iterator[bytes]]:
        """Stream a file's bytes (no verification: the caller hashes while storing).

        :raises NetworkError: the file could not be fetched.
        """
        shown = redact_url(url)
        try:
            with self._client.stream(
                "GET", url, auth=self._credentials.auth(source, url), follow_redirects=True
            ) as response:
                if response.status_code != 200:
                    msg = f"Downloading {shown} failed: HTTP {response.status_code}"
                    raise NetworkError(msg)
                yield response.iter_bytes(CHUNK)
        except httpx.TimeoutException as exc:
            msg = f"Downloading {shown} timed out (--timeout {self._options.timeout:g}s)"
            raise NetworkError(msg) from exc
        except httpx.TransportError as exc:
            msg = f"Downloading {shown} failed: {_describe(exc)}"
            raise NetworkError(msg) from exc

    def read_optional(self, source: SourceSpec | None, url: str) -> bytes | None:
        """A small file's bytes, or ``None`` if it does not exist (a PEP 658 probe)."""
        try:
            response = with_retries(
                lambda: self._client.get(
                    url, auth=self._credentials.auth(source, url), follow_redirects=True
                ),
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


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return redact_url(text) if "@" in text else text
