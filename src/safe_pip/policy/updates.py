"""Updates are security events (DESIGN invariant 9): what the cooldown held back, the
exemptions that let a young release through, and releases that changed after they were
installed.

Pure functions over the plan, the gateway's answers and the trust store as read once: the
most damaging real attacks are new releases of projects people already trust (a stolen
token, a phished maintainer), taken by ``pip install -U`` within hours.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from installer.utils import parse_entrypoints
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.gateway.cooldown import ago, cooldown_name, take_it, too_new
from safe_pip.gateway.selection import FilePolicy, exempted
from safe_pip.models import (
    Exemption,
    Finding,
    IndexFile,
    Plan,
    PlannedDist,
    ServedProject,
    Severity,
)
from safe_pip.policy.trust import TrustedProject

__all__ = [
    "SIZE_JUMP",
    "SIZE_JUMP_BYTES",
    "Replaced",
    "UpdateChanges",
    "WheelProfile",
    "compare_profiles",
    "cooldown_notes",
    "exemptions_used",
    "profile_wheel",
    "replaced_message",
    "replaced_releases",
    "update_changes",
]


def cooldown_notes(
    plan: Plan,
    answers: Mapping[NormalizedName, ServedProject | None],
    policy: FilePolicy,
    now: datetime,
) -> list[Finding]:
    """One note per project whose newest release the cooldown held back (``installing
    0.5.14``), per exemption used, per expired exemption of a project asked about, and per
    planned file whose source gives no upload time (the cooldown could not apply)."""
    chosen = {dist.name: dist.version for dist in plan}
    notes = []
    for name, served in sorted(answers.items()):
        if served is None:
            continue
        held = _held_version(served, chosen.get(name))
        if held is None:
            continue
        file = max(
            (f for f in too_new(served) if f.version == held), key=lambda f: f.upload_time or now
        )
        instead = f"installing {chosen[name]}" if name in chosen else "nothing newer installed"
        notes.append(
            Finding(
                name,
                Severity.NOTE,
                f"{name} {held} ({ago(file.upload_time, now)}) held back by "
                f"{cooldown_name(policy)}; {instead}; {take_it(name, held)}",
            )
        )
    notes += [
        Finding(
            dist.name,
            Severity.NOTE,
            f"{dist.name} {dist.version} "
            f"({ago(dist.file.upload_time if dist.file else None, now)}) let through "
            f"{cooldown_name(policy)} by the exemption {exemption.describe()}",
        )
        for dist, exemption in exemptions_used(plan, policy)
    ]
    notes += [
        Finding(
            exemption.name,
            Severity.NOTE,
            f"the exemption {exemption.describe()} expired; it no longer applies",
        )
        for exemption in policy.expired
        if exemption.name in answers
    ]
    if policy.cutoff is not None:
        notes += _undated_notes(plan, policy)
    return notes


def _undated_notes(plan: Plan, policy: FilePolicy) -> list[Finding]:
    """One note per source that gives no upload times, under the first of its planned
    projects: a local mirror serves every project of an install, and one line says it."""
    undated: dict[str, list[PlannedDist]] = {}
    for dist in plan:
        if dist.file is not None and dist.file.upload_time is None:
            source = dist.source.name if dist.source else "its source"
            undated.setdefault(source, []).append(dist)
    return [
        Finding(
            dists[0].name,
            Severity.NOTE,
            f"{source} gives no upload times, so {cooldown_name(policy)} could not apply to "
            f"{', '.join(f'{dist.name} {dist.version}' for dist in dists)}",
        )
        for source, dists in undated.items()
    ]


def _held_version(served: ServedProject, chosen: Version | None) -> Version | None:
    """The newest withheld version newer than the one chosen (or than any served), not a
    pre-release unless the choice is one (pip would not take it anyway)."""
    floor = chosen or max((f.version for f in served.served), default=None)
    prerelease = chosen is not None and chosen.is_prerelease
    versions = [
        f.version
        for f in too_new(served)
        if (prerelease or not f.version.is_prerelease) and (floor is None or f.version > floor)
    ]
    return max(versions, default=None)


def exemptions_used(plan: Plan, policy: FilePolicy) -> list[tuple[PlannedDist, Exemption]]:
    """Planned files younger than the cut-off that an exemption let through."""
    used = []
    for dist in plan:
        file = dist.file
        if policy.cutoff is None or file is None or file.upload_time is None:
            continue
        exemption = exempted(file, policy) if file.upload_time > policy.cutoff else None
        if exemption is not None:
            used.append((dist, exemption))
    return used


# -- a release that changed after it was installed -------------------------------------


@dataclass(frozen=True, slots=True)
class Replaced:
    """A ``name==version`` installed before whose files are no longer what they were."""

    dist: PlannedDist
    gone: tuple[str, ...]
    """Files installed then that the source no longer lists."""
    added: tuple[IndexFile, ...]
    """Files the source lists now that it did not list then."""
    listed_at: str | None
    """When the source's listing was remembered."""


def replaced_releases(
    plan: Plan,
    trusted: Mapping[NormalizedName, TrustedProject],
    answers: Mapping[NormalizedName, ServedProject | None],
) -> list[Replaced]:
    """Planned releases installed before whose remembered file is gone from the source, or
    that now list a file first seen after that install.

    An index never reuses a file name, so a replaced release arrives as a new file of the
    same version, which the remembered sha256 (keyed by file name) alone would not catch.
    """
    found = []
    for dist in plan:
        known = trusted.get(dist.name)
        served = answers.get(dist.name)
        version = str(dist.version)
        if known is None or served is None or dist.source is None or version not in known.files:
            continue
        now_listed = {f.filename: f for f in served.page.files if f.version == dist.version}
        gone = tuple(sorted(set(known.files[version]) - set(now_listed)))
        listing = known.listed.get(version)
        added = (
            tuple(f for name, f in sorted(now_listed.items()) if name not in listing["files"])
            if listing is not None
            else ()
        )
        if gone or added:
            found.append(Replaced(dist, gone, added, listing["at"] if listing else None))
    return found


def replaced_message(found: Sequence[Replaced], now: datetime) -> str:
    """The alarm for :func:`replaced_releases`, naming every file and its upload time."""
    lines = []
    for item in found:
        lines.append(f"  - {item.dist.name} {item.dist.version} from {item.dist.location}:")
        lines += [
            f"      {name}: installed before, no longer listed by the source" for name in item.gone
        ]
        since = f" (the listing was remembered at {item.listed_at})" if item.listed_at else ""
        lines += [
            f"      {file.filename}: new, {ago(file.upload_time, now)}, not listed when this "
            f"version was installed{since}"
            for file in item.added
        ]
    forget = " ".join(
        f"safe-pip trust forget {item.dist.name}=={item.dist.version}" for item in found
    )
    return (
        "A release installed before has changed since (nothing was installed):\n"
        + "\n".join(lines)
        + "\nAn index never reuses a file name: a file removed from a release, or added to "
        "it after it was installed, is how a replaced (possibly hijacked) release looks. "
        "Late wheels for other platforms are the honest cause. If you have checked the "
        f"release, accept it deliberately with: {forget}"
    )


# -- the update review: the new wheel against the last approved one --------------------

_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")
_HOOK_NAMES = frozenset({"sitecustomize.py", "usercustomize.py"})
_URL_LABELS = frozenset(
    {"homepage", "home", "home-page", "repository", "source", "source-code", "code"}
)
SIZE_JUMP = 2.0
"""A new release this many times the size of the last approved one is flagged..."""
SIZE_JUMP_BYTES = 1_000_000
"""...when it grew by at least this much (a payload, not a few new modules)."""


@dataclass(frozen=True, slots=True)
class WheelProfile:
    """What a wheel would make run, read from its metadata and file listing only."""

    requires: frozenset[str]
    """Canonical names of ``Requires-Dist``."""
    scripts: frozenset[str]
    """``group:name`` of every console and GUI script."""
    entry_groups: frozenset[str]
    top_level: frozenset[str]
    """Top-level packages and modules it installs."""
    native: frozenset[str]
    """Native libraries, their ABI tags dropped (``pkg/_speedups.so``)."""
    hooks: frozenset[str]
    """Startup hooks: ``.pth`` files, ``sitecustomize``, ``usercustomize``."""
    size: int
    """Unpacked size in bytes."""
    urls: Mapping[str, str]
    """Home page and repository URLs by label."""

    def to_record(self) -> dict[str, object]:
        """The JSON form kept in the trust store."""
        return {
            "requires": sorted(self.requires),
            "scripts": sorted(self.scripts),
            "entry_groups": sorted(self.entry_groups),
            "top_level": sorted(self.top_level),
            "native": sorted(self.native),
            "hooks": sorted(self.hooks),
            "size": self.size,
            "urls": dict(sorted(self.urls.items())),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> WheelProfile | None:
        """From :meth:`to_record`; ``None`` when it has another shape."""
        try:
            sets = {
                key: frozenset(str(item) for item in record[key])
                for key in ("requires", "scripts", "entry_groups", "top_level", "native", "hooks")
            }
            urls = {str(label): str(url) for label, url in dict(record["urls"]).items()}
            return cls(**sets, size=int(record["size"]), urls=urls)
        except (KeyError, TypeError, ValueError):
            return None


def profile_wheel(path: Path) -> WheelProfile:
    """Read a wheel's profile from its central directory, METADATA and entry points.

    :raises ValueError: not a readable wheel (inspection says why, later).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            dist_info = _dist_info(names)
            metadata = archive.read(f"{dist_info}/METADATA") if dist_info else b""
            entry_points = (
                archive.read(f"{dist_info}/entry_points.txt")
                if f"{dist_info}/entry_points.txt" in names
                else b""
            )
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        msg = f"{path.name} cannot be read as a wheel: {exc}"
        raise ValueError(msg) from exc
    headers = _headers(metadata.decode("utf-8", "replace"))
    text = entry_points.decode("utf-8", "replace")
    installed = [_installed_path(name) for name in names if not name.endswith("/")]
    paths = [p for p in installed if p is not None]
    return WheelProfile(
        requires=frozenset(_requirement_names(headers.get("requires-dist", []))),
        scripts=frozenset(f"{section}_scripts:{name}" for name, *_, section in _scripts(text)),
        entry_groups=frozenset(_entry_points(text)),
        top_level=frozenset(_top_level(p) for p in paths),
        native=frozenset(_native(p) for p in paths if p.lower().endswith(_NATIVE_SUFFIXES)),
        hooks=frozenset(
            p for p in paths if ("/" not in p and p.endswith(".pth")) or p in _HOOK_NAMES
        ),
        size=sum(info.file_size for info in infos),
        urls=_urls(headers),
    )


def _dist_info(names: Sequence[str]) -> str | None:
    for name in names:
        top, _, rest = name.partition("/")
        if top.endswith(".dist-info") and rest == "METADATA":
            return top
    return None


def _installed_path(name: str) -> str | None:
    """The path relative to site-packages (``.data/purelib`` and ``platlib`` unwrapped);
    ``None`` for metadata and for scripts, headers and data."""
    top, _, rest = name.partition("/")
    if top.endswith(".dist-info"):
        return None
    if top.endswith(".data"):
        scheme, _, inner = rest.partition("/")
        return inner if scheme in ("purelib", "platlib") and inner else None
    return name


def _top_level(path: str) -> str:
    top = path.split("/", 1)[0]
    return top.removesuffix(".py") if "/" not in path else top


def _native(path: str) -> str:
    directory, _, filename = path.rpartition("/")
    stem, suffix = filename.split(".", 1)[0], "." + filename.rsplit(".", 1)[-1]
    return f"{directory}/{stem}{suffix}" if directory else f"{stem}{suffix}"


def _scripts(text: str) -> list[tuple[str, str, str, str]]:
    """The scripts of ``entry_points.txt`` exactly as pypa/installer, which writes them,
    reads it (configparser: ``[console_scripts] x`` is that section's header).

    :raises ValueError: installer cannot read it (inspection refuses the wheel).
    """
    try:
        return list(parse_entrypoints(text))
    except Exception as exc:
        # installer asserts on malformed entries and configparser raises its own errors.
        msg = f"entry_points.txt cannot be read: {str(exc) or type(exc).__name__}"
        raise ValueError(msg) from exc


def _entry_points(text: str) -> dict[str, list[str]]:
    """``entry_points.txt``: group -> names, read line by line as importlib.metadata, which
    finds plugins, reads it."""
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), [])
        elif current is not None and "=" in line:
            current.append(line.split("=", 1)[0].strip())
    return groups


def _headers(text: str) -> dict[str, list[str]]:
    """The header fields of core metadata that the profile reads, by lower-case name."""
    wanted = ("requires-dist", "home-page", "project-url")
    found: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key in wanted and not line[:1].isspace():
            found.setdefault(key, []).append(value.strip())
    return found


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requirement_names(lines: Iterable[str]) -> Iterator[str]:
    # PEP 508 starts with the name: the rest (extras, versions, markers) does not change
    # which project a dependency brings in.
    for line in lines:
        match = _NAME.match(line)
        yield canonicalize_name(match.group(1)) if match else line.strip()


def _urls(headers: Mapping[str, list[str]]) -> dict[str, str]:
    urls = {}
    if home := next(iter(headers.get("home-page", [])), ""):
        urls["home-page"] = home
    for entry in headers.get("project-url", []):
        label, _, url = str(entry).partition(",")
        key = re.sub(r"[\s_.-]+", "-", label.strip().lower())
        if key in _URL_LABELS and url.strip():
            urls[key] = url.strip()
    return urls


@dataclass(frozen=True, slots=True)
class UpdateChanges:
    """What an update changes, against the last approved release."""

    previous: Version
    material: tuple[str, ...]
    """Changes to what runs: each needs an approval."""
    other: tuple[str, ...]
    """Changes worth a line in the plan."""


def compare_profiles(previous: Version, old: WheelProfile, new: WheelProfile) -> UpdateChanges:
    """The changes that matter between two profiles, in words."""
    material: list[str] = []

    def added(what: str, before: frozenset[str], after: frozenset[str]) -> None:
        if grown := sorted(after - before):
            material.append(f"{what}: {', '.join(grown)}")

    added("new dependencies", old.requires, new.requires)
    added("new console scripts", old.scripts, new.scripts)
    added("new entry-point groups", old.entry_groups, new.entry_groups)
    added("new top-level packages or modules", old.top_level, new.top_level)
    added("native libraries added", old.native, new.native)
    added("startup hooks added", old.hooks, new.hooks)
    if new.size > SIZE_JUMP * old.size and new.size - old.size >= SIZE_JUMP_BYTES:
        material.append(f"size jumped from {old.size:,} to {new.size:,} bytes")
    material += [
        f"{label} changed from {old.urls[label]} to {url}"
        for label, url in sorted(new.urls.items())
        if label in old.urls and old.urls[label] != url
    ]
    other = []
    if removed := sorted(old.requires - new.requires):
        other.append(f"dependencies removed: {', '.join(removed)}")
    return UpdateChanges(previous, tuple(material), tuple(other))


def update_changes(
    known: TrustedProject | None, version: Version, profile: WheelProfile
) -> UpdateChanges | None:
    """``profile`` against the newest approved release before ``version`` whose profile
    is remembered; ``None`` for a version installed before or nothing to compare with."""
    if known is None or str(version) in known.files:
        return None
    earlier = []
    for text, record in known.profiles.items():
        try:
            remembered = Version(text)
        except InvalidVersion:
            continue
        old = WheelProfile.from_record(record) if remembered < version else None
        if old is not None:
            earlier.append((remembered, old))
    if not earlier:
        return None
    previous, old = max(earlier, key=lambda pair: pair[0])
    return compare_profiles(previous, old, profile)
