"""pip's build options as safe-pip receives them: isolation, ``config_settings`` for the
backend and the constraints on build requirements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from safe_pip.errors import UsageError

if TYPE_CHECKING:
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = ["BuildOptions", "parse_config_settings"]


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """pip's build options, as the user gave them."""

    isolation: bool = True
    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    build_constraints: tuple[RequirementLine, ...] = ()


def parse_config_settings(values: Sequence[str]) -> dict[str, str | list[str]]:
    """``-C KEY=VALUE`` options as PEP 517 ``config_settings`` (repeated keys make a list).

    :raises UsageError: a value is not ``KEY=VALUE``.
    """
    settings: dict[str, str | list[str]] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep:
            msg = f"--config-settings {value!r}: expected KEY=VALUE"
            raise UsageError(msg)
        existing = settings.get(key)
        if existing is None:
            settings[key] = item
        elif isinstance(existing, list):
            existing.append(item)
        else:
            settings[key] = [existing, item]
    return settings
