"""Download: one file into the content-addressed cache, verified against its sha256, with
the retries allowed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from safe_pip.errors import HashMismatch, NetworkError
from safe_pip.gateway.cache import FileCache, sha256_file
from safe_pip.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from safe_pip.gateway.sources import FileReader
    from safe_pip.models import IndexFile, SourceSpec

__all__ = ["Downloader"]

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class Downloader:
    """Downloads files once, verifies them against their sha256, and keeps them in the cache."""

    def __init__(self, upstream: FileReader, cache: FileCache, *, retries: int) -> None:
        self._upstream = upstream
        self._cache = cache
        self._retries = retries

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
