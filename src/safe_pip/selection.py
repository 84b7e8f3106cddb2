"""Choose the one source that serves a project, and the files of it pip may see.

A project is served from exactly one source: its pin if a settings file pins it, else the
first source, in priority order, that knows the name. Sources are asked one at a time, so a
private name answered by a private source is never sent to a public one.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName
from packaging.version import Version

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

__all__ = ["Compatibility", "FilePolicy", "Pin", "SourceSelector", "filter_files"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compatibility:
    """What the target can install, so files pip would discard anyway are never sent.

    Pruning them makes the pages pip parses a fraction of the size (a project with
    thousands of wheels has a few dozen for one interpreter) without changing pip's choice:
    the tags are the target's own ``packaging.tags.sys_tags()``, as pip computes them.
    """

    tags: Mapping[Tag, int]
    """Every supported tag and its preference (lower is better)."""
    python: Version | None = None
    """The target's Python version for ``Requires-Python`` (``None``: ignore it)."""

    @classmethod
    def from_tags(cls, tags: Sequence[str], python: Version | None) -> Compatibility:
        """From the target's tag list, most preferred first."""
        ranks: dict[Tag, int] = {}
        for rank, text in enumerate(tags):
            for tag in parse_tag(text):
                ranks.setdefault(tag, rank)
        return cls(ranks, python)

    def rank(self, file: IndexFile) -> int | None:
        """The file's preference (lower is better), or ``None`` if the target cannot use it."""
        if self.python is not None and not _python_ok(file.requires_python, self.python):
            return None
        if file.kind is not DistKind.WHEEL:
            return len(self.tags)
        ranks = [self.tags[tag] for tag in file.tags if tag in self.tags]
        return min(ranks) if ranks else None


@functools.lru_cache(maxsize=1024)
def _specifier(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        # pip ignores a Requires-Python it cannot parse; so does safe-pip.
        return None


def _python_ok(requires_python: str | None, python: Version) -> bool:
    specifier = _specifier(requires_python) if requires_python else None
    return specifier is None or specifier.contains(python, prereleases=True)


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """Which files of a project pip may see."""

    allow_sdist: NameSet = field(default_factory=NameSet)
    cutoff: datetime | None = None
    """Files uploaded after this moment are withheld (``--min-release-age``)."""
    compatibility: Compatibility | None = None
    """The target's tags; ``None`` when pip resolves for another platform."""


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
    if policy.compatibility is not None and policy.compatibility.rank(file) is None:
        return DropReason.INCOMPATIBLE
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
        self._asking: dict[NormalizedName, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def policy(self) -> FilePolicy:
        """The file policy every project is filtered with."""
        return self._policy

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
            asking = self._asking.setdefault(name, threading.Lock())
        # One question per project: pip's request waits for a prefetch of the same name
        # rather than asking every source a second time.
        with asking:
            with self._lock:
                if name in self._answers:
                    return self._answers[name]
            answer = self._ask(name)
            with self._lock:
                self._answers[name] = answer
            return answer

    def known(self, name: NormalizedName) -> bool:
        """Whether ``name`` was asked about already (or is being asked now)."""
        with self._lock:
            return name in self._answers or name in self._asking

    def _ask(self, name: NormalizedName) -> ServedProject | None:
        for source in self.candidates(name):
            page = self._upstream.project_page(source, name)
            if page is not None:
                logger.info("%s: served by %s", name, source)
                return filter_files(page, self._policy)
            logger.debug("%s: not known to %s", name, source)
        return None
