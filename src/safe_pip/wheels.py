"""Small readers for wheel archives, shared by the gateway and the inspect stage."""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["dist_info_dirs", "read_metadata"]


def dist_info_dirs(archive: zipfile.ZipFile) -> list[str]:
    """The top-level ``*.dist-info`` directories of a wheel (there must be exactly one)."""
    tops = {name.split("/", 1)[0] for name in archive.namelist() if "/" in name}
    return sorted(top for top in tops if top.endswith(".dist-info"))


def read_metadata(path: Path) -> bytes:
    """The ``METADATA`` file of a wheel.

    :raises ValueError: the archive is not a wheel with exactly one ``.dist-info``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            dirs = dist_info_dirs(archive)
            if len(dirs) != 1:
                msg = f"expected one .dist-info directory, found {len(dirs)}"
                raise ValueError(msg)
            return archive.read(f"{dirs[0]}/METADATA")
    except (zipfile.BadZipFile, KeyError) as exc:
        msg = f"not a readable wheel: {exc}"
        raise ValueError(msg) from exc
