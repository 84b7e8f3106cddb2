"""Read pip's own configuration (pip.conf files and ``PIP_*`` variables) the way pip does.

safe-pip shuts pip's configuration out of the resolver subprocess, so that an extra index
in a pip.conf can never bypass the gateway. It reads that configuration itself instead, so
that aliasing ``pip`` to ``safe-pip`` changes nothing the user configured.

Precedence, lowest first, as pip documents it: global files, user files, the site file
(``<prefix>/pip.conf`` of the target environment), the file named by ``PIP_CONFIG_FILE``,
then ``PIP_*`` environment variables. The command's section (``[install]``) of any file
overrides ``[global]`` of every file. ``PIP_CONFIG_FILE=os.devnull`` disables every file.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from safe_pip.errors import UsageError

__all__ = ["config_files", "load_pip_config", "normalize_key", "pip_config_origins"]

_CONFIG_BASENAME = "pip.ini" if sys.platform == "win32" else "pip.conf"
_IGNORED_ENV_NAMES = frozenset({"version", "help"})


def normalize_key(name: str) -> str:
    """Normalize an option name as pip does: lower case, dashes, no leading ``--``."""
    return name.lower().replace("_", "-").removeprefix("--")


def _global_dirs(environ: Mapping[str, str]) -> list[Path]:
    if sys.platform == "win32":
        return [Path(environ.get("PROGRAMDATA", r"C:\ProgramData")) / "pip"]
    if sys.platform == "darwin":
        return [Path("/Library/Application Support/pip")]
    xdg = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    return [Path(part) / "pip" for part in xdg.split(os.pathsep) if part] + [Path("/etc")]


def _user_files(environ: Mapping[str, str]) -> list[Path]:
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        appdata = Path(environ.get("APPDATA", home / "AppData" / "Roaming"))
        return [home / "pip" / _CONFIG_BASENAME, appdata / "pip" / _CONFIG_BASENAME]
    legacy = home / ".pip" / _CONFIG_BASENAME
    if sys.platform == "darwin":
        mac = home / "Library" / "Application Support" / "pip"
        new_dir = mac if mac.is_dir() else home / ".config" / "pip"
    else:
        new_dir = Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip"
    return [legacy, new_dir / _CONFIG_BASENAME]


def config_files(
    environ: Mapping[str, str], site_prefix: Path | None, *, isolated: bool = False
) -> list[Path]:
    """The configuration files pip would read, lowest precedence first.

    :param environ: the environment pip would run with.
    :param site_prefix: ``sys.prefix`` of the environment being installed into.
    :param isolated: pip's ``--isolated``: no user files and no ``PIP_*`` variables.
    """
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files = [d / _CONFIG_BASENAME for d in _global_dirs(environ)]
    if not isolated and not (env_file and Path(env_file).exists()):
        files += _user_files(environ)
    if site_prefix is not None:
        files.append(site_prefix / _CONFIG_BASENAME)
    if env_file:
        files.append(Path(env_file))
    return files


def _read_file(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = normalize_key  # type: ignore[assignment,method-assign]
    try:
        with path.open(encoding="utf-8") as stream:
            parser.read_file(stream)
    except (configparser.Error, UnicodeDecodeError) as exc:
        msg = f"pip's configuration file {path} cannot be parsed: {exc}"
        raise UsageError(msg) from exc
    return parser


def _env_items(environ: Mapping[str, str]) -> Iterator[tuple[str, str, str]]:
    for key, value in environ.items():
        if key.startswith("PIP_"):
            name = normalize_key(key[4:])
            if name not in _IGNORED_ENV_NAMES:
                yield name, value, key


def _merged(
    command: str, environ: Mapping[str, str], site_prefix: Path | None, *, isolated: bool
) -> dict[str, tuple[str, str]]:
    """Each option pip would read for ``command``: its value and where it came from."""
    # Like pip: files merge per section first, so any file's [install] beats every [global].
    sections: dict[str, dict[str, tuple[str, str]]] = {"global": {}, command: {}}
    for path in config_files(environ, site_prefix, isolated=isolated):
        if not path.is_file():
            continue
        parser = _read_file(path)
        for name, values in sections.items():
            if parser.has_section(name):
                origin = f"pip configuration file {path} [{name}]"
                values.update((key, (value, origin)) for key, value in parser.items(name))
    merged = {**sections["global"], **sections[command]}
    if not isolated:
        merged.update(
            (name, (value, f"environment variable {variable}"))
            for name, value, variable in _env_items(environ)
        )
    return merged


def load_pip_config(
    command: str,
    environ: Mapping[str, str],
    site_prefix: Path | None,
    *,
    isolated: bool = False,
) -> dict[str, str]:
    """Merge pip's configuration for ``command`` into one mapping of option name to value.

    :raises UsageError: a configuration file is malformed.
    """
    merged = _merged(command, environ, site_prefix, isolated=isolated)
    return {name: value for name, (value, _) in merged.items()}


def pip_config_origins(
    command: str,
    environ: Mapping[str, str],
    site_prefix: Path | None,
    *,
    isolated: bool = False,
) -> dict[str, str]:
    """Where each option of :func:`load_pip_config` comes from: ``environment variable
    PIP_INDEX_URL``, or ``pip configuration file /etc/pip.conf [global]``.

    :raises UsageError: a configuration file is malformed.
    """
    merged = _merged(command, environ, site_prefix, isolated=isolated)
    return {name: origin for name, (_, origin) in merged.items()}
