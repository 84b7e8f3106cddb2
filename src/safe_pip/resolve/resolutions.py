"""Remembered resolutions: pip's plan reused while nothing it decided from has changed.

pip's resolver decides from what it is given: the requirement lines and options, the target
interpreter and what is installed there, and the index pages it reads through the gateway
(each page names every file with its sha256, so the metadata pip reads is fixed by it too).
A resolution is kept under a key made of all but the pages, with a digest of each page pip
read. On a later run with the same key those pages are asked of the sources again, in
parallel; if every one is exactly as pip saw it, pip would decide the same again, and its
report is reused without starting pip. A new release, a yank, a changed cooldown or any other
difference runs pip as usual. So does a question whose inputs the key cannot see: local
paths, URLs and editables, ``--target``/``--prefix``/``--user``/``--root``, and files named
by ``--group`` or ``--requirements-from-script``. Nothing downstream is skipped: the plan is
reviewed, fetched, verified and inspected as if pip had just made it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.atomic import write_json_atomic
from safe_pip.resolve.requirement_line import RequirementLine, names_index_project

if TYPE_CHECKING:
    from safe_pip.gateway.server import Gateway
    from safe_pip.target import TargetEnvironment

__all__ = ["Resolutions"]

logger = logging.getLogger(__name__)

_FORMAT = 1
_GATEWAY = "safe-pip-gateway:"
"""Stands for the gateway's address in a kept report: each run has its own port and token."""
_UNSEEN_OPTIONS = ("--group", "--requirements-from-script")
_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link")


@dataclass(frozen=True, slots=True)
class Resolutions:
    """The kept resolution of one question (which may not exist yet)."""

    path: Path

    @classmethod
    def for_question(
        cls,
        directory: Path | None,
        lines: Sequence[RequirementLine],
        options: Sequence[str],
        target: TargetEnvironment,
    ) -> Resolutions | None:
        """Where the resolution of this question is kept; ``None`` when it must not be
        reused (no cache directory, or inputs the key cannot see)."""
        if directory is None or target.markers is None or not _seen_whole(lines, options):
            return None
        # Where the environment lives changes nothing pip decides: a fresh venv of the same
        # interpreter with the same contents is the same question.
        prefix = str(target.prefix)

        def placed(path: str) -> str:
            return "{prefix}" + path[len(prefix) :] if path.startswith(prefix) else path

        question = {
            "format": _FORMAT,
            "pip": version("pip"),
            "lines": [[line.to_pip_line(), line.constraint] for line in lines],
            "options": list(options),
            "interpreter": str(target.base_prefix),
            "venv": target.is_venv,
            "version": list(target.version),
            "tags": list(target.tags or ()),
            "markers": dict(target.markers),
            "sys_path": [placed(path) for path in target.sys_path],
            "installed": [placed(path) for path in _installed(target.sys_path)],
        }
        key = hashlib.sha256(json.dumps(question, sort_keys=True).encode()).hexdigest()
        return cls(directory / f"{key}.json")

    def reuse(self, gateway: Gateway) -> dict[str, Any] | None:
        """pip's report from last time, if every page pip read then is unchanged.

        :raises SourceError: a source failed (as it would have failed pip).
        """
        entry = self._read()
        if entry is None:
            return None
        pages: dict[str, str] = entry["pages"]
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="recheck") as pool:
            now = dict(zip(pages, pool.map(gateway.page_digest, pages), strict=True))
        changed = sorted(name for name in pages if now[name] != pages[name])
        if changed:
            logger.info("resolve: pages changed since the last resolution: %s", ", ".join(changed))
            return None
        report: dict[str, Any] = json.loads(
            json.dumps(entry["report"]).replace(_GATEWAY, gateway.base_url)
        )
        return report

    def remember(self, gateway: Gateway, report: dict[str, Any]) -> None:
        """Keep pip's report with a digest of every page it read; a cache, so a failure to
        write it only costs the next run a resolution."""
        pages = {name: gateway.page_digest(name) for name in gateway.asked}
        kept = json.loads(json.dumps(report).replace(gateway.base_url, _GATEWAY))
        try:
            write_json_atomic(self.path, {"format": _FORMAT, "pages": pages, "report": kept})
        except OSError as exc:
            logger.debug("resolution not kept: %s", exc)

    def _read(self) -> dict[str, Any] | None:
        try:
            entry = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        valid = (
            isinstance(entry, dict)
            and entry.get("format") == _FORMAT
            and isinstance(entry.get("pages"), dict)
            and isinstance(entry.get("report"), dict)
        )
        return entry if valid else None


def _seen_whole(lines: Sequence[RequirementLine], options: Sequence[str]) -> bool:
    """Whether the key covers everything pip would read besides the index pages."""
    if any(option.startswith(_UNSEEN_OPTIONS) for option in options):
        return False
    return all(names_index_project(line) for line in lines)


def _installed(sys_path: Sequence[str]) -> list[str]:
    """What pip finds installed: every distribution's metadata directory on the path."""
    found = []
    for entry in sys_path:
        try:
            children = list(Path(entry).iterdir())
        except OSError:
            continue
        found += [str(child) for child in children if child.name.endswith(_METADATA_SUFFIXES)]
    return sorted(found)
