"""Fetch: bring every planned file into the content-addressed cache, verified, in parallel.

The gateway uses the same :meth:`Fetcher.materialize` when pip asks it for a file, so a
file pip downloaded while resolving is never downloaded a second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.install.download import Downloader
from safe_pip.install.metadata import MetadataReader
from safe_pip.policy.hashes import HashPin, check_pins
from safe_pip.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.gateway.cache import FileCache
    from safe_pip.gateway.sources import FileReader
    from safe_pip.models import IndexFile, PlannedDist, SourceSpec

__all__ = ["Fetcher"]


class Fetcher:
    """The fetch stage's one way to files: each downloaded once and verified (by a
    :class:`~safe_pip.install.download.Downloader`), a wheel's metadata (by a
    :class:`~safe_pip.install.metadata.MetadataReader`), and a plan's files in parallel."""

    def __init__(
        self,
        upstream: FileReader,
        cache: FileCache,
        *,
        retries: int = 5,
        max_workers: int = 8,
    ) -> None:
        self._downloader = Downloader(upstream, cache, retries=retries)
        self._metadata = MetadataReader(upstream, cache, self._downloader)
        self._max_workers = max_workers

    def materialize(
        self, file: IndexFile, source: SourceSpec | None, reporter: Reporter | None = None
    ) -> Path:
        """See :meth:`~safe_pip.install.download.Downloader.materialize`."""
        return self._downloader.materialize(file, source, reporter)

    def metadata(self, file: IndexFile, source: SourceSpec | None) -> bytes:
        """See :meth:`~safe_pip.install.metadata.MetadataReader.metadata`."""
        return self._metadata.metadata(file, source)

    def store_local(self, path: Path, sha256: str | None, label: str) -> Path:
        """See :meth:`~safe_pip.install.download.Downloader.store_local`."""
        return self._downloader.store_local(path, sha256, label)

    def fetch_url(self, url: str, filename: str, label: str) -> Path:
        """See :meth:`~safe_pip.install.download.Downloader.fetch_url`."""
        return self._downloader.fetch_url(url, filename, label)

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
            return self._downloader.materialize(dist.file, dist.source, reporter)
        return self._downloader.store_local(
            Path(dist.local_path or ""), dist.local_sha256, dist.label
        )
