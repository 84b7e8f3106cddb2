"""pip's requests for a listed file: its core metadata while resolving, or the whole file
when its code is about to run (installed or built).

Each is served from the verified cache only, and refused if it requires a direct URL the
user did not give (:mod:`~safe_pip.gateway.direct_urls`).
"""

from __future__ import annotations

from collections.abc import Collection
from http import HTTPStatus
from typing import TYPE_CHECKING

from safe_pip.distfiles import read_metadata
from safe_pip.gateway.direct_urls import check_direct_urls
from safe_pip.gateway.listener import NOT_FOUND, Reply
from safe_pip.models import DistKind

if TYPE_CHECKING:
    from safe_pip.gateway.prefetch import Prefetcher
    from safe_pip.gateway.served import BeforeDownload, FileSource, ServedFile, ServedLedger

__all__ = ["FileRequests"]

_BYTES = "application/octet-stream"


class FileRequests:
    """Answers pip's requests for the files its pages listed."""

    def __init__(
        self,
        ledger: ServedLedger,
        prefetcher: Prefetcher,
        fetcher: FileSource,
        approved_urls: Collection[str],
        before_download: BeforeDownload | None,
    ) -> None:
        self._ledger = ledger
        self._prefetcher = prefetcher
        self._fetcher = fetcher
        self._approved_urls = approved_urls
        self._before_download = before_download

    def reply(self, sha256: str, *, metadata: bool) -> Reply:
        """The file listed with ``sha256``, or only its core metadata.

        :raises SafePipError: a source failed, or the file is refused.
        """
        served = self._ledger.file(sha256)
        if served is None:
            return NOT_FOUND
        if metadata:
            data = self._prefetcher.metadata(served).result()
            check_direct_urls(served.file, data, self._approved_urls)
            return Reply(HTTPStatus.OK, _BYTES, data)
        return self._whole_file(served)

    def _whole_file(self, served: ServedFile) -> Reply:
        wheel = served.file.kind is DistKind.WHEEL
        if self._before_download is not None:
            # The metadata pip read while resolving, not fetched again.
            self._before_download(
                served, self._prefetcher.metadata(served).result() if wheel else b""
            )
        path = self._fetcher.materialize(served.file, served.source)
        if wheel:
            try:
                data = read_metadata(path)
            except ValueError:
                data = b""  # not a wheel: inspection refuses it if it is ever planned
            check_direct_urls(served.file, data, self._approved_urls)
        return Reply(HTTPStatus.OK, _BYTES, path=path)
