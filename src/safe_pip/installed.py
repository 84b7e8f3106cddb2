"""What is installed in a scheme already, read from its ``*.dist-info`` directories."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

__all__ = ["InstalledDist", "find_installed"]


@dataclass(frozen=True, slots=True)
class InstalledDist:
    """An installed distribution: its metadata directory and the site directory holding it."""

    name: NormalizedName
    version: str
    metadata_dir: Path

    @property
    def site_dir(self) -> Path:
        """The directory RECORD paths are relative to."""
        return self.metadata_dir.parent

    @property
    def has_record(self) -> bool:
        """Whether it was installed from a wheel with a RECORD (else: a legacy egg-info)."""
        return (self.metadata_dir / "RECORD").is_file()

    def recorded_files(self) -> list[Path]:
        """Absolute, normalized paths of every file its installed RECORD lists.

        :raises ValueError: the RECORD is missing or unreadable.
        """
        record = self.metadata_dir / "RECORD"
        try:
            with record.open(encoding="utf-8", newline="") as stream:
                rows = list(csv.reader(stream))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            msg = f"cannot read {record}: {exc}"
            raise ValueError(msg) from exc
        paths = []
        for row in rows:
            if row and row[0]:
                paths.append(Path(os.path.normpath(self.site_dir / row[0])))
        return paths


def _parse_dir_name(entry: Path) -> tuple[NormalizedName, str] | None:
    stem = entry.name.rsplit(".", 1)[0]
    name, sep, version = stem.rpartition("-")
    if not sep:
        return None
    # An egg-info directory may carry a "-pyX.Y" suffix after the version.
    if entry.suffix == ".egg-info" and "-" in name and version.startswith("py"):
        name, _, version = name.rpartition("-")
    return canonicalize_name(name), version


def _scan(site_dir: Path) -> Iterator[InstalledDist]:
    if not site_dir.is_dir():
        return
    for entry in sorted(site_dir.iterdir()):
        if entry.suffix not in (".dist-info", ".egg-info"):
            continue
        parsed = _parse_dir_name(entry)
        if parsed is not None:
            yield InstalledDist(parsed[0], parsed[1], entry)


def find_installed(site_dirs: Iterable[Path]) -> dict[NormalizedName, list[InstalledDist]]:
    """Every distribution in the given site directories, by normalized name."""
    found: dict[NormalizedName, list[InstalledDist]] = {}
    for site_dir in site_dirs:
        for dist in _scan(site_dir):
            found.setdefault(dist.name, []).append(dist)
    return found
