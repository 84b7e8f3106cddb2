"""Read index pages: PEP 691 JSON and PEP 503 HTML project pages, and find-links pages.

Each page becomes the files it lists, each with its sha256 as safe-pip may use it (a digest
that is not one counts as none). Where a file may be listed is judged elsewhere
(:func:`~safe_pip.gateway.locations.check_placed`).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from datetime import datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from safe_pip.distfiles import parse_filename, parse_filename_with_tags
from safe_pip.gateway.cache import MAX_FILENAME_BYTES, is_sha256
from safe_pip.models import IndexFile

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version

__all__ = [
    "HTML_TYPES",
    "JSON_TYPE",
    "interned_tags",
    "interned_version",
    "make_file",
    "parse_html_page",
    "parse_json_page",
]

logger = logging.getLogger(__name__)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")


# One copy of each version and tag set for all the files naming them: a project with
# thousands of wheels repeats a few dozen, and its page is kept until the install ends.
# Versions by their text: 1.0 equals 1.0.0, but each file keeps the spelling of its name.
_VERSIONS: dict[str, Version] = {}
_TAG_SETS: dict[frozenset[Tag], frozenset[Tag]] = {}


def interned_version(version: Version) -> Version:
    """The one copy of ``version`` every file naming it shares."""
    return _VERSIONS.setdefault(str(version), version)


def interned_tags(tags: frozenset[Tag]) -> frozenset[Tag]:
    """The one copy of a tag set every file with it shares."""
    return _TAG_SETS.setdefault(tags, tags)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def make_file(
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
    """The index entry of ``filename`` at ``url``, or ``None`` if it is no distribution of
    ``project`` or its name is too long for the cache."""
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
        version=interned_version(version),
        kind=kind,
        sha256=_digest(sha256),
        requires_python=requires_python or None,
        yanked=yanked,
        upload_time=upload_time,
        size=size,
        core_metadata=core_metadata,
        core_metadata_sha256=_digest(core_metadata_sha256),
        tags=interned_tags(tags),
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
        made = make_file(
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
        made = make_file(
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
