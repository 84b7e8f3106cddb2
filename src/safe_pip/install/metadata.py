"""Metadata: a wheel's core metadata, as cheaply as it can be had safely."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.distfiles import read_metadata
from safe_pip.errors import HashMismatch, UnsafeWheel

if TYPE_CHECKING:
    from safe_pip.gateway.cache import FileCache
    from safe_pip.gateway.sources import FileReader
    from safe_pip.install.download import Downloader
    from safe_pip.models import IndexFile, SourceSpec

__all__ = ["MetadataReader"]


class MetadataReader:
    """Reads the core metadata of wheels: from the cache, the source's metadata file, or
    the whole wheel, downloaded."""

    def __init__(self, upstream: FileReader, cache: FileCache, downloader: Downloader) -> None:
        self._upstream = upstream
        self._cache = cache
        self._downloader = downloader

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
        if file.core_metadata:
            data = self._upstream.read_optional(source, file.url + ".metadata")
            if data is not None:
                _check_metadata_file(data, file)
                return data
        return _wheel_metadata(self._downloader.materialize(file, source), file)


def _check_metadata_file(data: bytes, file: IndexFile) -> None:
    """:raises HashMismatch: the metadata file differs from the sha256 its source lists."""
    if file.core_metadata_sha256 is None:
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.core_metadata_sha256.lower():
        msg = (
            f"{file.project} {file.version}: the metadata file of {file.filename} "
            f"does not match the sha256 its source lists (expected "
            f"{file.core_metadata_sha256}, got {actual}). Nothing was installed."
        )
        raise HashMismatch(msg)


def _wheel_metadata(path: Path, file: IndexFile) -> bytes:
    try:
        return read_metadata(path)
    except ValueError as exc:
        msg = f"{file.project} {file.version}: {file.filename} is not a valid wheel: {exc}"
        raise UnsafeWheel(msg) from exc
