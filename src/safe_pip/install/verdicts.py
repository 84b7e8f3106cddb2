"""Inspection verdicts: the wheels whose every member inspection has read and found as
``RECORD`` says, remembered by the sha256 of the whole file.

Reading every member back is most of the time of inspecting a large plan, and the same
wheels are installed again and again (each new environment, each CI run). A wheel with the
same name and sha256 holds the same bytes, so the verdict holds for it; every other check (names,
metadata against the plan, member paths, scripts) is cheap and still runs each time, since
its answer depends on the install as well as on the file.

An entry is an empty file whose name is an HMAC, under a key derived from the bytecode
store's secret key, of the check's version and the wheel's name and digest: whoever can write the
cache but not safe-pip's home cannot make inspection skip a wheel it never read. Entries
live in the bytecode store's directory, which counts, trims (least recently used first)
and purges them with the bytecode.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from contextlib import suppress
from typing import TYPE_CHECKING

from safe_pip import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from safe_pip.install.bytecode_store import BytecodeStore

__all__ = ["CHECK_VERSION", "Verdicts"]

CHECK_VERSION = 1
"""Raised whenever the check a verdict stands for (``RECORD`` against every member) becomes
stricter: every wheel is then read again. Each release of safe-pip reads them again too."""

_PURPOSE = b"safe-pip inspection verdicts"

logger = logging.getLogger(__name__)


class Verdicts:
    """The verdicts kept in ``store``'s directory, signed with a key derived from its own."""

    def __init__(self, store: BytecodeStore) -> None:
        self._store = store
        self._root = store.root / "inspected"
        self._key: bytes | None = None

    def passed(self, filename: str, sha256: str) -> bool:
        """Whether the wheel of this file name and digest passed before (the verdict then
        counts as used just now, for the trim)."""
        path = self._path(filename, sha256)
        if path is None or not os.path.lexists(path):
            return False
        with suppress(OSError):  # a read-only store is used all the same
            os.utime(path, follow_symlinks=False)
        return True

    def remember(self, filename: str, sha256: str) -> None:
        """Record that the wheel of this file name and digest passed. A store that cannot
        be written is left as it is: a verdict only ever saves time."""
        path = self._path(filename, sha256)
        if path is None:
            return
        with suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()

    def _path(self, filename: str, sha256: str) -> Path | None:
        key = self._derived_key()
        if key is None:
            return None
        # The file name too: installer reads the .dist-info directory's name from it.
        claim = f"{__version__}\0{CHECK_VERSION}\0{filename}\0{sha256}".encode()
        name = hmac.new(key, claim, hashlib.sha256).hexdigest()
        return self._root / name[:2] / name

    def _derived_key(self) -> bytes | None:
        # A key of their own: no bytecode entry's signature is ever a verdict's name.
        if self._key is None:
            try:
                secret = self._store.key
            except OSError as exc:
                logger.debug("inspection verdicts are not used: %s", exc)
                return None
            self._key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()
        return self._key
