"""The update review (DESIGN invariant 9): a new release of an approved project against the
last approved one, by what its wheel would make run.

Read from the wheel's metadata and file listing only, never its code: new dependencies,
console scripts, entry-point groups, top-level modules, native libraries, startup hooks, a
size jump, a changed home page or repository. A stolen token or a phished maintainer shows
up as a release that suddenly does more.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.utils import parse_entrypoints
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from safe_pip.policy.trust import TrustedProject

__all__ = [
    "SIZE_JUMP",
    "SIZE_JUMP_BYTES",
    "UpdateChanges",
    "WheelProfile",
    "compare_profiles",
    "profile_wheel",
    "update_changes",
]

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
