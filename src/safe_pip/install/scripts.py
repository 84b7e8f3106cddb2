"""Console and GUI scripts: the ones ``entry_points.txt`` declares, read as pypa/installer
reads them, and the ones pip writes for them.

A wheel is refused when ``entry_points.txt`` does not parse, names a script that is not a
plain file name, or does not survive pip's renaming of its versioned scripts.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence

from installer.utils import parse_entrypoints

__all__ = [
    "Script",
    "declared_scripts",
    "entry_points_data",
    "entry_points_text",
    "pip_scripts",
    "script_problems",
    "survives",
]

# pip's versioned wrappers (get_console_script_specs): the wheel's own versioned names of
# these two are dropped and written again for the interpreter installed into.
_PIP_VERSIONED = re.compile(r"pip(\d+(\.\d+)?)?$")
_EASY_INSTALL_VERSIONED = re.compile(r"easy_install(-\d+\.\d+)?$")

Script = tuple[str, str, str, str]
"""``(name, module, attribute, section)`` of a script, as pypa/installer reads
``entry_points.txt``; section is ``console`` or ``gui``."""


def entry_points_data(archive: zipfile.ZipFile, dist_info: str) -> bytes | None:
    """The ``entry_points.txt`` of a ``.dist-info`` as stored; ``None`` when there is none."""
    try:
        return archive.read(f"{dist_info}/entry_points.txt")
    except KeyError:
        return None


def declared_scripts(archive: zipfile.ZipFile, dist_info: str) -> list[Script]:
    """The console and GUI scripts ``entry_points.txt`` declares.

    :raises ValueError: the file does not parse the way pypa/installer reads it.
    """
    data = entry_points_data(archive, dist_info)
    if data is None:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(exc) from exc
    try:
        return list(parse_entrypoints(text))
    except Exception as exc:
        # installer asserts on malformed entries and configparser raises its own errors.
        raise ValueError(str(exc) or type(exc).__name__) from exc


def script_problems(archive: zipfile.ZipFile, dist_info: str) -> Iterator[str]:
    """Why ``entry_points.txt`` cannot be read, or names a script that is no plain file."""
    try:
        scripts = declared_scripts(archive, dist_info)
    except ValueError as exc:
        yield f"{dist_info}/entry_points.txt cannot be read: {exc}"
        return
    for name, *_rest in scripts:
        if not _plain_file_name(name):
            yield f"console script name {name!r} is not a plain file name"


def pip_scripts(declared: Sequence[Script], python_version: tuple[int, int]) -> list[Script]:
    """The scripts pip writes for the declared ones (``get_console_script_specs`` in
    ``pip._internal.operations.install.wheel``): a console script named ``pip`` is written
    as ``pip``, ``pipX`` and ``pipX.Y`` for the target interpreter, ``easy_install`` as
    ``easy_install`` and ``easy_install-X.Y``, and the wheel's own versioned names of
    either (built for whichever Python made the wheel) are dropped. Whatever project
    declares them, as pip does.

    pip's ``ENSUREPIP_OPTIONS`` (read only while ``ensurepip`` runs) is not followed.
    """
    major, minor = python_version
    console = {script[0]: script for script in declared if script[3] == "console"}
    written: list[Script] = []
    pip = console.pop("pip", None)
    if pip is not None:
        written += [(name, *pip[1:]) for name in ("pip", f"pip{major}", f"pip{major}.{minor}")]
        console = {k: v for k, v in console.items() if not _PIP_VERSIONED.match(k)}
    easy_install = console.pop("easy_install", None)
    if easy_install is not None:
        names = ("easy_install", f"easy_install-{major}.{minor}")
        written += [(name, *easy_install[1:]) for name in names]
        console = {k: v for k, v in console.items() if not _EASY_INSTALL_VERSIONED.match(k)}
    written += console.values()
    written += [script for script in declared if script[3] != "console"]
    return written


def entry_points_text(scripts: Sequence[Script]) -> str:
    """``entry_points.txt`` that pypa/installer reads as exactly ``scripts``."""
    sections: dict[str, list[str]] = {}
    for name, module, attribute, section in scripts:
        sections.setdefault(section, []).append(f"{name} = {module}:{attribute}\n")
    return "".join(f"[{section}_scripts]\n{''.join(lines)}" for section, lines in sections.items())


def survives(scripts: Sequence[Script]) -> bool:
    """Whether pypa/installer reads :func:`entry_points_text` of ``scripts`` as them."""
    return list(parse_entrypoints(entry_points_text(scripts))) == list(scripts)


def _plain_file_name(name: str) -> bool:
    if name in ("", ".", "..") or name != name.strip():
        return False
    return not any(c in "/\\:" or ord(c) < 32 or ord(c) == 127 for c in name)
