"""A project's ``[build-system]`` table: its build requirements and backend, with pip's
defaults for a project that has none."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safe_pip.build.sources import inside
from safe_pip.errors import InstallError, PolicyDenied

__all__ = ["BuildSystem", "read_build_system"]

# pip's default for projects without a [build-system] table.
_LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
_LEGACY_REQUIRES = ("setuptools>=40.8.0",)


@dataclass(frozen=True, slots=True)
class BuildSystem:
    """What builds a project: its backend's requirements, object and in-tree path."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...]
    """Resolved directories, each inside the project."""


def read_build_system(source: Path, label: str) -> BuildSystem:
    """The build system of the project in ``source``.

    :raises InstallError: its pyproject.toml cannot be parsed.
    :raises PolicyDenied: its backend-path leaves the project.
    """
    pyproject = source / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            msg = f"{label}: pyproject.toml cannot be parsed: {exc}"
            raise InstallError(msg) from exc
    if "build-backend" not in table:
        return BuildSystem(tuple(table.get("requires", _LEGACY_REQUIRES)), _LEGACY_BACKEND, ())
    backend_path = tuple(str((source / p).resolve()) for p in table.get("backend-path", []))
    for path in backend_path:
        if not inside(source.resolve(), path):
            msg = f"{label}: backend-path {path} is outside the project; refused (PEP 517)."
            raise PolicyDenied(msg)
    return BuildSystem(tuple(table.get("requires", ())), table["build-backend"], backend_path)
