"""safe-pip's settings: one frozen object, built once from flags, environment and files.

Precedence, highest first: command-line flags; ``SAFE_PIP_*`` environment variables;
``[tool.safe-pip]`` in the nearest ``pyproject.toml`` (or a ``safe-pip.toml``) from the
current directory upwards; the user file ``$SAFE_PIP_HOME/config.toml``. List settings
(``trust``/``trusted``, ``allow-sdist``) are the union of every layer. pip's own configuration
(pip.conf, ``PIP_*``) is read separately by :mod:`safe_pip.pipconfig` and applies to
pip's options as pip would apply it.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from safe_pip.errors import UsageError
from safe_pip.models import NameSet, SourceKind, SourceSpec
from safe_pip.network import NetworkOptions, split_credentials
from safe_pip.selection import FilePolicy, Pin

__all__ = [
    "DEFAULT_INDEX",
    "FileSettings",
    "Settings",
    "build_sources",
    "default_home",
    "is_unattended",
    "load_file_settings",
    "release_cutoff",
]

DEFAULT_INDEX = "https://pypi.org/simple"
_KNOWN_KEYS = frozenset(
    {
        "trust",
        "trusted",
        "allow-sdist",
        "min-release-age",
        "index-url",
        "extra-index-url",
        "sources",
        "pins",
        "allow-startup-hooks",
    }
)
_LIST_KEYS = ("trust", "trusted", "allow-sdist", "allow-startup-hooks", "extra-index-url")
_DURATION_RE = re.compile(r"^P(\d+)D$", re.IGNORECASE)


def default_home(environ: Mapping[str, str]) -> Path:
    """``$SAFE_PIP_HOME``, else the platform's per-user data directory."""
    if environ.get("SAFE_PIP_HOME"):
        return Path(environ["SAFE_PIP_HOME"]).expanduser()
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "safe-pip"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "safe-pip"
    return Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "safe-pip"


def is_unattended(no_input: bool, environ: Mapping[str, str], *, stdin_tty: bool) -> bool:
    """No prompt may be shown: no terminal, ``--no-input``, ``PIP_NO_INPUT`` or ``CI``."""
    if no_input or not stdin_tty:
        return True
    if environ.get("PIP_NO_INPUT", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class FileSettings:
    """The merged content of settings files and ``SAFE_PIP_*`` variables."""

    trust: tuple[str, ...] = ()
    allow_sdist: tuple[str, ...] = ()
    allow_startup_hooks: tuple[str, ...] = ()
    min_release_age: float | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    pins: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    """The settings files that were read, for messages."""


def _project_file(cwd: Path) -> tuple[Path, Mapping[str, Any]] | None:
    for directory in (cwd, *cwd.parents):
        standalone = directory / "safe-pip.toml"
        if standalone.is_file():
            return standalone, _read_toml(standalone)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("safe-pip")
            if table is not None:
                return pyproject, table
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"Settings file {path} cannot be read: {exc}"
        raise UsageError(msg) from exc


def _validated(path: Path | str, table: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        msg = (
            f"{path}: unknown safe-pip setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_KNOWN_KEYS))}"
        )
        raise UsageError(msg)
    values = dict(table)
    for key in _LIST_KEYS:
        if key in values:
            raw = values[key]
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                msg = f"{path}: {key} must be a list of strings"
                raise UsageError(msg)
            values[key] = [i.strip() for i in items if i.strip()]
    for key in ("sources", "pins"):
        if key in values and not (
            isinstance(values[key], dict) and all(isinstance(v, str) for v in values[key].values())
        ):
            msg = f"{path}: {key} must be a table of strings"
            raise UsageError(msg)
    if "min-release-age" in values:
        values["min-release-age"] = _days(
            str(values["min-release-age"]), f"{path}: min-release-age"
        )
    return values


def _days(raw: str, what: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if days < 0:
        msg = f"{what} must be a number of days, not {raw!r}"
        raise UsageError(msg)
    return days


def _environment_table(environ: Mapping[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in _KNOWN_KEYS - {"sources", "pins"}:
        variable = "SAFE_PIP_" + key.upper().replace("-", "_")
        if environ.get(variable):
            table[key] = environ[variable]
    return table


def load_file_settings(cwd: Path, home: Path, environ: Mapping[str, str]) -> FileSettings:
    """Merge the user file, the project file and ``SAFE_PIP_*`` variables.

    :raises UsageError: a file is unreadable or has unknown or malformed settings.
    """
    layers: list[dict[str, Any]] = []
    files: list[Path] = []
    user_file = home / "config.toml"
    if user_file.is_file():
        layers.append(_validated(user_file, _read_toml(user_file)))
        files.append(user_file)
    project = _project_file(cwd)
    if project is not None:
        layers.append(_validated(project[0], project[1]))
        files.append(project[0])
    layers.append(_validated("environment", _environment_table(environ)))
    merged: dict[str, Any] = {"sources": {}, "pins": {}}
    for layer in layers:
        for key, value in layer.items():
            if key in _LIST_KEYS:
                merged[key] = [*merged.get(key, []), *value]
            elif key in ("sources", "pins"):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return FileSettings(
        # ``trusted`` reads better in a project's settings; both names mean the same.
        trust=(*merged.get("trust", ()), *merged.get("trusted", ())),
        allow_sdist=tuple(merged.get("allow-sdist", ())),
        allow_startup_hooks=tuple(merged.get("allow-startup-hooks", ())),
        min_release_age=merged.get("min-release-age"),
        index_url=merged.get("index-url"),
        extra_index_urls=tuple(merged.get("extra-index-url", ())),
        sources=merged["sources"],
        pins=merged["pins"],
        files=tuple(files),
    )


def release_cutoff(
    min_release_age: float | None, uploaded_prior_to: str | None, now: datetime
) -> datetime | None:
    """The newest upload time a file may have; the stricter of the two options wins.

    :raises UsageError: ``--uploaded-prior-to`` is neither ISO 8601 nor ``P<n>D``.
    """
    cutoffs = []
    if min_release_age is not None and min_release_age > 0:
        cutoffs.append(now - timedelta(days=min_release_age))
    if uploaded_prior_to:
        match = _DURATION_RE.match(uploaded_prior_to.strip())
        if match:
            cutoffs.append(now - timedelta(days=int(match.group(1))))
        else:
            try:
                moment = datetime.fromisoformat(uploaded_prior_to.strip())
            except ValueError as exc:
                msg = (
                    f"--uploaded-prior-to {uploaded_prior_to!r}: expected an ISO 8601 "
                    f"datetime or a duration like P3D"
                )
                raise UsageError(msg) from exc
            cutoffs.append(moment if moment.tzinfo else moment.astimezone())
    return min(cutoffs) if cutoffs else None


def _source(url: str, kind: SourceKind, names: Mapping[str, str]) -> SourceSpec:
    clean, user, password = split_credentials(url)
    if kind is SourceKind.FIND_LINKS and "://" not in clean:
        clean = str(Path(clean).expanduser().absolute())
    label = next(
        (name for name, named_url in names.items() if split_credentials(named_url)[0] == clean),
        "pypi" if clean.rstrip("/") == DEFAULT_INDEX else clean,
    )
    return SourceSpec(label, clean, kind, user, password)


def build_sources(
    *,
    index_url: str | None,
    extra_index_urls: Sequence[str],
    find_links: Sequence[str],
    no_index: bool,
    named: Mapping[str, str],
) -> tuple[SourceSpec, ...]:
    """Sources in priority order: find-links, extra indexes as given, then the index."""
    sources = [_source(url, SourceKind.FIND_LINKS, named) for url in find_links]
    if not no_index:
        sources += [_source(url, SourceKind.INDEX, named) for url in extra_index_urls]
        sources.append(_source(index_url or DEFAULT_INDEX, SourceKind.INDEX, named))
    unique: dict[str, SourceSpec] = {}
    for source in sources:
        unique.setdefault(source.url, source)
    return tuple(unique.values())


def build_pins(pins: Mapping[str, str], named: Mapping[str, str]) -> tuple[Pin, ...]:
    """Pins from settings; each must name a source of the ``sources`` table.

    :raises UsageError: a pin names an unknown source.
    """
    result = []
    for pattern, source_name in pins.items():
        if source_name not in named:
            msg = (
                f"settings pin {pattern!r} = {source_name!r}: no source named "
                f"{source_name!r} in the sources table"
            )
            raise UsageError(msg)
        result.append(Pin(pattern, _source(named[source_name], SourceKind.INDEX, named)))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the pipeline needs to know, decided once by the CLI."""

    home: Path
    cache_dir: Path | None
    """``None``: ``--no-cache-dir``, use a temporary cache for this command."""
    sources: tuple[SourceSpec, ...]
    pins: tuple[Pin, ...] = ()
    file_policy: FilePolicy = field(default_factory=FilePolicy)
    trust: NameSet = field(default_factory=NameSet)
    """First-seen projects approved by ``--trust`` or by the settings (the union)."""
    trust_flags: NameSet = field(default_factory=NameSet)
    """The part of ``trust`` given by ``--trust`` on this command: only naming a project
    there approves a changed source."""
    allow_startup_hooks: NameSet = field(default_factory=NameSet)
    """Projects that may install code run at every interpreter start (``.pth``, ...)."""
    network: NetworkOptions = field(default_factory=NetworkOptions)
    unattended: bool = True
    verbosity: int = 0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
