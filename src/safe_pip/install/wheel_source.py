"""The wheel as pypa/installer reads it to install, each member checked as it is written.

Inspection checks that ``RECORD`` names every member with a strong hash and a size; the
bytes themselves are checked here, on the one reading of each member that is written
(DESIGN invariant 8: the check judges the bytes the installer uses). A member that does not
match is refused once installer has read it whole, before the next one is read, and the
install stage rolls back what was written. Reading every member of a large plan twice,
once to check it and once to write it, was most of the time of inspecting it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, cast

from installer.records import Hash, RecordEntry
from installer.sources import WheelFile

from safe_pip.install.inspection import describe, refusal

if TYPE_CHECKING:
    from installer.sources import WheelContentElement

    from safe_pip.errors import UnsafeWheel
    from safe_pip.models import PlannedDist

__all__ = ["InstallSource"]


class InstallSource(WheelFile):
    """The wheel installer installs: every member checked against ``RECORD`` as it is
    read, and the scripts inspection decided on (pip's versioned names) where they differ
    from what ``entry_points.txt`` declares; the file itself is installed as shipped, as pip
    does."""

    def __init__(
        self, archive: zipfile.ZipFile, dist: PlannedDist, entry_points: str | None
    ) -> None:
        super().__init__(archive)
        self._dist = dist
        self._entry_points = entry_points

    def read_dist_info(self, filename: str) -> str:
        if filename == "entry_points.txt" and self._entry_points is not None:
            return self._entry_points
        return super().read_dist_info(filename)

    def get_contents(self) -> Iterator[WheelContentElement]:
        for elements, stream, is_executable in super().get_contents():
            entry = RecordEntry.from_elements(*elements)
            if entry.hash_ is None:
                # Inspection refused every member without a hash but those installer
                # never reads (RECORD) or that RECORD cannot list (its signatures).
                yield elements, stream, is_executable
                continue
            checked = CheckedMember(stream, entry.hash_)
            yield elements, cast("BinaryIO", checked), is_executable
            if not checked.matches(entry.size):
                raise self._refused(entry.path)

    def _refused(self, member: str) -> UnsafeWheel:
        return refusal(
            [
                (
                    f"{describe(self._dist)} failed inspection",
                    [f"hash / size of {member} didn't match RECORD"],
                    "Report this to the project; do not install the file by other means.",
                )
            ]
        )


class CheckedMember:
    """A member's stream that hashes what is read through it, from its start: installer
    reads it sequentially, going back only to the start (to look at a script's first line)."""

    def __init__(self, stream: BinaryIO, expected: Hash) -> None:
        self._stream = stream
        self._expected = expected
        self._hash = hashlib.new(expected.name)
        self._size = 0
        self._read = False

    def read(self, size: int = -1) -> bytes:
        return self._counted(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._counted(self._stream.readline(size))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            # Anything else would make what was hashed differ from what is read.
            msg = "a wheel member is only read from its start"
            raise io.UnsupportedOperation(msg)
        self._hash = hashlib.new(self._expected.name)
        self._size = 0
        return self._stream.seek(0)

    def tell(self) -> int:
        return self._size

    def _counted(self, data: bytes) -> bytes:
        self._read = True
        self._hash.update(data)
        self._size += len(data)
        return data

    def matches(self, size: int | None) -> bool:
        """Whether what was read is the whole member, of the hash and size ``RECORD``
        gives; a member installer skipped (never read, so never written) matches."""
        if not self._read:
            return True
        if self._stream.read(1) or (size is not None and self._size != size):
            return False
        digest = base64.urlsafe_b64encode(self._hash.digest()).decode("ascii").rstrip("=")
        return digest == self._expected.value
