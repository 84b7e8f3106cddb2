"""The trust store: approved projects, their source, and the sha256 of every file installed.

One JSON file, ``trust.json`` in the safe-pip home, versioned and shaped as
:class:`StoreDocument`. Readers take it as it is (it is only ever replaced whole); writers
hold a file lock, re-read it, change it and rename a new file over it, so concurrent runs
keep each other's entries and a crash leaves the old file or the new one. A store that
cannot be read is reported, never reset: it is the memory of what was approved.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict, TypeVar

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.errors import TrustStoreError
from safe_pip.gateway.network import redact_url
from safe_pip.locking import file_lock
from safe_pip.models import Exemption, SourceSpec
from safe_pip.policy.timestamps import utc_now

__all__ = [
    "STORE_VERSION",
    "ExemptionRecord",
    "How",
    "Listing",
    "ProjectRecord",
    "Remembered",
    "StoreDocument",
    "TrustStore",
    "TrustedProject",
    "parse_exemption",
]

STORE_VERSION = 1
_T = TypeVar("_T")


class How(enum.Enum):
    """How a project came to be approved."""

    PROMPT = "prompt"
    """The user said yes at the first-seen review."""
    FLAG = "flag"
    """``--trust`` on the command line."""
    SETTINGS = "settings"
    """``trust``/``trusted`` in a settings file or ``SAFE_PIP_TRUST``."""
    HASH_PIN = "hash-pin"
    """A requirement pinned with ``==`` and ``--hash`` values that match the file, as in
    every file ``safe-pip lock`` writes."""
    COMMAND = "command"
    """``safe-pip trust add``."""
    STORE = "store"
    """Approved on an earlier run (recorded in this store)."""


class ProjectRecord(TypedDict):
    """One approved project, as stored."""

    source: str | None
    """The source's name as shown to the user; ``None`` until first installed."""
    source_url: str | None
    """The source's URL, credentials removed: what a source change is judged by."""
    approved_at: str
    """ISO 8601, UTC."""
    how: str
    """A :class:`How` value."""
    files: dict[str, dict[str, str]]
    """version -> filename -> sha256 of every file installed."""
    listed: NotRequired[dict[str, Listing]]
    """version -> every file the source listed for that version when it was installed: a
    file listed later was added to a release already installed."""
    profiles: NotRequired[dict[str, dict[str, Any]]]
    """version -> what its wheel makes run
    (:class:`safe_pip.policy.update_review.WheelProfile`), the baseline the next update is
    compared with."""


class Listing(TypedDict):
    """The files a source listed for one version when it was installed."""

    at: str
    """When, ISO 8601, UTC."""
    files: list[str]


class ExemptionRecord(TypedDict):
    """One ``safe-pip trust allow-new``: a release let through the cooldown, and why."""

    name: str
    version: str | None
    """``None``: every version of the project."""
    reason: str
    until: str | None
    """The last day it applies (ISO date), or ``None``: until removed."""
    added_at: str


class StoreDocument(TypedDict):
    """The whole store file."""

    version: int
    projects: dict[str, ProjectRecord]
    allow_new: NotRequired[list[ExemptionRecord]]


@dataclass(frozen=True, slots=True)
class TrustedProject:
    """A read-only view of one approved project."""

    name: NormalizedName
    source: str | None
    source_url: str | None
    approved_at: datetime
    how: How
    files: Mapping[str, Mapping[str, str]]
    listed: Mapping[str, Listing] = field(default_factory=dict)
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def sha256_of(self, version: Version, filename: str) -> str | None:
        """The sha256 remembered for this file of this version, if it was installed."""
        return self.files.get(str(version), {}).get(filename)


@dataclass(frozen=True, slots=True)
class Remembered:
    """One installed file to record, and how its project was approved."""

    name: NormalizedName
    version: Version
    filename: str
    sha256: str
    source: SourceSpec
    how: How
    listed: tuple[str, ...] = ()
    """Every file the source lists for this version now (empty: not known)."""
    profile: Mapping[str, Any] | None = None
    """What the installed wheel makes run, for the next update's review."""


def parse_exemption(spec: str, reason: str, until: str | None, origin: str) -> Exemption:
    """An exemption from ``NAME[==VERSION]``, a reason and an optional ISO date.

    :raises ValueError: the spec, the date or the reason is malformed (the message says
        which).
    """
    name, sep, version_text = spec.strip().partition("==")
    if not name.strip() or (sep and not version_text.strip()):
        msg = f"expected NAME or NAME==VERSION, not {spec!r}"
        raise ValueError(msg)
    try:
        version = Version(version_text) if sep else None
    except InvalidVersion as exc:
        msg = f"{version_text!r} is not a version"
        raise ValueError(msg) from exc
    if not reason.strip():
        msg = f"{spec}: a reason is required; it is shown in the plan and the audit log"
        raise ValueError(msg)
    try:
        last = date.fromisoformat(until) if until else None
    except ValueError as exc:
        msg = f"{spec}: until {until!r} is not a date (YYYY-MM-DD)"
        raise ValueError(msg) from exc
    return Exemption(canonicalize_name(name), version, reason.strip(), last, origin)


def _source_url(source: SourceSpec) -> str:
    # SourceSpec.url has its credentials split off already; redact again so that no
    # credential reaches the store even from a spec built some other way.
    return redact_url(source.url)


class TrustStore:
    """The trust store of one safe-pip home."""

    def __init__(self, home: Path) -> None:
        self.path = home / "trust.json"
        self._lock_path = home / "locks" / "trust.lock"

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[NormalizedName, TrustedProject]:
        """Every approved project (empty when there is no store yet).

        :raises TrustStoreError: the file exists but cannot be read or understood.
        """
        document = self._read()
        return {
            canonicalize_name(name): _view(name, record)
            for name, record in document["projects"].items()
        }

    def exemptions(self) -> tuple[Exemption, ...]:
        """Every ``allow-new`` exemption in the store, expired ones included.

        :raises TrustStoreError: the file exists but cannot be read or understood.
        """
        return tuple(
            Exemption(
                canonicalize_name(item["name"]),
                Version(item["version"]) if item["version"] else None,
                item["reason"],
                date.fromisoformat(item["until"]) if item["until"] else None,
            )
            for item in self._read().get("allow_new", [])
        )

    def _read(self) -> StoreDocument:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": STORE_VERSION, "projects": {}}
        except OSError as exc:
            raise self._broken(f"it cannot be read ({exc.strerror or exc})") from exc
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise self._broken(f"it is not valid JSON ({exc})") from exc
        return _checked(raw, self._broken)

    def _broken(self, reason: str) -> TrustStoreError:
        msg = (
            f"The trust store {self.path} is unusable: {reason}. safe-pip left it untouched "
            f"and will not replace it, since it holds your approvals and the hashes of "
            f"installed files. Repair it, or move it aside (mv {self.path} "
            f"{self.path}.broken) to start a new one; every project is then first-seen again."
        )
        return TrustStoreError(msg)

    # -- writing -------------------------------------------------------------------------

    def update(self, change: Callable[[dict[str, ProjectRecord]], _T]) -> _T:
        """Apply ``change`` to the projects under the store's lock and write the result.

        :raises TrustStoreError: the store cannot be read or written.
        """
        return self._update_document(lambda document: change(document["projects"]))

    def _update_document(self, change: Callable[[StoreDocument], _T]) -> _T:
        # Imported here: every install reads the store, and writing loads tempfile.
        from safe_pip.atomic import write_json_atomic

        with file_lock(self._lock_path):
            document = self._read()
            result = change(document)
            try:
                write_json_atomic(self.path, document)
            except OSError as exc:
                msg = f"The trust store {self.path} cannot be written: {exc}"
                raise TrustStoreError(msg) from exc
            return result

    def record(self, installed: Sequence[Remembered]) -> None:
        """Remember installed files, and the approval and source of their projects."""
        if installed:
            self.update(lambda projects: _record(projects, installed))

    def approve(self, names: Iterable[str], how: How) -> list[NormalizedName]:
        """Approve projects before they are installed (``safe-pip trust add``); returns the
        names that were not approved yet."""
        wanted = sorted({canonicalize_name(name) for name in names})

        def change(projects: dict[str, ProjectRecord]) -> list[NormalizedName]:
            added = [name for name in wanted if name not in projects]
            for name in added:
                projects[name] = ProjectRecord(
                    source=None, source_url=None, approved_at=utc_now(), how=how.value, files={}
                )
            return added

        return self.update(change)

    def remove(self, names: Iterable[str]) -> list[NormalizedName]:
        """Drop projects (their approval and remembered hashes); returns those dropped."""
        wanted = sorted({canonicalize_name(name) for name in names})

        def change(projects: dict[str, ProjectRecord]) -> list[NormalizedName]:
            return [name for name in wanted if projects.pop(name, None) is not None]

        return self.update(change)

    def forget(self, name: str, version: Version) -> dict[str, str]:
        """Drop the remembered hashes and listing of one version; returns the hashes
        (empty: none were)."""
        key = canonicalize_name(name)

        def change(projects: dict[str, ProjectRecord]) -> dict[str, str]:
            record = projects.get(key)
            if record is None:
                return {}
            record.get("listed", {}).pop(str(version), None)
            record.get("profiles", {}).pop(str(version), None)
            return record["files"].pop(str(version), {})

        return self.update(change)

    def allow_new(self, exemption: Exemption) -> None:
        """Add an exemption from the cooldown (one per name and version: a new one replaces
        the old).

        :raises TrustStoreError: the store cannot be read or written.
        """
        item = ExemptionRecord(
            name=exemption.name,
            version=None if exemption.version is None else str(exemption.version),
            reason=exemption.reason,
            until=None if exemption.until is None else exemption.until.isoformat(),
            added_at=utc_now(),
        )

        def change(document: StoreDocument) -> None:
            kept = [
                old
                for old in document.get("allow_new", [])
                if (old["name"], old["version"]) != (item["name"], item["version"])
            ]
            document["allow_new"] = [*kept, item]

        self._update_document(change)


def _record(projects: dict[str, ProjectRecord], installed: Sequence[Remembered]) -> None:
    for item in installed:
        record = projects.get(item.name)
        if record is None or item.how is not How.STORE:
            # A new approval (first-seen, or a source change approved again) replaces the
            # old one; the hashes of earlier versions stay.
            record = ProjectRecord(
                source=item.source.name,
                source_url=_source_url(item.source),
                approved_at=utc_now(),
                how=item.how.value,
                files=record["files"] if record is not None else {},
            )
            projects[item.name] = record
        elif record["source_url"] is None:
            # Approved by ``safe-pip trust add``: the first install names the source.
            record["source"] = item.source.name
            record["source_url"] = _source_url(item.source)
        record["files"].setdefault(str(item.version), {})[item.filename] = item.sha256
        if item.listed:
            record.setdefault("listed", {})[str(item.version)] = Listing(
                at=utc_now(), files=sorted(item.listed)
            )
        if item.profile is not None:
            record.setdefault("profiles", {})[str(item.version)] = dict(item.profile)


def _checked(raw: Any, broken: Callable[[str], TrustStoreError]) -> StoreDocument:
    """The document, if it has the shape of this store version."""
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), int):
        raise broken("it has no version number")
    if raw["version"] > STORE_VERSION:
        raise broken(
            f"it is version {raw['version']}, written by a newer safe-pip (this one reads "
            f"version {STORE_VERSION}); upgrade safe-pip"
        )
    if raw["version"] != STORE_VERSION or not isinstance(raw.get("projects"), dict):
        raise broken("it does not have the shape of a safe-pip trust store")
    for name, record in raw["projects"].items():
        problem = _record_problem(record)
        if problem:
            raise broken(f"the entry for {name!r} {problem}")
    if not _exemptions_ok(raw.get("allow_new", [])):
        raise broken("its allow_new exemptions are malformed")
    document: StoreDocument = raw  # type: ignore[assignment]  # checked field by field above
    return document


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "is not a table"
    if not (_optional_str(record.get("source")) and _optional_str(record.get("source_url"))):
        return "has a malformed source"
    if not isinstance(record.get("approved_at"), str):
        return "has no approval time"
    try:
        datetime.fromisoformat(record["approved_at"])
        How(record.get("how"))
    except ValueError:
        return "has a malformed approval time or kind"
    files = record.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(by_name, dict)
        and all(isinstance(f, str) and isinstance(h, str) for f, h in by_name.items())
        for by_name in files.values()
    ):
        return "has malformed file hashes"
    if not _listings_ok(record.get("listed", {})):
        return "has malformed file listings"
    profiles = record.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        return "has malformed release profiles"
    return None


def _listings_ok(listed: Any) -> bool:
    return isinstance(listed, dict) and all(
        isinstance(item, dict)
        and isinstance(item.get("at"), str)
        and isinstance(item.get("files"), list)
        and all(isinstance(name, str) for name in item["files"])
        for item in listed.values()
    )


def _exemptions_ok(items: Any) -> bool:
    if not isinstance(items, list):
        return False
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return False
        if not (isinstance(item.get("reason"), str) and isinstance(item.get("added_at"), str)):
            return False
        try:
            parse_exemption(
                item["name"] + (f"=={item['version']}" if item.get("version") else ""),
                item["reason"],
                item.get("until"),
                "trust store",
            )
        except (ValueError, TypeError):
            return False
    return True


def _view(name: str, record: ProjectRecord) -> TrustedProject:
    return TrustedProject(
        name=canonicalize_name(name),
        source=record["source"],
        source_url=record["source_url"],
        approved_at=datetime.fromisoformat(record["approved_at"]),
        how=How(record["how"]),
        files=record["files"],
        listed=record.get("listed", {}),
        profiles=record.get("profiles", {}),
    )
