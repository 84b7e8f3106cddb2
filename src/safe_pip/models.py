"""Frozen data passed between the pipeline stages."""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from packaging.utils import NormalizedName, canonicalize_name

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.version import Version

__all__ = [
    "DistKind",
    "DropReason",
    "DroppedFile",
    "Exemption",
    "Finding",
    "IndexFile",
    "NameSet",
    "Pin",
    "Plan",
    "PlannedDist",
    "ProjectPage",
    "ServedProject",
    "Severity",
    "Shadow",
    "SourceKind",
    "SourceMarks",
    "SourceSpec",
    "VcsRef",
]

ALL = ":all:"


class NameSet:
    """A set of project names as the user wrote it: names, or ``:all:``."""

    __slots__ = ("everything", "names")

    def __init__(self, names: Iterable[str] = ()) -> None:
        values = [value.strip() for value in names if value.strip()]
        self.everything = ALL in values
        self.names = frozenset(canonicalize_name(v) for v in values if v != ALL)

    @classmethod
    def from_csv(cls, values: Iterable[str]) -> NameSet:
        """Parse ``--flag a,b --flag c`` style values."""
        return cls(part for value in values for part in value.split(","))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return self.everything or canonicalize_name(name) in self.names

    def __or__(self, other: NameSet) -> NameSet:
        merged = NameSet()
        merged.everything = self.everything or other.everything
        merged.names = self.names | other.names
        return merged

    def __bool__(self) -> bool:
        return self.everything or bool(self.names)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, NameSet)
            and self.everything == other.everything
            and self.names == other.names
        )

    def __hash__(self) -> int:
        return hash((self.everything, self.names))

    def __repr__(self) -> str:
        shown = [ALL] if self.everything else sorted(self.names)
        return f"NameSet({shown!r})"


class SourceKind(enum.Enum):
    """How a source lists files."""

    INDEX = "index"
    FIND_LINKS = "find-links"


@dataclass(frozen=True, slots=True)
class SourceMarks:
    """What the settings' ``sources`` table says of one source."""

    private: bool | None = None
    """``True``: ``private = true``; ``False``: ``public = true``; ``None``: unmarked."""
    mirror_of: str | None = None
    """``mirror-of``: the name of the source this one mirrors (merged with it)."""
    check_public_shadows: bool | None = None
    """``check-public-shadows``; ``None``: the default (on for a source marked private)."""
    group: tuple[str, ...] = ()
    """The URLs of the other members of its mirror group: a project approved from one of
    them has not changed source when another serves it."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A configured package source. Credentials never show in ``repr`` or ``str``."""

    name: str
    url: str
    kind: SourceKind = SourceKind.INDEX
    username: str | None = field(default=None, repr=False, compare=False)
    password: str | None = field(default=None, repr=False, compare=False)
    marks: SourceMarks = field(default_factory=SourceMarks, compare=False)
    """What the settings say of this source (see :mod:`safe_pip.gateway.shadows`)."""

    def __str__(self) -> str:
        return f"{self.name} ({self.url})" if self.name != self.url else self.url


@dataclass(frozen=True, slots=True)
class Pin:
    """A project-name pattern that may only ever come from one source."""

    pattern: str
    source: SourceSpec

    def matches(self, name: NormalizedName) -> bool:
        """Whether ``name`` (normalized) matches the pattern (normalized the same way)."""
        return fnmatch.fnmatchcase(name, re.sub(r"[-_.]+", "-", self.pattern).lower())


class DistKind(enum.Enum):
    """What kind of distribution a file is."""

    WHEEL = "wheel"
    SDIST = "sdist"
    LOCAL_DIR = "local directory"
    VCS = "version-control checkout"


@dataclass(frozen=True, slots=True)
class VcsRef:
    """A git checkout pinned to the exact commit pip resolved."""

    url: str
    commit: str
    subdirectory: str = ""


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One distribution file as a source lists it."""

    filename: str
    url: str
    project: NormalizedName
    version: Version
    kind: DistKind
    sha256: str | None
    requires_python: str | None = None
    yanked: str | None = None
    """``None`` when not yanked, else the reason (possibly empty)."""
    upload_time: datetime | None = None
    size: int | None = None
    core_metadata: bool = False
    """The source advertises ``<url>.metadata`` (PEP 658)."""
    core_metadata_sha256: str | None = None
    tags: frozenset[Tag] = frozenset()
    """A wheel's compatibility tags (empty for other files)."""


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """What one source knows of one project."""

    name: NormalizedName
    source: SourceSpec
    files: tuple[IndexFile, ...]
    listed_by: Mapping[str, SourceSpec] = field(default_factory=dict, compare=False)
    """For a page merged from a mirror group: the member that listed each file (by URL);
    its files are fetched from there, with that member's credentials."""

    def source_of(self, file: IndexFile) -> SourceSpec:
        """The source that listed ``file``."""
        return self.listed_by.get(file.url, self.source)


class DropReason(enum.Enum):
    """Why the gateway withheld a file from pip."""

    SDIST = "source distribution not allowed"
    TOO_NEW = "uploaded more recently than the minimum release age"
    NO_SHA256 = "listed without a sha256"
    INCOMPATIBLE = "not compatible with the target Python or platform"


@dataclass(frozen=True, slots=True)
class DroppedFile:
    """A file the gateway withheld, and why."""

    file: IndexFile
    reason: DropReason


@dataclass(frozen=True, slots=True)
class ServedProject:
    """The gateway's answer for one project: the source it chose and the files it let through."""

    page: ProjectPage
    served: tuple[IndexFile, ...]
    dropped: tuple[DroppedFile, ...]

    @property
    def source(self) -> SourceSpec:
        """The source this project comes from."""
        return self.page.source


@dataclass(frozen=True, slots=True)
class PlannedDist:
    """One distribution the resolver decided to install."""

    name: NormalizedName
    version: Version
    kind: DistKind
    requested: bool
    metadata: Mapping[str, Any]
    """Core metadata in the JSON form of pip's installation report."""
    file: IndexFile | None = None
    """The upstream file, when the distribution comes from a source."""
    source: SourceSpec | None = None
    local_path: str | None = None
    """A wheel file or project directory the user named."""
    local_sha256: str | None = None
    vcs: VcsRef | None = None
    editable: bool = False
    yanked: bool = False

    @property
    def needs_build(self) -> bool:
        """Whether a wheel must be built from source before installing."""
        return self.kind is not DistKind.WHEEL

    @property
    def sha256(self) -> str | None:
        """The sha256 every byte of this distribution is checked against."""
        return self.file.sha256 if self.file is not None else self.local_sha256

    @property
    def filename(self) -> str:
        """The distribution's file name, or its directory for local projects."""
        if self.file is not None:
            return self.file.filename
        return self.local_path or ""

    @property
    def location(self) -> str:
        """Where it comes from, safe to show: a source name or a local path."""
        if self.source is not None:
            return self.source.name
        return self.local_path or ""

    @property
    def label(self) -> str:
        """``name-version`` as pip prints it."""
        return f"{self.name}-{self.version}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The resolver's decision: what to install, for which environment."""

    dists: tuple[PlannedDist, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    """The marker environment of the target (from pip's report)."""

    def __iter__(self) -> Iterator[PlannedDist]:
        return iter(self.dists)

    def __len__(self) -> int:
        return len(self.dists)


class Severity(enum.Enum):
    """How much a finding matters."""

    NOTE = "note"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the user should know about one planned distribution."""

    project: NormalizedName
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Shadow:
    """A project name known to more than one source (outside one mirror group)."""

    name: NormalizedName
    served: SourceSpec
    """The source that answered first: by its pin, or by rank."""
    others: tuple[SourceSpec, ...]
    """The other sources that know the name."""
    pinned: bool
    """A pin in the settings says where the name comes from."""
    alarm: bool
    """A private source and a public one both know the name."""

    @property
    def ambiguous(self) -> bool:
        """Whether nobody said which source is meant."""
        return not self.pinned

    @property
    def sources(self) -> tuple[SourceSpec, ...]:
        """Every source that knows the name, the one that answered first first."""
        return (self.served, *self.others)


@dataclass(frozen=True, slots=True)
class Exemption:
    """A release allowed through the cooldown before it is old enough, with the reason."""

    name: NormalizedName
    version: Version | None
    """``None``: any version of the project."""
    reason: str
    until: date | None = None
    """The last day it applies; ``None``: no end."""
    origin: str = "trust store"
    """Where it was written: the trust store, a settings file, ``--trust``."""

    @property
    def label(self) -> str:
        """``name==version``, or the name alone."""
        return self.name if self.version is None else f"{self.name}=={self.version}"

    def covers(self, name: NormalizedName, version: Version) -> bool:
        """Whether it lets this release through."""
        return name == self.name and (self.version is None or version == self.version)

    def expired(self, today: date) -> bool:
        """Whether its last day has passed."""
        return self.until is not None and today > self.until

    def describe(self) -> str:
        """``num2words==0.5.15 (reason: "fix for CVE-..."; until 2026-12-31; trust store)``."""
        until = f"; until {self.until.isoformat()}" if self.until else ""
        return f'{self.label} (reason: "{self.reason}"{until}; {self.origin})'
