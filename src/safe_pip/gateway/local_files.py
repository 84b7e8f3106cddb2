"""Read sources on this machine: ``file://`` indexes, find-links folders and their files.

The user named these places: their files are as trusted as a ``--hash`` they wrote. A
remote source may never have one of them read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.distfiles import parse_filename
from safe_pip.errors import NetworkError, SourceError, UnsafeSource
from safe_pip.gateway.cache import sha256_file
from safe_pip.gateway.index_pages import make_file, parse_html_page
from safe_pip.gateway.locations import check_placed, is_remote, local_path, scheme_of
from safe_pip.gateway.remote import CHUNK
from safe_pip.models import IndexFile, ProjectPage, SourceSpec

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

__all__ = [
    "list_directory",
    "open_local",
    "read_local_index",
    "read_local_optional",
    "with_local_hash",
]


def read_local_index(
    source: SourceSpec, name: NormalizedName, url: str, trusted_hosts: tuple[str, ...]
) -> ProjectPage | None:
    """The project page of a ``file:`` index at ``url``, or ``None`` if it has none.

    :raises SourceError: the page exists and cannot be read.
    """
    page = local_path(url) / "index.html"
    if not page.is_file():
        return None
    try:
        text = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"Cannot read {page} of source {source} for project {name!r}: {exc}"
        raise SourceError(msg) from exc
    files = parse_html_page(text, page.as_uri(), name)
    return ProjectPage(
        name, source, tuple(check_placed(source, page.as_uri(), files, trusted_hosts))
    )


def list_directory(path: Path) -> list[IndexFile]:
    """The distributions in a find-links folder, not yet hashed (see :func:`with_local_hash`)."""
    files = []
    for entry in sorted(path.iterdir()):
        parsed = parse_filename(entry.name) if entry.is_file() else None
        made = parsed and make_file(
            parsed[0],
            entry.name,
            entry.resolve().as_uri(),
            sha256=None,
            size=entry.stat().st_size,
        )
        if made:
            files.append(made)
    return files


def with_local_hash(file: IndexFile) -> IndexFile:
    """Hash a file of a local find-links folder, only once its project is asked for.

    The user named this folder: its bytes are as trusted as a ``--hash`` they wrote, and
    hashing them here pins exactly the bytes that will be installed.
    """
    if file.sha256 is not None or scheme_of(file.url) != "file":
        return file
    return dataclasses.replace(file, sha256=sha256_file(local_path(file.url)))


@contextmanager
def open_local(source: SourceSpec | None, url: str) -> Iterator[Iterator[bytes]]:
    """Stream the bytes of a ``file:`` URL.

    :raises NetworkError: the file cannot be read.
    :raises UnsafeSource: a remote source named a local file.
    """
    path = _readable(source, url)
    try:
        with path.open("rb") as stream:
            yield iter(lambda: stream.read(CHUNK), b"")
    except OSError as exc:
        msg = f"Cannot read {path}: {exc.strerror}"
        raise NetworkError(msg) from exc


def read_local_optional(source: SourceSpec | None, url: str) -> bytes | None:
    """The bytes of a ``file:`` URL, or ``None`` if there is no such file."""
    path = _readable(source, url)
    return path.read_bytes() if path.is_file() else None


def _readable(source: SourceSpec | None, url: str) -> Path:
    """The local file behind a ``file:`` URL, if its source may name one: a remote
    source's listing never gets this far (see :func:`~safe_pip.gateway.locations.check_placed`),
    and if one did, the read is refused here as well.

    :raises UnsafeSource: a remote source named a local file.
    """
    if source is not None and is_remote(source.url):
        msg = (
            f"Source {source} names a local file ({local_path(url)}); only a file: "
            f"index or a local find-links folder may. Nothing was installed."
        )
        raise UnsafeSource(msg)
    return local_path(url)
