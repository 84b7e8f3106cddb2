"""Known vulnerabilities as OSV describes them: one advisory, parsed, validated and matched.

Matching is OSV's own (https://ossf.github.io/osv-schema/): ``ECOSYSTEM`` ranges of
``introduced``/``fixed``/``last_affected`` events ordered as PEP 440 versions, and
explicit ``versions`` lists; only the ``PyPI`` ecosystem; names normalised (PEP 503);
withdrawn advisories ignored. Where the advisories come from is
:mod:`safe_pip.policy.advisory_source`; how they are stored for look-ups,
:mod:`safe_pip.policy.advisory_index`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["Advisory", "Affected", "MalformedAdvisory", "parse_advisory"]

logger = logging.getLogger(__name__)

_ECOSYSTEM = "PyPI"
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


# -- one advisory ----------------------------------------------------------------------------


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _event_key(event: tuple[str, str]) -> tuple[int, Version]:
    kind, text = event
    if kind == "introduced" and text == "0":
        return (0, Version("0"))
    # Unparsable versions were dropped by _ordered_events; the key is only for valid ones.
    return (1, Version(text))


def _ordered_events(events: Iterable[tuple[str, str]]) -> list[tuple[str, Version | None]]:
    """A range's events in PEP 440 order; ``introduced: "0"`` is below every version."""
    valid = [
        event
        for event in events
        if event[0] != "limit"
        and ((event[0] == "introduced" and event[1] == "0") or _version(event[1]) is not None)
    ]
    dropped = len([e for e in events if e[0] != "limit"]) - len(valid)
    if dropped:
        logger.debug("ignoring %d event(s) whose version is not PEP 440", dropped)
    return [
        (kind, None if kind == "introduced" and text == "0" else Version(text))
        for kind, text in sorted(valid, key=_event_key)
    ]


@dataclass(frozen=True, slots=True)
class Affected:
    """One ``affected`` entry of an advisory, for one project."""

    ranges: tuple[tuple[tuple[str, str], ...], ...] = ()
    """The events of each ``ECOSYSTEM`` range, as written: ``(kind, version)``."""
    versions: tuple[str, ...] = ()
    """The explicit list of affected versions."""

    def _in_versions(self, text: str, version: Version | None) -> bool:
        for listed in self.versions:
            if listed == text:
                return True
            parsed = _version(listed) if version is not None else None
            if parsed is not None and parsed == version:
                return True
        return False

    def _range_state(
        self, events: tuple[tuple[str, str], ...], version: Version
    ) -> tuple[bool, str | None]:
        """Whether ``version`` is in the range, and the way out of it (``>=fix``/``>last``)."""
        affected, way_out = False, None
        for kind, bound in _ordered_events(events):
            if kind == "introduced" and (bound is None or version >= bound):
                affected, way_out = True, None
            elif bound is not None and (
                (kind == "fixed" and version >= bound)
                or (kind == "last_affected" and version > bound)
            ):
                affected = False
            elif affected and way_out is None and bound is not None and kind != "introduced":
                way_out = f">={bound}" if kind == "fixed" else f">{bound}"
        return affected, way_out if affected else None

    def affects(self, text: str) -> tuple[bool, str | None]:
        """Whether version ``text`` is affected, and the way out of the range holding it."""
        version = _version(text)
        if version is not None:
            for events in self.ranges:
                affected, way_out = self._range_state(events, version)
                if affected:
                    return True, way_out
        return self._in_versions(text, version), None


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory as it applies to one project."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    details: str
    affected: tuple[Affected, ...]

    def affects(self, version: str) -> bool:
        """Whether this version of the project is affected."""
        return any(entry.affects(version)[0] for entry in self.affected)

    def way_out(self, version: str) -> str | None:
        """The specifier that leaves the affected range (``>=2.1`` or ``>1.4``), if known."""
        for entry in self.affected:
            affected, way_out = entry.affects(version)
            if affected and way_out:
                return way_out
        return None

    def fix_versions(self) -> tuple[str, ...]:
        """Every ``fixed`` version of the advisory's ranges, lowest first (pip-audit's
        ``fix_versions``)."""
        fixed = {
            text
            for entry in self.affected
            for events in entry.ranges
            for kind, text in events
            if kind == "fixed" and _version(text) is not None
        }
        return tuple(sorted(fixed, key=Version))

    def first_fix(self, version: str) -> str | None:
        """The lowest fixed version above ``version``, if there is one."""
        current = _version(version)
        above = [v for v in self.fix_versions() if current is None or Version(v) > current]
        return above[0] if above else None

    @property
    def title(self) -> str:
        """The summary, else the first sentence of the details (PYSEC has no summary)."""
        if self.summary:
            return self.summary
        first = " ".join(self.details.split()).split(". ")[0]
        return first if len(first) <= 160 else first[:157] + "..."


# -- parsing and validation ----------------------------------------------------------------


class MalformedAdvisory(ValueError):
    """A document that is not a well-formed OSV advisory."""


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedAdvisory(f"{what} must be a list of strings")
    return value


def _string(value: Any, what: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise MalformedAdvisory(f"{what} must be a{' non-empty' if required else ''} string")
    return value


def _events(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise MalformedAdvisory("a range's events must be a non-empty list")
    events = []
    for event in raw:
        if not isinstance(event, dict) or len(event) != 1:
            raise MalformedAdvisory("each event must be an object with exactly one key")
        ((kind, value),) = event.items()
        if kind not in _EVENT_KINDS or not isinstance(value, str) or not value:
            raise MalformedAdvisory(f"unknown or empty event {kind!r}")
        events.append((kind, value))
    return tuple(events)


def _ranges(raw: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MalformedAdvisory("ranges must be a list")
    found = []
    for item in raw:
        if not isinstance(item, dict):
            raise MalformedAdvisory("each range must be an object")
        kind = _string(item.get("type"), "a range's type", required=True)
        events = _events(item.get("events"))
        # GIT ranges are commits, SEMVER is not PyPI's ordering: neither orders PEP 440
        # versions, so only ECOSYSTEM ranges are matched (the versions list covers them).
        if kind == "ECOSYSTEM":
            found.append(events)
    return tuple(found)


def _pypi_entries(raw: Any) -> Iterator[tuple[NormalizedName, Affected]]:
    if raw is None:
        return
    if not isinstance(raw, list):
        raise MalformedAdvisory("affected must be a list")
    for entry in raw:
        if not isinstance(entry, dict):
            raise MalformedAdvisory("each affected entry must be an object")
        package = entry.get("package")
        if package is None:
            continue
        if not isinstance(package, dict):
            raise MalformedAdvisory("affected[].package must be an object")
        ecosystem = _string(package.get("ecosystem"), "package.ecosystem", required=True)
        name = _string(package.get("name"), "package.name", required=True)
        ranges = _ranges(entry.get("ranges"))
        versions = tuple(_strings(entry.get("versions"), "affected[].versions"))
        if ecosystem == _ECOSYSTEM:
            yield canonicalize_name(name), Affected(ranges, versions)


def parse_advisory(document: Any) -> tuple[str, dict[NormalizedName, Advisory]] | None:
    """The advisory's ID and what it says about each PyPI project; ``None`` if withdrawn.

    :raises ValueError: not a well-formed OSV document.
    """
    if not isinstance(document, dict):
        raise MalformedAdvisory("an OSV document must be a JSON object")
    ident = _string(document.get("id"), "id", required=True)
    try:
        _string(document.get("modified"), "modified", required=True)
        aliases = tuple(_strings(document.get("aliases"), "aliases"))
        summary = _string(document.get("summary"), "summary")
        details = _string(document.get("details"), "details")
        withdrawn = _string(document.get("withdrawn"), "withdrawn")
        by_project: dict[NormalizedName, list[Affected]] = {}
        for name, affected in _pypi_entries(document.get("affected")):
            by_project.setdefault(name, []).append(affected)
    except MalformedAdvisory as exc:
        raise MalformedAdvisory(f"{ident}: {exc}") from None
    if withdrawn:
        return None
    return ident, {
        name: Advisory(ident, aliases, summary, details, tuple(entries))
        for name, entries in by_project.items()
    }
