"""Fetch: bring every planned file into the content-addressed cache, verified, in parallel.

The gateway uses the same :meth:`Fetcher.materialize` when pip asks it for a file, so a
file pip downloaded while resolving is never downloaded a second time.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from packaging.utils import NormalizedName

from safe_pip.distfiles import read_metadata
from safe_pip.errors import HashMismatch, NetworkError, UnsafeWheel
from safe_pip.gateway.cache import FileCache, sha256_file
from safe_pip.gateway.sources import FileReader
from safe_pip.models import IndexFile, PlannedDist, SourceSpec
from safe_pip.policy.hashes import HashPin, check_pins
from safe_pip.reporting import NullReporter, Reporter

__all__ = ["Fetcher"]

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class Fetcher:
    """Downloads files once, verifies them against their sha256, and keeps them in the cache."""

    def __init__(
        self,
        upstream: FileReader,
        cache: FileCache,
        *,
        retries: int = 5,
        max_workers: int = 8,
    ) -> None:
        self._upstream = upstream
        self._cache = cache
        self._retries = retries
        self._max_workers = max_workers

    def materialize(
        self, file: IndexFile, source: SourceSpec | None, reporter: Reporter | None = None
    ) -> Path:
        """The verified file in the cache, downloading it if needed.

        :raises HashMismatch: the bytes differ from the listed sha256.
        :raises NetworkError: the download failed after retries.
        """
        reporter = reporter or NullReporter()
        if file.sha256 is None:
            msg = f"{file.filename} has no sha256; safe-pip installs no unverified file."
            raise HashMismatch(msg)
        with self._cache.lock(file.sha256):
            cached = self._cache.lookup(file.sha256, file.filename)
            if cached is not None:
                # Downloaded by this command already (pip fetched it while resolving): it
                # was downloaded, not "cached" from an earlier run.
                fresh = self._cache.stored_here(file.sha256)
                if fresh:
                    reporter.download_started(file.filename, file.size)
                reporter.download_finished(file.filename, cached=not fresh)
                return cached
            return self._download(file, file.sha256, source, reporter)

    def _download(
        self, file: IndexFile, sha256: str, source: SourceSpec | None, reporter: Reporter
    ) -> Path:
        def attempt() -> Path:
            reporter.download_started(file.filename, file.size)
            with self._upstream.open_stream(source, file.url) as chunks:
                return self._cache.store(
                    chunks,
                    sha256,
                    file.filename,
                    label=f"{file.project} {file.version} ({file.filename})",
                    on_chunk=lambda size: reporter.download_advanced(file.filename, size),
                )

        path = self._retrying(file.filename, attempt)
        reporter.download_finished(file.filename, cached=False)
        return path

    def _retrying(self, filename: str, attempt: Callable[[], _T]) -> _T:
        """``attempt()``, made again after a network failure, up to the retries allowed.

        :raises NetworkError: the last attempt failed.
        """
        failures = 0
        while True:
            try:
                return attempt()
            except NetworkError:
                if failures >= self._retries:
                    raise
                failures += 1
                logger.info("retrying download of %s (attempt %d)", filename, failures + 1)

    def metadata(self, file: IndexFile, source: SourceSpec | None) -> bytes:
        """The core metadata of a wheel, as cheaply as it can be had safely.

        From the cached wheel if it is there; else the PEP 658 ``.metadata`` file the
        source lists (verified when the source gave its hash, and compared with the wheel
        by the inspect stage either way); else the whole wheel, verified. A source that
        lists no metadata file is not asked for one: the miss can cost more than the wheel.
        """
        if file.sha256 is not None:
            cached = self._cache.lookup(file.sha256, file.filename)
            if cached is not None:
                return _wheel_metadata(cached, file)
        if not file.core_metadata:
            return _wheel_metadata(self.materialize(file, source), file)
        data = self._upstream.read_optional(source, file.url + ".metadata")
        if data is not None:
            if file.core_metadata_sha256 is not None:
                actual = hashlib.sha256(data).hexdigest()
                if actual != file.core_metadata_sha256.lower():
                    msg = (
                        f"{file.project} {file.version}: the metadata file of {file.filename} "
                        f"does not match the sha256 its source lists (expected "
                        f"{file.core_metadata_sha256}, got {actual}). Nothing was installed."
                    )
                    raise HashMismatch(msg)
            return data
        return _wheel_metadata(self.materialize(file, source), file)

    def store_local(self, path: Path, sha256: str | None, label: str) -> Path:
        """Copy a local wheel the user named into the cache, so the bytes checked are the
        bytes installed even if the original changes meanwhile."""
        expected = sha256 or sha256_file(path)
        with path.open("rb") as stream:
            chunks = iter(lambda: stream.read(1 << 20), b"")
            return self._cache.store(chunks, expected, path.name, label=label)

    def fetch_url(self, url: str, filename: str, label: str) -> Path:
        """A file the user named by URL, downloaded (with the same client, retries and
        network settings as every source file) into the cache under the sha256 of the
        bytes that arrived: pip is then handed this copy, never the URL.

        :raises NetworkError: the download failed after retries.
        """
        with tempfile.TemporaryDirectory(prefix="safe-pip-url-") as temp:
            path = Path(temp) / filename

            def attempt() -> str:
                # Hashed as it arrives: the copy into the cache need not read it twice.
                digest = hashlib.sha256()
                with self._upstream.open_stream(None, url) as chunks, path.open("wb") as out:
                    for chunk in chunks:
                        digest.update(chunk)
                        out.write(chunk)
                return digest.hexdigest()

            return self.store_local(path, self._retrying(filename, attempt), label)

    def fetch_all(
        self,
        dists: Sequence[PlannedDist],
        reporter: Reporter | None = None,
        pins: Mapping[NormalizedName, Sequence[HashPin]] | None = None,
    ) -> dict[NormalizedName, Path]:
        """Fetch every wheel and sdist of the plan in parallel; local projects are skipped.

        Each file is verified against its index's sha256 and then, cached or not, against
        the user's ``--hash`` pins for its project.

        :param pins: the user's pins by project
            (:func:`safe_pip.policy.hashes.pins_by_project`).
        :raises HashMismatch: a file's bytes differ from its sha256 or from a pin; no partial
            file is kept.
        :raises NetworkError: a download failed.
        """
        reporter = reporter or NullReporter()
        work = [d for d in dists if d.file is not None or (d.local_path and d.local_sha256)]
        results: dict[NormalizedName, Path] = {}
        if not work:
            return results
        pool = ThreadPoolExecutor(max_workers=min(self._max_workers, len(work)))
        interrupted = False
        try:
            futures = {dist.name: pool.submit(self._fetch_one, dist, reporter) for dist in work}
            for name, future in futures.items():
                results[name] = future.result()
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            # On an interrupt, downloads in flight may wait on a source that never answers:
            # they are abandoned, not waited for (the command line exits without them).
            pool.shutdown(wait=not interrupted, cancel_futures=interrupted)
        check_pins(results, work, pins or {})
        return results

    def _fetch_one(self, dist: PlannedDist, reporter: Reporter) -> Path:
        if dist.file is not None:
            return self.materialize(dist.file, dist.source, reporter)
        return self.store_local(Path(dist.local_path or ""), dist.local_sha256, dist.label)


def _wheel_metadata(path: Path, file: IndexFile) -> bytes:
    try:
        return read_metadata(path)
    except ValueError as exc:
        msg = f"{file.project} {file.version}: {file.filename} is not a valid wheel: {exc}"
        raise UnsafeWheel(msg) from exc
