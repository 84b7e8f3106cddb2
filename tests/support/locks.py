"""Which process waits for which file lock, as the kernel tells it (Linux ``/proc/locks``):
a deterministic sign that a process is blocked, where a pause would only make it likely."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROC_LOCKS", "waits_for_lock"]

PROC_LOCKS = Path("/proc/locks")


def waits_for_lock(pid: int, path: Path) -> bool:
    """Whether process ``pid`` is blocked waiting for an ``flock`` on the file ``path``."""
    found = path.stat()
    # The kernel names a file as MAJOR:MINOR:INODE, the device numbers in hex.
    file_id = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    for line in PROC_LOCKS.read_text().splitlines():
        # A waiter: "1: -> FLOCK  ADVISORY  WRITE 4711 fe:00:2189203 0 EOF"
        fields = line.split()
        if fields[1:3] == ["->", "FLOCK"] and fields[5:7] == [str(pid), file_id]:
            return True
    return False
