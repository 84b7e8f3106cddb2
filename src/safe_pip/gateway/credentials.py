"""The credentials a request to a source carries.

A source's own username and password go only to that source's origin; any other URL gets
what ``~/.netrc`` gives its host, if anything.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import httpx

from safe_pip.gateway.network import NetworkOptions, keyring_password, netrc_credentials, origin_of

if TYPE_CHECKING:
    from safe_pip.models import SourceSpec

__all__ = ["Credentials"]


class Credentials:
    """Chooses the credentials of each request; the keyring is asked once per source."""

    def __init__(self, options: NetworkOptions) -> None:
        self._options = options
        self._keyring_answers: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def auth(self, source: SourceSpec | None, url: str) -> httpx.Auth | None:
        """The credentials for ``url``, fetched on behalf of ``source``."""
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
