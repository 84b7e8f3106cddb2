"""Known vulnerabilities: OSV advisories from one configured source, cached and indexed.

The source (``--advisories URL|PATH`` or the ``advisories`` setting) is a directory or a
zip of OSV JSON files: osv.dev publishes the whole PyPI ecosystem as one zip. A URL is
downloaded through the same client as the package sources (proxy, certificates, retries),
verified (every member must be a well-formed OSV document), and indexed once by project
into the safe-pip home, with its fetch time; it is downloaded again when older than
``--advisories-max-age``. A lookup then reads only the projects it asks about, so an
environment of hundreds of projects is checked in milliseconds.

A source that cannot be reached or read, or data older than the maximum age, is never a
silent pass: it is a warning, or with ``--require-advisories`` a failure.

Matching is OSV's own (https://ossf.github.io/osv-schema/): ``ECOSYSTEM`` ranges of
``introduced``/``fixed``/``last_affected`` events ordered as PEP 440 versions, and
explicit ``versions`` lists; only the ``PyPI`` ecosystem; names normalised (PEP 503);
withdrawn advisories ignored.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.atomic import write_json_atomic
from safe_pip.errors import AdvisoryError
from safe_pip.gateway.network import redact_url, split_credentials, with_retries

if TYPE_CHECKING:
    import zipfile

    import httpx

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "OSV_PYPI_ZIP",
    "Advisory",
    "AdvisoryDatabase",
    "AdvisoryOptions",
    "Affected",
    "build_index",
    "load_advisories",
    "parse_advisory",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_DAYS = 1.0
OSV_PYPI_ZIP = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
"""osv.dev's export of every PyPI advisory (PYSEC, GHSA, ...), one JSON file each."""

_ECOSYSTEM = "PyPI"
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_INDEX_FORMAT = 1
_MAX_MEMBER = 16 << 20
"""No single advisory is anywhere near this size; a bigger member is not OSV data."""
_MAX_TOTAL = 2 << 30
_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class AdvisoryOptions:
    """Where advisories come from and how strictly they are required."""

    source: str | None = None
    """A URL or a local path; ``None``: no source, nothing is checked."""
    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    required: bool = False
    """``--require-advisories``: no usable, fresh data is a failure, not a warning."""
    ignored: Mapping[str, str] = field(default_factory=dict)
    """Advisory IDs (or aliases) to ignore, each with the reason given for it."""

    def ignore_reason(self, advisory: Advisory) -> str | None:
        """Why this advisory is ignored (by its ID or any alias), or ``None``."""
        wanted = {key.upper(): reason for key, reason in self.ignored.items()}
        for name in (advisory.id, *advisory.aliases):
            if name.upper() in wanted:
                return wanted[name.upper()]
        return None


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


class _Malformed(ValueError):
    """A document that is not a well-formed OSV advisory."""


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Malformed(f"{what} must be a list of strings")
    return value


def _string(value: Any, what: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _Malformed(f"{what} must be a{' non-empty' if required else ''} string")
    return value


def _events(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise _Malformed("a range's events must be a non-empty list")
    events = []
    for event in raw:
        if not isinstance(event, dict) or len(event) != 1:
            raise _Malformed("each event must be an object with exactly one key")
        ((kind, value),) = event.items()
        if kind not in _EVENT_KINDS or not isinstance(value, str) or not value:
            raise _Malformed(f"unknown or empty event {kind!r}")
        events.append((kind, value))
    return tuple(events)


def _ranges(raw: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Malformed("ranges must be a list")
    found = []
    for item in raw:
        if not isinstance(item, dict):
            raise _Malformed("each range must be an object")
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
        raise _Malformed("affected must be a list")
    for entry in raw:
        if not isinstance(entry, dict):
            raise _Malformed("each affected entry must be an object")
        package = entry.get("package")
        if package is None:
            continue
        if not isinstance(package, dict):
            raise _Malformed("affected[].package must be an object")
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
        raise _Malformed("an OSV document must be a JSON object")
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
    except _Malformed as exc:
        raise _Malformed(f"{ident}: {exc}") from None
    if withdrawn:
        return None
    return ident, {
        name: Advisory(ident, aliases, summary, details, tuple(entries))
        for name, entries in by_project.items()
    }


# -- the index ------------------------------------------------------------------------------


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
        except _Malformed as exc:
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


# -- reading a source -----------------------------------------------------------------------


def _yaml_error(where: str, count: int) -> ValueError:
    return ValueError(
        f"{where} holds {count} OSV YAML file(s): safe-pip reads OSV JSON only (it has no "
        f"YAML parser). Use osv.dev's zip of the PyPI advisories instead: {OSV_PYPI_ZIP}"
    )


def _zip_documents(archive: zipfile.ZipFile, where: str) -> list[tuple[str, bytes]]:
    members = [info for info in archive.infolist() if not info.is_dir()]
    yaml = [info for info in members if info.filename.lower().endswith(_YAML_SUFFIXES)]
    if yaml:
        raise _yaml_error(where, len(yaml))
    documents, total = [], 0
    for info in members:
        if not info.filename.lower().endswith(".json"):
            continue
        total += info.file_size
        if info.file_size > _MAX_MEMBER or total > _MAX_TOTAL:
            msg = f"{where}: {info.filename} is too large for an OSV advisory"
            raise ValueError(msg)
        with archive.open(info) as stream:
            data = stream.read(_MAX_MEMBER + 1)
        if len(data) > _MAX_MEMBER:
            msg = f"{where}: {info.filename} is too large for an OSV advisory"
            raise ValueError(msg)
        documents.append((f"{where}:{info.filename}", data))
    return documents


def _read_zip(path: Path, where: str) -> list[tuple[str, bytes]]:
    import zipfile  # only when the data is indexed, not at every start

    try:
        with zipfile.ZipFile(path) as archive:
            return _zip_documents(archive, where)
    except (zipfile.BadZipFile, EOFError) as exc:
        msg = f"{where} is not a zip of OSV JSON files ({exc})"
        raise ValueError(msg) from exc


def _directory_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


def _read_directory(path: Path) -> list[tuple[str, bytes]]:
    files = _directory_files(path)
    yaml = [p for p in files if p.suffix.lower() in _YAML_SUFFIXES]
    if yaml:
        raise _yaml_error(str(path), len(yaml))
    return [(str(p), p.read_bytes()) for p in files if p.suffix.lower() == ".json"]


def _local_stamp(path: Path) -> tuple[str, datetime]:
    """What identifies the local data's current content, and when it last changed."""
    files = [path] if path.is_file() else _directory_files(path)
    digest = hashlib.sha256()
    newest = 0
    for item in files:
        status = item.stat()
        digest.update(f"{item}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
        newest = max(newest, status.st_mtime_ns)
    return digest.hexdigest(), datetime.fromtimestamp(newest / 1e9, UTC)


def _read_local(path: Path) -> list[tuple[str, bytes]]:
    if path.is_dir():
        return _read_directory(path)
    return _read_zip(path, str(path))


# -- the cache -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """One source's files in the cache: the index, and what is known about its fetch."""

    index: Path
    meta: Path

    def read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def database(self, source: str) -> AdvisoryDatabase | None:
        meta = self.read_meta()
        try:
            fetched = datetime.fromisoformat(meta["fetched"])
            return AdvisoryDatabase(self.index, source, fetched, int(meta["advisories"]))
        except (OSError, KeyError, TypeError, ValueError):
            return None

    def store(self, index: bytes, meta: dict[str, Any]) -> None:
        self.index.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.index.parent, prefix=".index.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(index)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temp).replace(self.index)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        write_json_atomic(self.meta, meta)

    def touch(self, meta: dict[str, Any], fetched: datetime) -> None:
        write_json_atomic(self.meta, {**meta, "fetched": fetched.isoformat()})


def _entry(home: Path, key: str) -> _Entry:
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    directory = home / "advisories"
    return _Entry(directory / f"{name}.index", directory / f"{name}.json")


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _local_path(source: str) -> Path:
    return Path(source.removeprefix("file://")).expanduser().absolute()


# -- loading ---------------------------------------------------------------------------------


def _conditional_headers(meta: Mapping[str, Any]) -> dict[str, str]:
    headers = {}
    if isinstance(meta.get("etag"), str):
        headers["If-None-Match"] = meta["etag"]
    if isinstance(meta.get("last_modified"), str):
        headers["If-Modified-Since"] = meta["last_modified"]
    return headers


def _download(
    client: httpx.Client, url: str, headers: dict[str, str], directory: Path
) -> tuple[Path | None, dict[str, str | None]]:
    """The zip, downloaded into a temporary file (``None``: not modified, 304), and the
    validators to ask with next time."""
    import httpx

    clean, user, password = split_credentials(url)
    auth = (user, password or "") if user is not None else None
    directory.mkdir(parents=True, exist_ok=True)
    with client.stream("GET", clean, headers=headers, auth=auth) as response:
        validators = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
        }
        if response.status_code == 304:
            return None, validators
        response.raise_for_status()
        if response.status_code != 200:
            msg = f"HTTP {response.status_code} (a redirect or an unexpected answer)"
            raise httpx.HTTPStatusError(msg, request=response.request, response=response)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".download.", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as stream:
                for chunk in response.iter_bytes(1 << 20):
                    stream.write(chunk)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return Path(temp), validators


def _describe(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return str(exc) or type(exc).__name__


def _refresh_remote(
    url: str,
    entry: _Entry,
    client: Callable[[], httpx.Client],
    retries: int,
    now: datetime,
) -> AdvisoryDatabase:
    """Download, verify and index the source (or confirm the cached copy is current).

    :raises AdvisoryError: it cannot be reached, or what it serves is not OSV data.
    """
    import httpx

    shown = redact_url(url)
    meta = entry.read_meta()
    cached = entry.database(shown)
    headers = _conditional_headers(meta) if cached is not None else {}
    try:
        downloaded, validators = with_retries(
            lambda: _download(client(), url, headers, entry.index.parent), retries
        )
    except (httpx.HTTPError, OSError) as exc:
        msg = f"advisory source {shown} could not be reached: {_describe(exc)}"
        raise AdvisoryError(msg) from exc
    if downloaded is None:
        entry.touch(meta, now)
        logger.info("advisories: %s unchanged since it was fetched", shown)
        return AdvisoryDatabase(entry.index, shown, now, int(meta["advisories"]))
    try:
        index, count = build_index(_read_zip(downloaded, shown))
    except ValueError as exc:
        msg = f"advisory source {shown} cannot be used: {exc}"
        raise AdvisoryError(msg) from exc
    finally:
        downloaded.unlink(missing_ok=True)
    entry.store(
        index, {"source": shown, "fetched": now.isoformat(), "advisories": count, **validators}
    )
    logger.info("advisories: fetched %d advisories from %s", count, shown)
    return AdvisoryDatabase(entry.index, shown, now, count)


def _load_local(path: Path, entry: _Entry) -> AdvisoryDatabase:
    """The local source's index, rebuilt when its files changed.

    :raises AdvisoryError: it does not exist, or is not OSV JSON data.
    """
    shown = str(path)
    if not path.exists():
        msg = f"advisory source {shown} does not exist"
        raise AdvisoryError(msg)
    try:
        stamp, changed = _local_stamp(path)
        cached = entry.database(shown)
        if cached is not None and entry.read_meta().get("stamp") == stamp:
            return cached
        index, count = build_index(_read_local(path))
        entry.store(
            index,
            {"source": shown, "fetched": changed.isoformat(), "advisories": count, "stamp": stamp},
        )
    except (OSError, ValueError) as exc:
        msg = f"advisory source {shown} cannot be used: {exc}"
        raise AdvisoryError(msg) from exc
    logger.info("advisories: indexed %d advisories from %s", count, shown)
    return AdvisoryDatabase(entry.index, shown, changed, count)


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} days"


def _fresh(cached: AdvisoryDatabase | None, options: AdvisoryOptions, now: datetime) -> bool:
    return cached is not None and cached.age(now) <= timedelta(days=options.max_age_days)


def _obtain(
    options: AdvisoryOptions,
    source: str,
    home: Path,
    client: Callable[[], httpx.Client],
    retries: int,
    now: datetime,
) -> tuple[AdvisoryDatabase | None, str | None]:
    """The data to check against, and what is wrong with it (``None``: nothing)."""
    if not _is_url(source):
        path = _local_path(source)
        try:
            database = _load_local(path, _entry(home, str(path)))
        except AdvisoryError as exc:
            return None, str(exc)
        if not _fresh(database, options, now):
            return database, (
                f"advisory data {path} was last changed {_days(database.age(now))} ago, more "
                f"than --advisories-max-age ({options.max_age_days:g} days): update it"
            )
        return database, None
    entry = _entry(home, split_credentials(source)[0])
    cached = entry.database(redact_url(source))
    if _fresh(cached, options, now):
        return cached, None
    try:
        return _refresh_remote(source, entry, client, retries, now), None
    except AdvisoryError as exc:
        if cached is None:
            return None, str(exc)
        return cached, (
            f"{exc}; using the copy fetched {_days(cached.age(now))} ago, older than "
            f"--advisories-max-age ({options.max_age_days:g} days)"
        )


def load_advisories(
    options: AdvisoryOptions,
    home: Path,
    client: Callable[[], httpx.Client],
    *,
    retries: int = 5,
    now: datetime | None = None,
) -> AdvisoryDatabase | None:
    """The advisory data to check against, fetched or refreshed as needed.

    :param home: the safe-pip home; the index is cached under ``advisories/`` there.
    :param client: the upstream client (built from the command's network options).
    :returns: ``None`` when no source is configured, or (with a warning logged) when it
        could not be reached or read: never silently.
    :raises AdvisoryError: with ``required``, when the data cannot be had or is stale.
    """
    if options.source is None:
        logger.info(
            "advisories: no source configured (--advisories or the advisories setting): "
            "known vulnerabilities are not checked"
        )
        return None
    now = now or datetime.now(UTC)
    database, problem = _obtain(options, options.source, home, client, retries, now)
    if problem is not None:
        if options.required:
            raise AdvisoryError(
                f"{problem}. --require-advisories is set, so nothing was done; fix the "
                f"source (--advisories), or run without --require-advisories"
            )
        consequence = (
            "known vulnerabilities were NOT checked"
            if database is None
            else "known vulnerabilities were checked against it"
        )
        logger.warning("%s; %s", problem, consequence)
    elif database is not None:
        logger.info(
            "advisories: %d from %s, fetched %s",
            database.count,
            database.source,
            database.fetched.isoformat(timespec="seconds"),
        )
    return database
