"""The settings layers read and merged: the user file, the project file (``safe-pip.toml``,
or ``[tool.safe-pip]`` of a ``pyproject.toml``) and the ``SAFE_PIP_*`` variables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safe_pip.errors import UsageError
from safe_pip.resolve.reqfile_syntax import unsafe_character
from safe_pip.settings.options import FileSettings
from safe_pip.settings.validation import KNOWN_KEYS, LIST_KEYS, validated

__all__ = ["load_file_settings"]


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
    # Imported here: most commands find no settings file, and start-up should not pay.
    import tomllib

    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except UnicodeDecodeError as exc:
        msg = f"Settings file {path} cannot be read: it is not UTF-8 text ({exc.reason})"
        raise UsageError(msg) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"Settings file {path} cannot be read: {exc}"
        raise UsageError(msg) from exc


def _environment_table(environ: Mapping[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in KNOWN_KEYS - {"sources", "pins", "ignore-vuln", "allow-new"}:
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
        layers.append(validated(user_file, _read_toml(user_file)))
        files.append(user_file)
    project = _project_file(cwd)
    if project is not None:
        layers.append(validated(project[0], project[1]))
        files.append(project[0])
    layers.append(validated("environment", _environment_table(environ)))
    merged: dict[str, Any] = {"sources": {}, "source-marks": {}, "pins": {}}
    for layer in layers:
        for key, value in layer.items():
            if key in LIST_KEYS or key == "allow-new":
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
