"""Choose the one source that serves a project, and the files of it pip may see.

A project is served from exactly one source: its pin if a settings file pins it, else the
first source, in priority order, that knows the name. Sources are asked one at a time, so a
private name answered by a private source is never sent to a public one.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from packaging.utils import NormalizedName

from safe_pip.models import (
    DistKind,
    DroppedFile,
    DropReason,
    IndexFile,
    NameSet,
    ProjectPage,
    ServedProject,
    SourceSpec,
)
from safe_pip.sources import Upstream

__all__ = ["FilePolicy", "Pin", "SourceSelector", "filter_files"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """Which files of a project pip may see."""

    allow_sdist: NameSet = field(default_factory=NameSet)
    cutoff: datetime | None = None
    """Files uploaded after this moment are withheld (``--min-release-age``)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """A project-name pattern that may only ever come from one source."""

    pattern: str
    source: SourceSpec

    def matches(self, name: NormalizedName) -> bool:
        """Whether ``name`` (normalized) matches the pattern (normalized the same way)."""
        return fnmatch.fnmatchcase(name, re.sub(r"[-_.]+", "-", self.pattern).lower())


def _drop_reason(file: IndexFile, policy: FilePolicy) -> DropReason | None:
    if file.sha256 is None:
        return DropReason.NO_SHA256
    if file.kind is DistKind.SDIST and file.project not in policy.allow_sdist:
        return DropReason.SDIST
    too_new = (
        policy.cutoff is not None
        and file.upload_time is not None
        and (file.upload_time > policy.cutoff)
    )
    if too_new:
        return DropReason.TOO_NEW
    return None


def filter_files(page: ProjectPage, policy: FilePolicy) -> ServedProject:
    """Split a project's files into those pip may see and those withheld, with reasons."""
    served: list[IndexFile] = []
    dropped: list[DroppedFile] = []
    for file in page.files:
        reason = _drop_reason(file, policy)
        if reason is None:
            served.append(file)
        else:
            dropped.append(DroppedFile(file, reason))
    if policy.cutoff is not None and any(f.upload_time is None for f in served):
        logger.info(
            "%s: %s lists files without an upload time; the minimum release age cannot "
            "be applied to them",
            page.name,
            page.source.name,
        )
    return ServedProject(page, tuple(served), tuple(dropped))


class SourceSelector:
    """Answers "which files of this project may pip see?", once per project per command."""

    def __init__(
        self,
        upstream: Upstream,
        sources: Sequence[SourceSpec],
        pins: Sequence[Pin],
        policy: FilePolicy,
    ) -> None:
        self._upstream = upstream
        self._sources = tuple(sources)
        self._pins = tuple(pins)
        self._policy = policy
        self._answers: dict[NormalizedName, ServedProject | None] = {}
        self._lock = threading.Lock()

    @property
    def answers(self) -> dict[NormalizedName, ServedProject | None]:
        """Every project asked about so far and the answer (``None``: no source knows it)."""
        with self._lock:
            return dict(self._answers)

    def candidates(self, name: NormalizedName) -> tuple[SourceSpec, ...]:
        """The sources that may serve ``name``, in the order they are asked."""
        for pin in self._pins:
            if pin.matches(name):
                return (pin.source,)
        return self._sources

    def select(self, name: NormalizedName) -> ServedProject | None:
        """The project's served files, or ``None`` when no candidate source knows it.

        :raises SourceError: a source failed; lower sources are not asked.
        """
        with self._lock:
            if name in self._answers:
                return self._answers[name]
        answer = self._ask(name)
        with self._lock:
            self._answers[name] = answer
        return answer

    def _ask(self, name: NormalizedName) -> ServedProject | None:
        for source in self.candidates(name):
            page = self._upstream.project_page(source, name)
            if page is not None:
                logger.info("%s: served by %s", name, source)
                return filter_files(page, self._policy)
            logger.debug("%s: not known to %s", name, source)
        return None
