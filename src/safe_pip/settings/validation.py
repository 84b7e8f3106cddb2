"""One layer of settings checked: its keys known, its values of the right shape and free
of line breaks, numbers of days usable, each ``allow-new`` and ``ignore-vuln`` reasoned."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.errors import UsageError
from safe_pip.policy.trust import parse_exemption
from safe_pip.resolve.reqfile_syntax import unsafe_character
from safe_pip.settings.limits import parsed_days
from safe_pip.settings.sources import source_table

if TYPE_CHECKING:
    from safe_pip.models import Exemption

__all__ = ["KNOWN_KEYS", "LIST_KEYS", "validated"]

KNOWN_KEYS = frozenset(
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
LIST_KEYS = ("trust", "trusted", "allow-sdist", "allow-startup-hooks", "extra-index-url")
"""The settings whose values are lists, also written as one comma-separated string."""
_STRING_KEYS = ("index-url", "advisories")


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


def validated(path: Path | str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of one layer (a file, or ``"environment"``), lists split and stripped,
    the ``sources`` table parsed into URLs and ``source-marks``, days and exemptions parsed.

    :raises UsageError: naming ``path`` and the setting, for an unknown or malformed one.
    """
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        msg = (
            f"{path}: unknown safe-pip setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(KNOWN_KEYS))}"
        )
        raise UsageError(msg)
    # Settings name sources and projects: none has a line break, and one hidden in a value
    # could end a line wherever the value is written.
    for name, value in table.items():
        for key, found in _unsafe_strings(value, name):
            msg = f"{path}: the setting {key} contains {found}; remove it."
            raise UsageError(msg)
    values = dict(table)
    for key in LIST_KEYS:
        if key in values:
            raw = values[key]
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                msg = f"{path}: {key} must be a list of strings"
                raise UsageError(msg)
            values[key] = [i.strip() for i in items if i.strip()]
    if "sources" in values:
        values["sources"], values["source-marks"] = source_table(path, values["sources"])
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
        values["min-release-age"] = parsed_days(
            values["min-release-age"], f"{path}: min-release-age"
        )
    _validate_advisories(path, values)
    if "allow-new" in values:
        values["allow-new"] = _exemptions(path, values["allow-new"])
    return values


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
        values["advisories-max-age"] = parsed_days(
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
