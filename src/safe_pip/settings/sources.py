"""The sources: the ``sources`` table of the settings, the sources of the flags in priority
order with their mirror groups, and the settings' pins to named sources."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from safe_pip.errors import UsageError
from safe_pip.gateway.network import redact_url, split_credentials
from safe_pip.gateway.shadows import group_of
from safe_pip.models import Pin, SourceKind, SourceMarks, SourceSpec
from safe_pip.resolve.reqfile_syntax import unsafe_character

__all__ = ["DEFAULT_INDEX", "build_pins", "build_sources", "source_table"]

DEFAULT_INDEX = "https://pypi.org/simple"

_SOURCE_KEYS: dict[str, type] = {
    "url": str,
    "private": bool,
    "public": bool,
    "mirror-of": str,
    "check-public-shadows": bool,
}


def source_table(path: Path | str, table: Any) -> tuple[dict[str, Any], dict[str, SourceMarks]]:
    """The ``sources`` table as URLs by name, and the marks of each source written as a
    table (``corp = { url = "...", private = true }``).

    :raises UsageError: an entry is neither a URL nor a table of the known keys.
    """
    if not isinstance(table, dict):
        return table, {}
    urls: dict[str, Any] = {}
    marks: dict[str, SourceMarks] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            urls[name] = entry
            continue
        wrong = sorted(
            key
            for key, value in entry.items()
            if key not in _SOURCE_KEYS or not isinstance(value, _SOURCE_KEYS[key])
        )
        if wrong or not isinstance(entry.get("url"), str):
            msg = (
                f"{path}: sources.{name} must be a URL, or a table with a url and any of "
                f'private = true, public = true, mirror-of = "NAME", '
                f"check-public-shadows = true/false"
                + (f" (wrong: {', '.join(wrong)})" if wrong else " (no url)")
            )
            raise UsageError(msg)
        if entry.get("private") and entry.get("public"):
            msg = f"{path}: sources.{name} cannot be both private and public"
            raise UsageError(msg)
        urls[name] = entry["url"]
        private = True if entry.get("private") else False if entry.get("public") else None
        marks[name] = SourceMarks(
            private=private,
            mirror_of=entry.get("mirror-of"),
            check_public_shadows=entry.get("check-public-shadows"),
        )
    return urls, marks


def _source(
    url: str,
    kind: SourceKind,
    names: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> SourceSpec:
    found = unsafe_character(url)
    if found is not None:
        msg = f"The {kind.value} source {redact_url(url)!r} contains {found}; remove it."
        raise UsageError(msg)
    clean, user, password = split_credentials(url)
    if kind is SourceKind.FIND_LINKS and "://" not in clean:
        clean = str(Path(clean).expanduser().absolute())
    label = next(
        (name for name, named_url in names.items() if split_credentials(named_url)[0] == clean),
        "pypi" if clean.rstrip("/") == DEFAULT_INDEX else clean,
    )
    return SourceSpec(label, clean, kind, user, password, (marks or {}).get(label, SourceMarks()))


def build_sources(
    *,
    index_url: str | None,
    extra_index_urls: Sequence[str],
    find_links: Sequence[str],
    no_index: bool,
    named: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> tuple[SourceSpec, ...]:
    """Sources in priority order: find-links, extra indexes as given, then the index; and
    last, each source of the settings declared a mirror of one of those (it is merged
    with the source it mirrors, see :func:`safe_pip.gateway.shadows.group_of`)."""
    sources = [_source(url, SourceKind.FIND_LINKS, named, marks) for url in find_links]
    if not no_index:
        sources += [_source(url, SourceKind.INDEX, named, marks) for url in extra_index_urls]
        sources.append(_source(index_url or DEFAULT_INDEX, SourceKind.INDEX, named, marks))
        configured = {source.name for source in sources}
        sources += [
            _source(named[name], SourceKind.INDEX, named, marks)
            for name, mark in (marks or {}).items()
            if mark.mirror_of in configured and name in named
        ]
    unique: dict[str, SourceSpec] = {}
    for source in sources:
        unique.setdefault(source.url, source)
    return _grouped(tuple(unique.values()))


def _grouped(sources: tuple[SourceSpec, ...]) -> tuple[SourceSpec, ...]:
    """The sources, each told the URLs of the other members of its mirror group."""
    result = []
    for source in sources:
        others = tuple(s.url for s in group_of(source, sources) if s != source)
        marks = dataclasses.replace(source.marks, group=others)
        result.append(dataclasses.replace(source, marks=marks))
    return tuple(result)


def build_pins(
    pins: Mapping[str, str],
    named: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> tuple[Pin, ...]:
    """Pins from settings; each must name a source of the ``sources`` table (or ``pypi``,
    the default index, unless the table names another source so).

    :raises UsageError: a pin names an unknown source.
    """
    known = {"pypi": DEFAULT_INDEX, **named}
    result = []
    for pattern, source_name in pins.items():
        if source_name not in known:
            msg = (
                f"settings pin {pattern!r} = {source_name!r}: no source named "
                f"{source_name!r} in the sources table"
            )
            raise UsageError(msg)
        source = _source(known[source_name], SourceKind.INDEX, named, marks)
        result.append(Pin(pattern, source))
    return tuple(result)
