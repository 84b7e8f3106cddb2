"""The advisory index: every advisory of a source, stored by project for quick look-ups.

A source holds hundreds of thousands of advisories; an install asks about a few dozen
projects. The index is built once per fetch and read one project at a time, so an
environment of hundreds of projects is checked in milliseconds.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.policy.advisories import Advisory, Affected, MalformedAdvisory, parse_advisory

__all__ = ["AdvisoryDatabase", "build_index"]

_INDEX_FORMAT = 1


def _compact(advisory: Advisory) -> dict[str, Any]:
    return {
        "id": advisory.id,
        "aliases": list(advisory.aliases),
        "summary": advisory.summary,
        "details": advisory.details,
        "affected": [
            {"ranges": [list(map(list, r)) for r in a.ranges], "versions": list(a.versions)}
            for a in advisory.affected
        ],
    }


def _expand(record: dict[str, Any]) -> Advisory:
    return Advisory(
        record["id"],
        tuple(record["aliases"]),
        record["summary"],
        record["details"],
        tuple(
            Affected(
                tuple(tuple((kind, text) for kind, text in events) for events in a["ranges"]),
                tuple(a["versions"]),
            )
            for a in record["affected"]
        ),
    )


def build_index(documents: Iterable[tuple[str, bytes]]) -> tuple[bytes, int]:
    """The per-project index of every advisory, and how many advisories it holds.

    The index is one JSON header line (each project's offset and length) followed by each
    project's advisories as a JSON array, so a lookup reads only what it asks for.

    :param documents: ``(where, bytes)`` of each OSV JSON file.
    :raises ValueError: a document is not well-formed OSV JSON, or there is none at all.
    """
    projects: dict[NormalizedName, dict[str, Advisory]] = {}
    count = 0
    for where, raw in documents:
        try:
            parsed = parse_advisory(json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"{where} is not JSON ({exc})"
            raise ValueError(msg) from exc
        except MalformedAdvisory as exc:
            msg = f"{where} is not a well-formed OSV advisory ({exc})"
            raise ValueError(msg) from exc
        count += 1
        if parsed is None:
            continue
        ident, by_project = parsed
        for name, advisory in by_project.items():
            known = projects.setdefault(name, {})
            if ident in known:  # the same ID twice: one advisory, all its entries
                advisory = Advisory(
                    ident,
                    advisory.aliases,
                    advisory.summary,
                    advisory.details,
                    known[ident].affected + advisory.affected,
                )
            known[ident] = advisory
    if count == 0:
        msg = "it holds no OSV advisory (no .json file)"
        raise ValueError(msg)
    body = io.BytesIO()
    offsets: dict[str, list[int]] = {}
    for name in sorted(projects):
        chunk = json.dumps(
            [_compact(a) for _, a in sorted(projects[name].items())], separators=(",", ":")
        ).encode()
        offsets[name] = [body.tell(), len(chunk)]
        body.write(chunk)
    header = json.dumps({"format": _INDEX_FORMAT, "advisories": count, "projects": offsets})
    return header.encode() + b"\n" + body.getvalue(), count


class AdvisoryDatabase:
    """A cached index, read one project at a time."""

    def __init__(self, path: Path, source: str, fetched: datetime, count: int) -> None:
        """:raises ValueError: the index file is not one safe-pip wrote."""
        self.path = path
        self.source = source
        """The source, safe to show (no credentials)."""
        self.fetched = fetched
        """When the data was fetched (for a local source: when it was last changed)."""
        self.count = count
        """How many advisories the source held (withdrawn ones included)."""
        with path.open("rb") as stream:
            header = json.loads(stream.readline())
            self._base = stream.tell()
        if not isinstance(header, dict) or header.get("format") != _INDEX_FORMAT:
            msg = f"{path} is not an advisory index of format {_INDEX_FORMAT}"
            raise ValueError(msg)
        self._offsets: dict[str, list[int]] = header["projects"]

    def lookup(self, names: Iterable[str]) -> dict[str, tuple[Advisory, ...]]:
        """The advisories of each named project that has any, by normalised name."""
        found: dict[str, tuple[Advisory, ...]] = {}
        wanted = sorted({canonicalize_name(name) for name in names} & self._offsets.keys())
        if not wanted:
            return found
        with self.path.open("rb") as stream:
            for name in wanted:
                offset, length = self._offsets[name]
                stream.seek(self._base + offset)
                found[name] = tuple(_expand(r) for r in json.loads(stream.read(length)))
        return found

    def age(self, now: datetime) -> timedelta:
        """How old the data is."""
        return now - self.fetched
