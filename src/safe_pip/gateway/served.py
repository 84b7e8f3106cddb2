"""What the gateway served pip: the projects pip asked for and the files it was shown.

pip may only download what its pages listed: a file URL of the gateway names a file by its
sha256, and the ledger is the one place that sha256 is looked up, with the source its
bytes come from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.models import IndexFile, ServedProject, SourceSpec

__all__ = ["BeforeDownload", "FileSource", "ServedFile", "ServedLedger"]


@dataclass(frozen=True, slots=True)
class ServedFile:
    """A file the gateway listed to pip, and where it really comes from."""

    file: IndexFile
    source: SourceSpec


BeforeDownload = Callable[[ServedFile, bytes], None]
"""Told of a whole file pip is about to get, with the wheel's core metadata as pip was
served it (empty for any other file); raising refuses the file."""


class FileSource(Protocol):
    """Where the gateway gets the bytes it serves, verified and cached (the fetch stage's
    :class:`~safe_pip.install.fetch.Fetcher`)."""

    def metadata(self, file: IndexFile, source: SourceSpec | None) -> bytes:
        """A wheel's core metadata."""
        ...

    def materialize(self, file: IndexFile, source: SourceSpec | None) -> Path:
        """The verified file in the cache."""
        ...


class ServedLedger:
    """The files listed to pip, by sha256, and the projects pip asked for, in order."""

    def __init__(self) -> None:
        self._files: dict[str, ServedFile] = {}
        self._asked: list[NormalizedName] = []
        self._lock = threading.Lock()

    def register(self, served: ServedProject) -> None:
        """Make the files of a page servable."""
        with self._lock:
            for file in served.served:
                if file.sha256 is not None:
                    self._files[file.sha256] = ServedFile(file, served.page.source_of(file))

    def file(self, sha256: str) -> ServedFile | None:
        """The served file with this sha256, if a page listed one."""
        with self._lock:
            return self._files.get(sha256)

    def note_asked(self, name: NormalizedName) -> None:
        """Record that pip asked for a project."""
        with self._lock:
            if name not in self._asked:
                self._asked.append(name)

    @property
    def asked(self) -> tuple[NormalizedName, ...]:
        """The projects pip asked for, in the order it first asked."""
        with self._lock:
            return tuple(self._asked)
