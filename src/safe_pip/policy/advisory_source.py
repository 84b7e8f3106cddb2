"""Where advisories come from: one configured OSV source, fetched, cached and indexed.

The source (``--advisories URL|PATH`` or the ``advisories`` setting) is a directory or a
zip of OSV JSON files: osv.dev publishes the whole PyPI ecosystem as one zip. A URL is
downloaded through the same client as the package sources (proxy, certificates, retries),
verified (every member must be a well-formed OSV document), and indexed once by project
into the safe-pip home, with its fetch time; it is downloaded again when older than
``--advisories-max-age``.

A source that cannot be reached or read, or data older than the maximum age, is never a
silent pass: it is a warning, or with ``--require-advisories`` a failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.atomic import write_json_atomic
from safe_pip.errors import AdvisoryError
from safe_pip.gateway.network import redact_url, split_credentials, with_retries
from safe_pip.policy.advisory_index import AdvisoryDatabase, build_index
from safe_pip.policy.advisory_options import OSV_PYPI_ZIP, AdvisoryOptions

if TYPE_CHECKING:
    import zipfile

    import httpx

__all__ = ["load_advisories"]

logger = logging.getLogger(__name__)

_MAX_MEMBER = 16 << 20
"""No single advisory is anywhere near this size; a bigger member is not OSV data."""
_MAX_TOTAL = 2 << 30
_YAML_SUFFIXES = (".yaml", ".yml")


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
