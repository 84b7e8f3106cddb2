"""Index pages read before: a JSON project page fetched again, byte for byte unchanged, is
not parsed again.

Reading a page means reading every file it lists (pydantic-core's page lists some 18,000),
and on an install whose resolution is remembered it was most of the time spent confirming
that the pages pip read are unchanged. The files of each page are kept under the page's URL
and project, with a digest of everything its reading depends on: the page's bytes, its URL
and project, and what reads it (this module, the page and file-name parsers and what they
use, packaging's version, the interpreter's). Anything else, and the page is read afresh
and its entry replaced.

Each entry is signed with a secret key kept in safe-pip's home (``pages.key``), not in the
cache: whoever can write the cache but not the home cannot make safe-pip see a file the
page does not list, or another sha256 for one it does. An entry that fails the check is
read afresh, never used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import packaging
from packaging.tags import Tag
from packaging.version import Version

from safe_pip import distfiles, models
from safe_pip.atomic import write_bytes_atomic
from safe_pip.gateway import cache as gateway_cache
from safe_pip.gateway import index_pages
from safe_pip.models import DistKind, IndexFile
from safe_pip.secret_key import secret_key

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

__all__ = ["ParsedPages"]

logger = logging.getLogger(__name__)

_MAC_SIZE = 32


class ParsedPages:
    """The files of JSON project pages read before, under ``<cache_dir>/pages``."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self._key = key

    @classmethod
    def in_cache(cls, cache_dir: Path | None, home: Path) -> ParsedPages | None:
        """The pages kept in ``cache_dir``, signed with the key in ``home``; ``None``
        without a cache, or where the key can be neither read nor made (pages are then
        read every time: keeping them only ever saves time)."""
        if cache_dir is None:
            return None
        try:
            key = secret_key(home / "pages.key")
        except OSError as exc:
            logger.debug("index pages are read afresh every time: %s", exc)
            return None
        return cls(cache_dir / "pages", key)

    def files(self, data: bytes, page_url: str, project: NormalizedName) -> list[IndexFile]:
        """:func:`~safe_pip.gateway.index_pages.parse_json_page`, kept from the last time
        this page was read where it has not changed since.

        :raises ValueError: the page is not valid PEP 691 JSON (never kept).
        """
        reader = _reader_digest()
        if reader is None:
            return index_pages.parse_json_page(data, page_url, project)
        digest = hashlib.sha256(reader + f"{page_url}\0{project}\0".encode())
        digest.update(data)  # not joined first: a page can be megabytes
        inputs = digest.hexdigest()
        name = hashlib.sha256(f"{page_url}\0{project}".encode()).hexdigest()
        entry = self.directory / name
        kept = self._read(entry, inputs, project)
        if kept is not None:
            return kept
        files = index_pages.parse_json_page(data, page_url, project)
        self._write(entry, inputs, files)
        return files

    def _read(self, entry: Path, inputs: str, project: NormalizedName) -> list[IndexFile] | None:
        try:
            signed = entry.read_bytes()
        except OSError:
            return None
        mac, payload = signed[:_MAC_SIZE], signed[_MAC_SIZE:]
        if not hmac.compare_digest(mac, self._sign(payload)):
            logger.debug("%s fails its check; the page is read afresh", entry)
            return None
        try:
            document = json.loads(payload)
            if document["inputs"] != inputs:
                return None
            return _files(document, project)
        except (ValueError, KeyError, TypeError, IndexError):
            return None

    def _write(self, entry: Path, inputs: str, files: list[IndexFile]) -> None:
        """Keep a page's files, whole or not at all: another command may be reading the
        entry. A cache that cannot be written is left as it is."""
        payload = json.dumps({"inputs": inputs, **_document(files)}, separators=(",", ":"))
        signed = self._sign(payload.encode()) + payload.encode()
        try:
            # Not fsynced: an entry a power loss truncates fails its check and is read afresh.
            write_bytes_atomic(entry, signed, durable=False)
        except OSError as exc:
            logger.debug("index page not kept in %s: %s", entry, exc)

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


_READER = (index_pages, distfiles, gateway_cache, models)
"""The modules whose code decides what a page's files are, besides this one and packaging:
the page parser and the modules it reads file names, digests and files with."""


@cache
def _reader_digest() -> bytes | None:
    """A digest of what turns a page into files (the interpreter, packaging, this code);
    ``None`` (nothing is kept) where that code cannot be read."""
    digest = hashlib.sha256(f"{sys.version}\0{packaging.__version__}".encode())
    for source in (*(module.__file__ for module in _READER), __file__):
        try:
            digest.update(Path(source or "").read_bytes())
        except OSError:
            return None
    return digest.digest()


def _document(files: list[IndexFile]) -> dict[str, Any]:
    """Files as JSON: one row each, every field of :class:`~safe_pip.models.IndexFile` but
    the project (the entry's own), tag sets listed once."""
    tag_sets: dict[frozenset[Tag], int] = {}
    rows = []
    for file in files:
        rows.append(
            [
                file.filename,
                file.url,
                str(file.version),
                file.kind.value,
                file.sha256,
                file.requires_python,
                file.yanked,
                file.upload_time.isoformat() if file.upload_time else None,
                file.size,
                file.core_metadata,
                file.core_metadata_sha256,
                tag_sets.setdefault(file.tags, len(tag_sets)),
            ]
        )
    tags = [sorted([tag.interpreter, tag.abi, tag.platform] for tag in tags) for tags in tag_sets]
    return {"tags": tags, "files": rows}


def _files(document: dict[str, Any], project: NormalizedName) -> list[IndexFile]:
    tag_sets = [
        index_pages.interned_tags(frozenset(Tag(*tag) for tag in tags)) for tags in document["tags"]
    ]
    versions: dict[str, Version] = {}
    files = []
    for row in document["files"]:
        text = row[2]
        version = versions.get(text)
        if version is None:
            version = versions[text] = index_pages.interned_version(Version(text))
        files.append(
            IndexFile(
                filename=row[0],
                url=row[1],
                project=project,
                version=version,
                kind=DistKind(row[3]),
                sha256=row[4],
                requires_python=row[5],
                yanked=row[6],
                upload_time=datetime.fromisoformat(row[7]) if row[7] else None,
                size=row[8],
                core_metadata=row[9],
                core_metadata_sha256=row[10],
                tags=tag_sets[row[11]],
            )
        )
    return files
