"""Choose the one source that serves a project, and the files of it pip may see.

A project is served from exactly one source: its pin if a settings file pins it, else the
first source, in priority order, that knows the name. Sources are asked one at a time, so a
private name answered by a private source is never sent to a public one (unless that
source's ``check-public-shadows`` is on). A name a public source answers is also asked of
the private sources, and one that more than one source knows is refused unless pinned
(:mod:`safe_pip.gateway.shadows`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag

from safe_pip.errors import AmbiguousSource, SourceError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.network import redact_url
from safe_pip.gateway.shadows import (
    Elsewhere,
    ambiguity_message,
    early_questions,
    group_head,
    group_of,
    judge,
    may_ask,
    merge_pages,
    shadow_questions,
)
from safe_pip.models import (
    DistKind,
    DroppedFile,
    DropReason,
    Exemption,
    IndexFile,
    Pin,
    ProjectPage,
    ServedProject,
    Shadow,
    SourceSpec,
)

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from safe_pip.gateway.sources import ProjectLister

__all__ = ["Compatibility", "SourceSelector", "exempted", "filter_files"]

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
    if too_new and not exempted(file, policy):
        return DropReason.TOO_NEW
    return None


def exempted(file: IndexFile, policy: FilePolicy) -> Exemption | None:
    """The exemption that lets this file through the cooldown, if any."""
    return next((e for e in policy.exemptions if e.covers(file.project, file.version)), None)


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
    young = sorted({d.file.version for d in dropped if d.reason is DropReason.TOO_NEW})
    if young:
        logger.info(
            "%s: %s withheld, uploaded after the cooldown's cut-off %s",
            page.name,
            ", ".join(map(str, young)),
            policy.cutoff,
        )
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
        upstream: ProjectLister,
        sources: Sequence[SourceSpec],
        pins: Sequence[Pin],
        policy: FilePolicy,
        on_shadow: Callable[[Shadow], None] | None = None,
        chosen: Mapping[NormalizedName, str] | None = None,
    ) -> None:
        """:param on_shadow: told of every name more than one source knows, at once (the
            audit log records the alarm even when the command then fails).
        :param chosen: the source URL each project was approved from before: of the
            sources that know a name, that one is meant.
        """
        self._upstream = upstream
        self._sources = tuple(sources)
        self._pins = tuple(pins)
        self._policy = policy
        self._on_shadow = on_shadow
        self._chosen = dict(chosen or {})
        self._answers: dict[NormalizedName, ServedProject | None] = {}
        self._refusals: dict[NormalizedName, AmbiguousSource] = {}
        self._shadows: dict[NormalizedName, Shadow] = {}
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

    @property
    def sources(self) -> tuple[SourceSpec, ...]:
        """The configured sources, in priority order."""
        return self._sources

    @property
    def shadows(self) -> dict[NormalizedName, Shadow]:
        """Every name asked about so far that more than one source knows."""
        with self._lock:
            return dict(self._shadows)

    def pin_of(self, name: NormalizedName) -> Pin | None:
        """The settings pin that says where ``name`` comes from, if any."""
        return next((pin for pin in self._pins if pin.matches(name)), None)

    def choose(self, name: NormalizedName, source: SourceSpec) -> None:
        """Serve ``name`` from ``source`` (a person's answer to "which do you mean?")."""
        with self._lock:
            self._chosen[name] = redact_url(source.url)
            self._refusals.pop(name, None)
            self._answers.pop(name, None)

    def candidates(self, name: NormalizedName) -> tuple[SourceSpec, ...]:
        """The sources that may serve ``name``, in the order they are asked."""
        pin = self.pin_of(name)
        return self._sources if pin is None else (pin.source,)

    def select(self, name: NormalizedName) -> ServedProject | None:
        """The project's served files, or ``None`` when no candidate source knows it.

        :raises SourceError: a source failed; lower sources are not asked.
        :raises AmbiguousSource: more than one source knows the name, and no pin says
            which is meant.
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
                if name in self._refusals:
                    raise self._refusals[name]
            answer = self._ask(name)
            with self._lock:
                self._answers[name] = answer
            return answer

    def elsewhere(self, name: NormalizedName, served: SourceSpec) -> list[Elsewhere]:
        """What the other configured sources have of ``name``, to explain an unmet
        requirement: all asked at once, except a public index about a name a private
        source served (never told it); a source that fails is left out of an explanation.
        """
        return _elsewhere(self._upstream, self._sources, name, served)

    def known(self, name: NormalizedName) -> bool:
        """Whether ``name`` was asked about already (or is being asked now)."""
        with self._lock:
            return name in self._answers or name in self._asking

    def _ask(self, name: NormalizedName) -> ServedProject | None:
        candidates = self.candidates(name)
        # Threads start only for questions asked at once; most names need none.
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="ask") as pool:
            asking = _Asking(self._upstream, name, pool)
            asking.start(early_questions(candidates, self._sources))
            found = asking.first_known(candidates, self._sources)
            if found is None:
                return None
            page = self._unshadowed(*found, asking)
            logger.info("%s: served by %s", name, page.source)
            return filter_files(page, self._policy)

    def _unshadowed(
        self, page: ProjectPage, asked: Sequence[SourceSpec], asking: _Asking
    ) -> ProjectPage:
        """The page to serve, once the sources that could shadow the one that answered
        were asked about the name too (all at once): the first page, or the page of the
        source the project was approved from before or chosen now.

        :raises AmbiguousSource: another source knows the name too, and no pin, approval
            or answer says which is meant.
        :raises SourceError: one of them failed (never taken for "not known").
        """
        name = page.name
        questions = shadow_questions(page.source, self._sources, asked)
        if not questions:
            return page
        known = [page, *(found for found in asking.pages(questions) if found is not None)]
        with self._lock:
            chosen = self._chosen.get(name)
        served, shadow = _judged(known, chosen, self._sources, pinned=self.pin_of(name) is not None)
        if shadow is None:
            return page
        with self._lock:
            self._shadows[name] = shadow
        if self._on_shadow is not None:
            self._on_shadow(shadow)
        if shadow.ambiguous:
            refusal = AmbiguousSource(ambiguity_message(shadow, self._sources), shadow)
            with self._lock:
                self._refusals[name] = refusal
            raise refusal
        return served


class _Asking:
    """The questions about one name: some started ahead, all at once (only questions
    that leak nothing), the rest when needed, several at once where possible."""

    def __init__(
        self, upstream: ProjectLister, name: NormalizedName, pool: ThreadPoolExecutor
    ) -> None:
        self.name = name
        self._upstream = upstream
        self._pool = pool
        self._started: dict[SourceSpec, Future[ProjectPage | None]] = {}

    def start(self, sources: Sequence[SourceSpec]) -> None:
        """Ask ``sources`` now, without waiting for the answers."""
        for source in sources:
            if source not in self._started:
                self._started[source] = self._pool.submit(
                    self._upstream.project_page, source, self.name
                )

    def pages(self, sources: Sequence[SourceSpec]) -> list[ProjectPage | None]:
        """The answers of ``sources``, all asked at once (one alone is asked here).

        :raises SourceError: one of them failed.
        """
        if len(sources) == 1 and sources[0] not in self._started:
            return [self._upstream.project_page(sources[0], self.name)]
        self.start(sources)
        return [self._started[source].result() for source in sources]

    def first_known(
        self, candidates: Sequence[SourceSpec], sources: Sequence[SourceSpec]
    ) -> tuple[ProjectPage, list[SourceSpec]] | None:
        """The page of the first candidate (with its mirror group) that knows the name,
        and every source asked to find it; ``None`` if none does.

        :raises SourceError: one of them failed; lower candidates are not asked.
        """
        asked: list[SourceSpec] = []
        for source in candidates:
            if source in asked:
                continue  # a mirror, asked with the source it mirrors
            group = group_of(source, sources)
            asked += group
            page = self._group_page(group, sources)
            if page is not None:
                return page, asked
            logger.debug("%s: not known to %s", self.name, source)
        return None

    def _group_page(
        self, group: Sequence[SourceSpec], sources: Sequence[SourceSpec]
    ) -> ProjectPage | None:
        """What a mirror group knows of the name: its members asked at once, merged."""
        if len(group) == 1:
            return self.pages(group)[0]
        found = [page for page in self.pages(group) if page is not None]
        return merge_pages(group_head(group[0], sources), self.name, found)


def _judged(
    known: Sequence[ProjectPage],
    chosen: str | None,
    sources: Sequence[SourceSpec],
    *,
    pinned: bool,
) -> tuple[ProjectPage, Shadow | None]:
    """The page to serve of those ``known`` (the first, or that of the ``chosen`` source),
    and the shadow the others cast on it, if any."""
    meant = next((p for p in known if chosen in _urls(p.source)), None)
    served = meant or known[0]
    shadow = judge(
        served.name,
        served.source,
        [p.source for p in known if p is not served],
        sources,
        pinned=pinned or meant is not None,
    )
    return served, shadow


def _elsewhere(
    upstream: ProjectLister,
    sources: Sequence[SourceSpec],
    name: NormalizedName,
    served: SourceSpec,
) -> list[Elsewhere]:
    """:meth:`SourceSelector.elsewhere`, which needs none of what the selector keeps."""
    others = [s for s in sources if s not in group_of(served, sources)]
    askable = [s for s in others if may_ask(served, s, sources)]
    found = _versions_at(upstream, name, askable)
    # Not asked (None) is said so; asked and failed (None too) is left out.
    return [
        Elsewhere(source, found.get(source))
        for source in others
        if source not in found or found[source] is not None
    ]


def _versions_at(
    upstream: ProjectLister, name: NormalizedName, sources: Sequence[SourceSpec]
) -> dict[SourceSpec, tuple[Version, ...] | None]:
    """The versions of ``name`` each of ``sources`` has, all asked at once (``None``: the
    source failed)."""

    def versions(source: SourceSpec) -> tuple[Version, ...] | None:
        try:
            page = upstream.project_page(source, name)
        except SourceError:
            return None
        return () if page is None else tuple(f.version for f in page.files)

    with ThreadPoolExecutor(max_workers=max(len(sources), 1)) as pool:
        return dict(zip(sources, pool.map(versions, sources), strict=True))


def _urls(source: SourceSpec) -> set[str]:
    """The URLs of ``source`` and of the rest of its mirror group, as the store keeps them."""
    return {redact_url(url) for url in (source.url, *source.marks.group)}
