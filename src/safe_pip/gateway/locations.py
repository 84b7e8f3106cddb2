"""Where a URL is read from (this machine's disk or the network), and where a page may point.

Every reader of a source dispatches on :func:`scheme_of`, and so does the check of what a
page may list (:func:`check_placed`), so the two never read one URL two ways.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.errors import UnsafeSource
from safe_pip.gateway.network import is_secure_origin, redact_url

if TYPE_CHECKING:
    from safe_pip.models import IndexFile, SourceSpec

__all__ = ["check_placed", "is_remote", "local_path", "scheme_of"]

_REMOTE_SCHEMES = frozenset({"http", "https"})
_LOCAL_HOSTS = frozenset({"", "localhost"})


def scheme_of(url: str) -> str:
    """How a URL is read: ``file`` from this machine's disk, ``http``/``https`` over the
    network. Every reader dispatches on this answer and the check of what a page may list
    asks it too, so the two never read one URL two ways (DESIGN invariant 8): upper case,
    a leading space or a tab inside the scheme make ``file`` for both alike."""
    return urllib.parse.urlsplit(url).scheme


def is_remote(url: str) -> bool:
    """Whether a source or page at ``url`` is read over the network (else from this machine,
    as a ``file:`` URL or a plain path the user named)."""
    return scheme_of(url) in _REMOTE_SCHEMES


def local_path(url: str) -> Path:
    """The path on this machine of a ``file:`` URL, or of a plain path the user named."""
    if scheme_of(url) == "file":
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    return Path(url)


def check_placed(
    source: SourceSpec, page_url: str, files: list[IndexFile], trusted_hosts: tuple[str, ...]
) -> list[IndexFile]:
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
        problem = _misplaced(file.url, local_page=local_page, trusted_hosts=trusted_hosts)
        if problem is not None:
            where, fix = problem
            msg = (
                f"Source {source} lists {file.filename} at {where}. {fix} Nothing was "
                f"installed; safe-pip does not fall back to a lower-priority source."
            )
            raise UnsafeSource(msg)
    return files


def _misplaced(
    url: str, *, local_page: bool, trusted_hosts: tuple[str, ...]
) -> tuple[str, str] | None:
    """Where a listed URL points and how to fix it, if its page may not point there."""
    scheme = scheme_of(url)
    if scheme == "file":
        host = urllib.parse.urlsplit(url).netloc.lower()
        if not local_page:
            return (
                f"a local file ({local_path(url)})",
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
    if not is_secure_origin(url, trusted_hosts):
        return (
            f"{redact_url(url)}, plain http to a remote host",
            "Use https, or allow that host explicitly with --trusted-host.",
        )
    return None
