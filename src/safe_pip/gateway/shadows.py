"""Shadowed names: one project name known to a private and a public source.

A project is served from one source (DESIGN invariant 2): its pin, else the first source
that knows the name. That protects a private name only while the private index ranks
first. With the private index as ``--index-url`` and PyPI as an ``--extra-index-url`` (a
common layout, the reverse of pip's default) PyPI ranks first, and whoever registers the
private name there is served instead. So the first answer is not the last word:

- When a public source answers, every private source is asked too. This leaks nothing:
  the private index is the user's own.
- When a private source answers and its ``check-public-shadows`` is on (the default for a
  source marked ``private = true``), the public sources are asked too. This tells the
  public index the private name: it is a setting, explained in the README.

A name that more than one of them knows is *ambiguous* unless a pin in the settings says
where it comes from, and a private name that the public index also knows is an *alarm*,
even when a pin or priority already protects the install.

Which source is which:

- public: pypi.org (and its files host), a source marked ``public = true``, a mirror of one;
- local: a ``file:`` index or a find-links folder on this machine, named by the user (it
  keeps its rank and is never cross-checked: its files are as trusted as a ``--hash``);
- private: a source marked ``private = true``, and any other remote source, unmarked. An
  unmarked index that is not PyPI is most likely the user's own; asking it about public
  names leaks nothing.
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from safe_pip.gateway.locations import is_remote
from safe_pip.models import (
    Finding,
    IndexFile,
    Plan,
    ProjectPage,
    Severity,
    Shadow,
    SourceKind,
    SourceSpec,
)

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.utils import NormalizedName
    from packaging.version import Version

__all__ = [
    "PUBLIC_HOSTS",
    "Elsewhere",
    "Exposure",
    "Shadow",
    "SourceChooser",
    "alarm_findings",
    "alarm_message",
    "ambiguity_message",
    "checks_public",
    "early_questions",
    "exposure",
    "group_head",
    "group_of",
    "judge",
    "may_ask",
    "merge_pages",
    "pin_lines",
    "shadow_questions",
    "source_notes",
    "unmet_explanation",
]

PUBLIC_HOSTS = frozenset({"pypi.org", "pypi.python.org", "files.pythonhosted.org", "test.pypi.org"})
"""Hosts of the public index: anyone can register a name there."""


class Exposure(enum.Enum):
    """Who can publish on a source."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOCAL = "local"


def _is_local(source: SourceSpec) -> bool:
    # Read as the source is read: whatever is not fetched over the network is on this machine.
    return not is_remote(source.url)


def _named(name: str, sources: Sequence[SourceSpec]) -> SourceSpec | None:
    return next((s for s in sources if s.name == name), None)


def exposure(source: SourceSpec, sources: Sequence[SourceSpec] = ()) -> Exposure:
    """Whether ``source`` is public, private or local (see the module's docstring).

    :param sources: the configured sources, to find the source a mirror mirrors.
    """
    marks = source.marks
    if marks.private is not None:
        return Exposure.PRIVATE if marks.private else Exposure.PUBLIC
    if marks.mirror_of is not None:
        mirrored = _named(marks.mirror_of, sources)
        if marks.mirror_of == "pypi" and mirrored is None:
            return Exposure.PUBLIC
        if mirrored is not None and mirrored.marks.mirror_of is None:
            return exposure(mirrored, sources)
    if urllib.parse.urlsplit(source.url).hostname in PUBLIC_HOSTS:
        return Exposure.PUBLIC
    if _is_local(source):
        return Exposure.LOCAL
    return Exposure.PRIVATE


def checks_public(source: SourceSpec) -> bool:
    """Whether a name this source answers is also asked of the public index (a leak of the
    name, so on by default only for a source the user marked private)."""
    chosen = source.marks.check_public_shadows
    return chosen if chosen is not None else source.marks.private is True


def group_head(source: SourceSpec, sources: Sequence[SourceSpec]) -> SourceSpec:
    """The source a mirror mirrors (``mirror-of``), or the source itself."""
    if source.marks.mirror_of is None:
        return source
    return _named(source.marks.mirror_of, sources) or source


def group_of(source: SourceSpec, sources: Sequence[SourceSpec]) -> tuple[SourceSpec, ...]:
    """The mirror group ``source`` belongs to, in priority order: the source mirrored and
    every configured source declared a mirror of it (``mirror-of``). A source in no group
    is a group of one."""
    head = group_head(source, sources)
    members = [s for s in sources if s == head or s.marks.mirror_of == head.name]
    return tuple(members) if source in members else (source,)


def merge_pages(
    head: SourceSpec, name: NormalizedName, pages: Sequence[ProjectPage]
) -> ProjectPage | None:
    """One page of a mirror group, as pip would see the group: every file of every
    member, the first (by rank) of two with one file name. Each file is fetched from the
    member that listed it. ``None``: no member knows the project."""
    files: dict[str, IndexFile] = {}
    listed_by: dict[str, SourceSpec] = {}
    for page in pages:
        for file in page.files:
            if file.filename not in files:
                files[file.filename] = file
                listed_by[file.url] = page.source
    if not pages:
        return None
    return ProjectPage(name, head, tuple(files.values()), listed_by)


def shadow_questions(
    served: SourceSpec, sources: Sequence[SourceSpec], asked: Sequence[SourceSpec]
) -> tuple[SourceSpec, ...]:
    """The sources to ask about a name besides ``served``, the one that answered it.

    :param asked: the sources already asked about the name (they are not asked again).
    """
    seen = {*asked, *group_of(served, sources)}
    kind = exposure(served, sources)
    if kind is Exposure.PUBLIC:
        wanted = Exposure.PRIVATE
    elif kind is Exposure.PRIVATE and checks_public(served):
        wanted = Exposure.PUBLIC
    else:
        return ()
    return tuple(
        s
        for s in sources
        if s not in seen and s.kind is SourceKind.INDEX and exposure(s, sources) is wanted
    )


def early_questions(
    candidates: Sequence[SourceSpec], sources: Sequence[SourceSpec]
) -> tuple[SourceSpec, ...]:
    """The sources to ask about a name at once with the first candidate: when that is a
    public source, the private sources its answer would be checked with. Asking them
    leaks nothing, and they are asked either way: to check a public answer, or next
    when the public source does not know the name."""
    if not candidates or exposure(candidates[0], sources) is not Exposure.PUBLIC:
        return ()
    return shadow_questions(candidates[0], sources, ())


def judge(
    name: NormalizedName,
    served: SourceSpec,
    others: Sequence[SourceSpec],
    sources: Sequence[SourceSpec],
    *,
    pinned: bool,
) -> Shadow | None:
    """The shadow of ``name`` if other sources know it too, else ``None``.

    A pin to a public source says the name is public: a private index that also lists it
    (a proxy of PyPI, say) is then no alarm.
    """
    if not others:
        return None
    kinds = {exposure(s, sources) for s in (served, *others)}
    both = {Exposure.PUBLIC, Exposure.PRIVATE} <= kinds
    public_pin = pinned and exposure(served, sources) is Exposure.PUBLIC
    return Shadow(name, served, tuple(others), pinned, alarm=both and not public_pin)


def _label(source: SourceSpec) -> str:
    """The name a pin uses for ``source``: its name in the settings, or one to give it."""
    if source.name != source.url:
        return source.name
    if _is_local(source):
        return "local"
    host = urllib.parse.urlsplit(source.url).hostname or ""
    first = re.sub(r"[^a-z0-9]+", "-", host.lower().split(".")[0]).strip("-")
    return first if first[:1].isalpha() else "private"


def pin_lines(name: NormalizedName, source: SourceSpec) -> str:
    """The settings lines (``pyproject.toml``) that pin ``name`` to ``source``."""
    label = _label(source)
    pin = f'under [tool.safe-pip.pins]: "{name}" = "{label}"'
    if source.name != source.url:
        return pin
    return f'under [tool.safe-pip.sources]: {label} = "{source.url}", and {pin}'


def alarm_message(shadow: Shadow, sources: Sequence[SourceSpec]) -> str:
    """What the alarm says: the private name is on the public index too."""
    private = [s for s in shadow.sources if exposure(s, sources) is Exposure.PRIVATE]
    public = [s for s in shadow.sources if exposure(s, sources) is Exposure.PUBLIC]
    return (
        f"{shadow.name} is a name on the private source {private[0]} and also on the public "
        f"index {public[0]}: someone may have registered your private name there to take "
        f"its place (dependency confusion). Check who published it."
    )


def ambiguity_message(shadow: Shadow, sources: Sequence[SourceSpec]) -> str:
    """Why the name is refused, naming both sources and the settings lines that settle it."""
    where = " and on ".join(str(s) for s in shadow.sources)
    lines = [f"{shadow.name} is on {where}: which do you mean?"]
    if shadow.alarm:
        lines.append(f"  ALARM: {alarm_message(shadow, sources)}")
    lines.append(
        "safe-pip does not guess: a project registered under the same name on another "
        "index would take the place of yours. Nothing was installed. Say where it comes "
        "from in pyproject.toml (or $SAFE_PIP_HOME/config.toml):"
    )
    lines += [f"  to take it from {s.name}: {pin_lines(shadow.name, s)}" for s in shadow.sources]
    private = [s for s in shadow.sources if exposure(s, sources) is Exposure.PRIVATE]
    public = [s for s in shadow.sources if exposure(s, sources) is Exposure.PUBLIC]
    if private and public:
        lines.append(
            f"If {private[0].name} only mirrors {public[0].name} (a proxy with no projects "
            f"of its own), say so once for every name: under [tool.safe-pip.sources]: "
            f'{_label(private[0])} = {{ url = "{private[0].url}", mirror-of = '
            f'"{_label(public[0])}" }}.'
        )
    return "\n".join(lines)


def alarm_findings(
    shadows: Mapping[NormalizedName, Shadow], sources: Sequence[SourceSpec]
) -> list[Finding]:
    """A warning for each private name found on a public index, pinned or not."""
    return [
        Finding(name, Severity.WARNING, alarm_message(shadow, sources))
        for name, shadow in sorted(shadows.items())
        if shadow.alarm
    ]


@runtime_checkable
class SourceChooser(Protocol):
    """Asks a person which source an ambiguous name comes from (the terminal prompter
    does; it is only asked when someone can answer)."""

    def choose_source(self, shadow: Shadow, alarm: str | None) -> SourceSpec | None:
        """Show the sources that know the name (and the alarm, if any) and return the one
        meant, or ``None`` to refuse."""


def may_ask(served: SourceSpec, other: SourceSpec, sources: Sequence[SourceSpec]) -> bool:
    """Whether asking ``other`` about a name ``served`` answered leaks nothing: never a
    name a private source answered to a public index."""
    private = exposure(served, sources) is Exposure.PRIVATE
    return not (private and exposure(other, sources) is Exposure.PUBLIC)


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """What another source than the serving one has of a project, for an explanation."""

    source: SourceSpec
    versions: tuple[Version, ...] | None
    """Its versions (empty: it does not know the project); ``None``: not asked, since
    that would tell a public index a private name."""


def _versions(versions: Sequence[Version], limit: int = 6) -> str:
    ordered = sorted(set(versions), reverse=True)
    shown = ", ".join(str(v) for v in ordered[:limit])
    return (shown + ", ...") if len(ordered) > limit else shown or "none"


def unmet_explanation(
    name: NormalizedName,
    wanted: SpecifierSet,
    served: SourceSpec,
    served_versions: Sequence[Version],
    elsewhere: Sequence[Elsewhere],
) -> str:
    """Why a requirement was not met although another source may have met it: which source
    served the project and its versions, which other sources have the version asked for
    or were not asked, and the settings line that takes the project from another source.
    Empty when no other source would have changed anything."""
    having = [
        e for e in elsewhere if e.versions and any(wanted.contains(v, True) for v in e.versions)
    ]
    unasked = [e for e in elsewhere if e.versions is None]
    if not having and not unasked:
        return ""
    lines = [
        f"{name}: served by {served}, which has {_versions(served_versions)}; safe-pip takes "
        f"each project from the first source that knows it (find-links, then the extra "
        f"indexes, then the index), not the best version across sources as pip does."
    ]
    for item in having:
        matching = [v for v in item.versions or () if wanted.contains(v, True)]
        lines.append(f"  {item.source} has {name}{wanted or ''}: {_versions(matching)}")
    for item in unasked:
        lines.append(
            f"  {item.source} was not asked: it is public, and {served.name} is private "
            f"(asking would tell it the name)"
        )
    for item in having or unasked:
        lines.append(f"To take {name} from {item.source.name}, {pin_lines(name, item.source)}.")
    if exposure(served) is not Exposure.PRIVATE and having:
        lines.append(
            f"If {served.name} mirrors {having[0].source.name}, declare it so and both are "
            f"merged as pip would: under [tool.safe-pip.sources]: {_label(served)} = "
            f'{{ url = "{served.url}", mirror-of = "{_label(having[0].source)}" }}.'
        )
    return "\n".join(lines)


def source_notes(
    plan: Plan, sources: Sequence[SourceSpec], pinned: Collection[NormalizedName]
) -> list[Finding]:
    """A note for each planned project that does not come from the index (the last,
    lowest-ranked source, with its mirrors): where it comes from is then a choice the
    user should see without ``-v``.

    :param pinned: the planned projects a settings pin sends to their source.
    """
    indexes = [s for s in sources if s.kind is SourceKind.INDEX]
    if not indexes:
        return []
    index = group_head(indexes[-1], sources)  # a mirror-only source is listed last
    group = group_of(index, sources)
    notes = []
    for dist in plan:
        if dist.source is None or dist.source in group:
            continue
        why = "a pin in the settings" if dist.name in pinned else "it ranks above the index"
        message = f"from {dist.source}, not the index {index.name} ({why})"
        notes.append(Finding(dist.name, Severity.NOTE, message))
    return notes
