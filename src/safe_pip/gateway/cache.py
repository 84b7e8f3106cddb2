"""A content-addressed file cache: a file is stored under its sha256 only after it was verified.

Downloads are written to a temporary file in the cache, hashed while they stream, and
renamed into place only when the digest matches; a partial or wrong download is deleted
and never seen by anyone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from safe_pip.errors import HashMismatch, InstallError

__all__ = ["MAX_FILENAME_BYTES", "FileCache", "is_sha256", "sha256_file"]

_SHA256_HEX = frozenset("0123456789abcdef")
MAX_FILENAME_BYTES = 255
"""The longest file name (in UTF-8 bytes) the cache stores a file under: the limit of
every common file system. A source's page may list longer ones; they cannot be files."""
_PART_PREFIX = ".part-"
# A partial file untouched this long was abandoned (an interrupted command exits without
# waiting for its downloads); one being written is touched with every chunk.
_ABANDONED_AFTER = 3600.0


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a sha256 digest as the cache and pip spell it: 64 lowercase hex."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _SHA256_HEX


def _sweep_abandoned(directory: Path) -> None:
    """Delete the partial files of downloads abandoned in ``directory`` (one file's digest:
    they are found when that file is stored again, the likely next thing after an
    interrupt)."""
    limit = time.time() - _ABANDONED_AFTER
    for part in directory.glob(_PART_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < limit:
                part.unlink()


class FileCache:
    """Files stored by sha256 under ``root``; safe for threads and concurrent processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._stored: set[str] = set()

    def stored_here(self, sha256: str) -> bool:
        """Whether this command stored the file itself (it was not cached before)."""
        return sha256 in self._stored

    def path_for(self, sha256: str, filename: str) -> Path:
        """Where the file with this digest lives (whether or not it is there yet).

        The file keeps its own name inside a directory named by its digest, so that
        tools which read a wheel's name from its path (pypa/installer) work on it.
        """
        if not is_sha256(sha256):
            msg = f"not a sha256 digest: {sha256!r}"
            raise ValueError(msg)
        if filename != Path(filename).name or filename.startswith(".") or "\\" in filename:
            msg = f"not a plain file name: {filename!r}"
            raise ValueError(msg)
        if len(filename.encode()) > MAX_FILENAME_BYTES:
            msg = f"a file name longer than {MAX_FILENAME_BYTES} bytes: {filename[:60]!r}..."
            raise ValueError(msg)
        return self.root / "files" / "sha256" / sha256[:2] / sha256[2:] / filename

    def lookup(self, sha256: str, filename: str) -> Path | None:
        """The cached file, re-verified, or ``None``. A corrupt entry is deleted."""
        path = self.path_for(sha256, filename)
        if not path.is_file():
            return None
        if sha256_file(path) != sha256:
            path.unlink(missing_ok=True)
            return None
        return path

    def lock(self, sha256: str) -> threading.Lock:
        """A lock that keeps two threads from downloading the same file at once."""
        with self._locks_guard:
            return self._locks.setdefault(sha256, threading.Lock())

    def store(
        self,
        chunks: Iterable[bytes],
        sha256: str,
        filename: str,
        *,
        label: str,
        on_chunk: Callable[[int], None] | None = None,
    ) -> Path:
        """Write ``chunks`` into the cache if and only if they hash to ``sha256``.

        :param label: names the file in a mismatch message.
        :param on_chunk: called with each chunk's size (progress reporting).
        :raises HashMismatch: the bytes do not match; nothing is kept.
        """
        final = self.path_for(sha256, filename)
        final.parent.mkdir(parents=True, exist_ok=True)
        _sweep_abandoned(final.parent)
        digest = hashlib.sha256()
        fd, temp_name = tempfile.mkstemp(dir=final.parent, prefix=_PART_PREFIX)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    if on_chunk is not None:
                        on_chunk(len(chunk))
            actual = digest.hexdigest()
            if actual != sha256:
                msg = (
                    f"{label}: the downloaded file does not match its sha256.\n"
                    f"    Expected sha256 {sha256}\n"
                    f"         Got        {actual}\n"
                    f"Nothing was installed. The file may have been replaced or corrupted "
                    f"on the way; do not work around this unless you know why it changed."
                )
                raise HashMismatch(msg)
            temp.replace(final)
            self._stored.add(sha256)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return final

    def ensure_writable(self) -> None:
        """Create the cache root, failing with a clear message if that is impossible."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"Cannot create the cache directory {self.root}: {exc.strerror}"
            raise InstallError(msg) from exc
