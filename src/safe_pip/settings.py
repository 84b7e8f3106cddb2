"""safe-pip's settings: one frozen object, built once from flags, environment and files.

Precedence, highest first: command-line flags; ``SAFE_PIP_*`` environment variables;
``[tool.safe-pip]`` in the nearest ``pyproject.toml`` (or a ``safe-pip.toml``) from the
current directory upwards; the user file ``$SAFE_PIP_HOME/config.toml``. List settings
(``trust``/``trusted``, ``allow-sdist``) are the union of every layer. pip's own configuration
(pip.conf, ``PIP_*``) is read separately by :mod:`safe_pip.resolve.pipconfig` and applies to
pip's options as pip would apply it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from safe_pip.errors import UsageError
from safe_pip.gateway.network import NetworkOptions, redact_url, split_credentials
from safe_pip.gateway.selection import FilePolicy, Pin
from safe_pip.gateway.shadows import group_of
from safe_pip.models import Exemption, NameSet, SourceKind, SourceMarks, SourceSpec
from safe_pip.policy.advisory_source import AdvisoryOptions
from safe_pip.policy.trust import parse_exemption
from safe_pip.resolve.requirements import unsafe_character

__all__ = [
    "DEFAULT_INDEX",
    "DEFAULT_MIN_RELEASE_AGE",
    "FileSettings",
    "Settings",
    "build_sources",
    "checked_days",
    "checked_network",
    "cooldown_policy",
    "default_home",
    "is_unattended",
    "load_file_settings",
    "min_release_age",
    "release_cutoff",
    "split_trust",
]

DEFAULT_INDEX = "https://pypi.org/simple"
DEFAULT_MIN_RELEASE_AGE = 7.0
"""The cooldown, in days: hijacked releases are usually found and removed within it
(``--min-release-age 0`` turns it off)."""
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
        "advisories",
        "advisories-max-age",
        "require-advisories",
        "ignore-vuln",
        "allow-new",
    }
)
_LIST_KEYS = ("trust", "trusted", "allow-sdist", "allow-startup-hooks", "extra-index-url")
_DURATION_RE = re.compile(r"^P(\d+)D$", re.IGNORECASE)
_MAX_DAYS = 36525.0
"""A hundred years: more than any cooldown or cache age means, and far enough from what a
date can hold (year 1) that subtracting it from today never overflows."""
_STRING_KEYS = ("index-url", "advisories")
_MAX_TIMEOUT = 86400.0
"""A day: any longer network timeout is a mistake (and ``inf`` overflows a socket's)."""


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
    source_marks: Mapping[str, SourceMarks] = field(default_factory=dict)
    """What the ``sources`` table says of each named source (private, mirror-of, ...)."""
    pins: Mapping[str, str] = field(default_factory=dict)
    advisories: str | None = None
    advisories_max_age: float | None = None
    require_advisories: bool = False
    ignore_vuln: Mapping[str, str] = field(default_factory=dict)
    """Advisory IDs to ignore, each with the reason written in the settings."""
    allow_new: tuple[Exemption, ...] = ()
    """``allow-new``: releases let through the cooldown, with a reason and an expiry."""
    files: tuple[Path, ...] = ()
    """The settings files that were read, for messages."""


def _project_file(cwd: Path) -> tuple[Path, Mapping[str, Any]] | None:
    for directory in (cwd, *cwd.parents):
        standalone = directory / "safe-pip.toml"
        if standalone.is_file():
            return standalone, _read_toml(standalone)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = _tool_table(pyproject, _read_toml(pyproject))
            if table is not None:
                return pyproject, table
    return None


def _tool_table(pyproject: Path, document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``[tool.safe-pip]`` of a ``pyproject.toml``, or ``None`` if it has none.

    :raises UsageError: ``tool`` or ``tool.safe-pip`` is there but is not a table.
    """
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        msg = f"{pyproject}: tool must be a table ([tool]), not {type(tool).__name__}"
        raise UsageError(msg)
    table = tool.get("safe-pip")
    if table is not None and not isinstance(table, dict):
        msg = (
            f"{pyproject}: tool.safe-pip must be a table ([tool.safe-pip]), not "
            f"{type(table).__name__}"
        )
        raise UsageError(msg)
    return table


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except UnicodeDecodeError as exc:
        msg = f"Settings file {path} cannot be read: it is not UTF-8 text ({exc.reason})"
        raise UsageError(msg) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"Settings file {path} cannot be read: {exc}"
        raise UsageError(msg) from exc


def _unsafe_strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """``(setting, what)`` for each string in a setting's value (table keys included) with a
    line break or NUL in it."""
    if isinstance(value, str):
        found = unsafe_character(value)
        if found is not None:
            yield key, found
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _unsafe_strings(name, key)
            yield from _unsafe_strings(item, f"{key}.{name}")
    elif isinstance(value, list):
        for item in value:
            yield from _unsafe_strings(item, key)


def _validated(path: Path | str, table: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        msg = (
            f"{path}: unknown safe-pip setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_KNOWN_KEYS))}"
        )
        raise UsageError(msg)
    # Settings name sources and projects: none has a line break, and one hidden in a value
    # could end a line wherever the value is written.
    for name, value in table.items():
        for key, found in _unsafe_strings(value, name):
            msg = f"{path}: the setting {key} contains {found}; remove it."
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
    if "sources" in values:
        values["sources"], values["source-marks"] = _source_table(path, values["sources"])
    for key in ("sources", "pins", "ignore-vuln"):
        if key in values and not (
            isinstance(values[key], dict) and all(isinstance(v, str) for v in values[key].values())
        ):
            msg = f"{path}: {key} must be a table of strings"
            raise UsageError(msg)
    for key in _STRING_KEYS:
        if key in values and not isinstance(values[key], str):
            msg = f"{path}: {key} must be a string, not {type(values[key]).__name__}"
            raise UsageError(msg)
    if "min-release-age" in values:
        values["min-release-age"] = _days(values["min-release-age"], f"{path}: min-release-age")
    _validate_advisories(path, values)
    if "allow-new" in values:
        values["allow-new"] = _exemptions(path, values["allow-new"])
    return values


_SOURCE_KEYS: dict[str, type] = {
    "url": str,
    "private": bool,
    "public": bool,
    "mirror-of": str,
    "check-public-shadows": bool,
}


def _source_table(path: Path | str, table: Any) -> tuple[dict[str, Any], dict[str, SourceMarks]]:
    """The ``sources`` table as URLs by name, and the marks of each source written as a
    table (``corp = { url = "...", private = true }``).

    :raises UsageError: an entry is neither a URL nor a table of the known keys.
    """
    if not isinstance(table, dict):
        return table, {}
    urls: dict[str, Any] = {}
    marks: dict[str, SourceMarks] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            urls[name] = entry
            continue
        wrong = sorted(
            key
            for key, value in entry.items()
            if key not in _SOURCE_KEYS or not isinstance(value, _SOURCE_KEYS[key])
        )
        if wrong or not isinstance(entry.get("url"), str):
            msg = (
                f"{path}: sources.{name} must be a URL, or a table with a url and any of "
                f'private = true, public = true, mirror-of = "NAME", '
                f"check-public-shadows = true/false"
                + (f" (wrong: {', '.join(wrong)})" if wrong else " (no url)")
            )
            raise UsageError(msg)
        if entry.get("private") and entry.get("public"):
            msg = f"{path}: sources.{name} cannot be both private and public"
            raise UsageError(msg)
        urls[name] = entry["url"]
        private = True if entry.get("private") else False if entry.get("public") else None
        marks[name] = SourceMarks(
            private=private,
            mirror_of=entry.get("mirror-of"),
            check_public_shadows=entry.get("check-public-shadows"),
        )
    return urls, marks


def _exemptions(path: Path | str, table: Any) -> list[Exemption]:
    """``allow-new``: ``"NAME[==VERSION]" = "reason"`` or ``= {reason = "...", until =
    "YYYY-MM-DD"}``, as ``safe-pip trust allow-new`` takes them."""
    if not isinstance(table, dict):
        msg = f'{path}: allow-new must be a table: "NAME[==VERSION]" = {{reason = "...", ...}}'
        raise UsageError(msg)
    found = []
    for spec, value in table.items():
        fields = {"reason": value} if isinstance(value, str) else value
        if not isinstance(fields, dict) or set(fields) - {"reason", "until"}:
            msg = f"{path}: allow-new {spec!r} takes a reason and an optional until date"
            raise UsageError(msg)
        try:
            found.append(
                parse_exemption(
                    spec, str(fields.get("reason", "")), _date_text(fields.get("until")), str(path)
                )
            )
        except ValueError as exc:
            msg = f"{path}: allow-new: {exc}"
            raise UsageError(msg) from exc
    return found


def _date_text(value: Any) -> str | None:
    # TOML has dates of its own: ``until = 2026-12-31`` arrives as a date.
    return (
        None if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    )


def _validate_advisories(path: Path | str, values: dict[str, Any]) -> None:
    """The vulnerability settings: a source, a maximum age, a switch, reasoned ignores."""
    if "advisories-max-age" in values:
        values["advisories-max-age"] = _days(
            values["advisories-max-age"], f"{path}: advisories-max-age"
        )
    if "require-advisories" in values:
        raw = values["require-advisories"]
        text = str(raw).strip().lower()
        if not isinstance(raw, bool) and text not in ("1", "0", "true", "false", "yes", "no"):
            msg = f"{path}: require-advisories must be true or false, not {raw!r}"
            raise UsageError(msg)
        values["require-advisories"] = raw is True or text in ("1", "true", "yes")
    for ident, reason in values.get("ignore-vuln", {}).items():
        if not reason.strip():
            msg = (
                f"{path}: ignore-vuln {ident!r} needs a reason, written to the audit log: "
                f'"{ident}" = "why the risk is acceptable"'
            )
            raise UsageError(msg)


def _days(raw: object, what: str) -> float:
    """A number of days as a setting gives it (a TOML number, or text from a variable).

    :raises UsageError: not a number, or one that is negative, not finite (``nan`` would
        compare false with every age and turn the check off) or beyond any sane age.
    """
    days = -1.0
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        try:
            days = float(raw)
        except (ValueError, OverflowError):
            days = -1.0
    return checked_days(days, what, shown=raw)


def checked_days(days: float, what: str, *, shown: object = None) -> float:
    """``days`` if it is a usable number of days: from 0 to a hundred years.

    :raises UsageError: naming ``what`` (the setting or the flag), for any other value.
    """
    if not (math.isfinite(days) and 0 <= days <= _MAX_DAYS):
        value = days if shown is None else shown
        msg = f"{what} must be a number of days from 0 to {_MAX_DAYS:g}, not {value!r}"
        raise UsageError(msg)
    return days


def checked_network(timeout: float, retries: int) -> tuple[float, int]:
    """``--timeout`` and ``--retries`` (or pip's configuration of them) if usable: a
    timeout of more than 0 seconds and at most a day (``nan``, ``inf`` or a negative one
    fail deep in a socket), and a count of retries that is not negative.

    :raises UsageError: naming the option, for any other value.
    """
    if not (math.isfinite(timeout) and 0 < timeout <= _MAX_TIMEOUT):
        msg = f"--timeout must be more than 0 and at most {_MAX_TIMEOUT:g} seconds, not {timeout:g}"
        raise UsageError(msg)
    if retries < 0:
        msg = f"--retries must be 0 or more, not {retries}"
        raise UsageError(msg)
    return timeout, retries


def _environment_table(environ: Mapping[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in _KNOWN_KEYS - {"sources", "pins", "ignore-vuln", "allow-new"}:
        variable = "SAFE_PIP_" + key.upper().replace("-", "_")
        found = unsafe_character(environ.get(variable, ""))
        if found is not None:
            msg = f"The environment variable {variable} contains {found}; remove it."
            raise UsageError(msg)
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
    merged: dict[str, Any] = {"sources": {}, "source-marks": {}, "pins": {}}
    for layer in layers:
        for key, value in layer.items():
            if key in _LIST_KEYS or key == "allow-new":
                merged[key] = [*merged.get(key, []), *value]
            elif key in ("sources", "source-marks", "pins", "ignore-vuln"):
                merged[key] = {**merged.get(key, {}), **value}
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
        source_marks=merged["source-marks"],
        pins=merged["pins"],
        advisories=merged.get("advisories"),
        advisories_max_age=merged.get("advisories-max-age"),
        require_advisories=merged.get("require-advisories", False),
        ignore_vuln=merged.get("ignore-vuln", {}),
        allow_new=tuple(merged.get("allow-new", ())),
        files=tuple(files),
    )


def min_release_age(
    flag: float | None, setting: float | None, *, hash_locked: bool
) -> float | None:
    """The cooldown in days: the flag, else the setting, else 7 days, except for a
    hash-locked install (``--require-hashes`` or ``--hash`` pins), whose lock was the review."""
    if flag is not None:
        return flag
    if setting is not None:
        return setting
    return None if hash_locked else DEFAULT_MIN_RELEASE_AGE


def release_cutoff(
    min_release_age: float | None, uploaded_prior_to: str | None, now: datetime
) -> datetime | None:
    """The newest upload time a file may have; the stricter of the two options wins.

    :raises UsageError: ``--uploaded-prior-to`` is neither ISO 8601 nor ``P<n>D``, or
        either option is not a number of days from 0 to a hundred years.
    """
    cutoffs = []
    if min_release_age is not None:
        checked_days(min_release_age, "--min-release-age")
    if min_release_age:
        cutoffs.append(now - timedelta(days=min_release_age))
    if uploaded_prior_to:
        match = _DURATION_RE.match(uploaded_prior_to.strip())
        if match:
            # float(), unlike int(), takes any number of digits (too many: inf, refused).
            days = float(match.group(1))
            checked_days(days, "--uploaded-prior-to", shown=uploaded_prior_to)
            cutoffs.append(now - timedelta(days=days))
        else:
            try:
                moment = datetime.fromisoformat(uploaded_prior_to.strip())
                # A naive time is local; at the ends of the calendar it has no UTC time.
                cutoffs.append(moment if moment.tzinfo else moment.astimezone())
            except (ValueError, OverflowError) as exc:
                msg = (
                    f"--uploaded-prior-to {uploaded_prior_to!r}: expected an ISO 8601 "
                    f"datetime or a duration like P3D"
                )
                raise UsageError(msg) from exc
    return min(cutoffs) if cutoffs else None


def cooldown_policy(
    allow_sdist: NameSet,
    *,
    age_flag: float | None,
    age_setting: float | None,
    uploaded_prior_to: str | None,
    hash_locked: bool,
    exemptions: Sequence[Exemption],
    now: datetime,
) -> FilePolicy:
    """The gateway's file policy: the cooldown (:func:`min_release_age`), and the
    exemptions from it, those past their last day set apart to be reported.

    :raises UsageError: ``--uploaded-prior-to`` is malformed.
    """
    age = min_release_age(age_flag, age_setting, hash_locked=hash_locked)
    today = now.date()
    return FilePolicy(
        allow_sdist=allow_sdist,
        cutoff=release_cutoff(age, uploaded_prior_to, now),
        min_release_age=age,
        exemptions=tuple(e for e in exemptions if not e.expired(today)),
        expired=tuple(e for e in exemptions if e.expired(today)),
    )


def split_trust(values: Sequence[str]) -> tuple[list[str], list[Exemption]]:
    """``--trust`` values as project names, and an exemption from the cooldown for each
    ``NAME==VERSION`` (naming the release is the reason).

    :raises UsageError: a ``NAME==VERSION`` with no valid version.
    """
    names: list[str] = []
    exemptions: list[Exemption] = []
    for part in (part.strip() for value in values for part in value.split(",")):
        if "==" in part:
            try:
                exemption = parse_exemption(part, "named with --trust", None, "--trust")
            except ValueError as exc:
                msg = f"--trust {part}: {exc}"
                raise UsageError(msg) from exc
            exemptions.append(exemption)
            part = exemption.name
        names.append(part)
    return names, exemptions


def _source(
    url: str,
    kind: SourceKind,
    names: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> SourceSpec:
    found = unsafe_character(url)
    if found is not None:
        msg = f"The {kind.value} source {redact_url(url)!r} contains {found}; remove it."
        raise UsageError(msg)
    clean, user, password = split_credentials(url)
    if kind is SourceKind.FIND_LINKS and "://" not in clean:
        clean = str(Path(clean).expanduser().absolute())
    label = next(
        (name for name, named_url in names.items() if split_credentials(named_url)[0] == clean),
        "pypi" if clean.rstrip("/") == DEFAULT_INDEX else clean,
    )
    return SourceSpec(label, clean, kind, user, password, (marks or {}).get(label, SourceMarks()))


def build_sources(
    *,
    index_url: str | None,
    extra_index_urls: Sequence[str],
    find_links: Sequence[str],
    no_index: bool,
    named: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> tuple[SourceSpec, ...]:
    """Sources in priority order: find-links, extra indexes as given, then the index; and
    last, each source of the settings declared a mirror of one of those (it is merged
    with the source it mirrors, see :func:`safe_pip.gateway.shadows.group_of`)."""
    sources = [_source(url, SourceKind.FIND_LINKS, named, marks) for url in find_links]
    if not no_index:
        sources += [_source(url, SourceKind.INDEX, named, marks) for url in extra_index_urls]
        sources.append(_source(index_url or DEFAULT_INDEX, SourceKind.INDEX, named, marks))
        configured = {source.name for source in sources}
        sources += [
            _source(named[name], SourceKind.INDEX, named, marks)
            for name, mark in (marks or {}).items()
            if mark.mirror_of in configured and name in named
        ]
    unique: dict[str, SourceSpec] = {}
    for source in sources:
        unique.setdefault(source.url, source)
    return _grouped(tuple(unique.values()))


def _grouped(sources: tuple[SourceSpec, ...]) -> tuple[SourceSpec, ...]:
    """The sources, each told the URLs of the other members of its mirror group."""
    result = []
    for source in sources:
        others = tuple(s.url for s in group_of(source, sources) if s != source)
        marks = dataclasses.replace(source.marks, group=others)
        result.append(dataclasses.replace(source, marks=marks))
    return tuple(result)


def build_pins(
    pins: Mapping[str, str],
    named: Mapping[str, str],
    marks: Mapping[str, SourceMarks] | None = None,
) -> tuple[Pin, ...]:
    """Pins from settings; each must name a source of the ``sources`` table (or ``pypi``,
    the default index, unless the table names another source so).

    :raises UsageError: a pin names an unknown source.
    """
    known = {"pypi": DEFAULT_INDEX, **named}
    result = []
    for pattern, source_name in pins.items():
        if source_name not in known:
            msg = (
                f"settings pin {pattern!r} = {source_name!r}: no source named "
                f"{source_name!r} in the sources table"
            )
            raise UsageError(msg)
        source = _source(known[source_name], SourceKind.INDEX, named, marks)
        result.append(Pin(pattern, source))
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
    advisories: AdvisoryOptions = field(default_factory=AdvisoryOptions)
    """Where known vulnerabilities come from (no source: nothing is checked)."""
    unattended: bool = True
    verbosity: int = 0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
