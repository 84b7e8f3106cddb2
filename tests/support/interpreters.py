"""A system Python for tests that must not touch the machine's own: a copy of the running
installation in a temporary directory, marked externally managed (PEP 668).

Whatever a test makes safe-pip install into it (say, because the PEP 668 check regressed)
lands in the copy, not in the distributor's Python.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from safe_pip.target import TargetEnvironment, query_target

__all__ = ["marked_python"]

# What the real installation has installed: the copy starts with nothing installed.
_LEFT_OUT = frozenset({"site-packages", "dist-packages", "EXTERNALLY-MANAGED"})


def marked_python(base: Path, error: str) -> Path:
    """An interpreter below ``base`` that is no virtual environment, whose standard library
    directory holds an ``EXTERNALLY-MANAGED`` file with ``error``, and whose every install
    path lies below ``base`` (checked by asking it, as safe-pip does).

    The interpreter is copied, not linked: Python finds its installation from the resolved
    path of its executable. The standard library is linked entry by entry.
    """
    home = Path(sys.base_prefix)
    stdlib = _mirror(home, base, Path(sysconfig.get_path("stdlib")))
    stdlib.mkdir(parents=True)
    for entry in Path(sysconfig.get_path("stdlib")).iterdir():
        if entry.name not in _LEFT_OUT:
            (stdlib / entry.name).symlink_to(entry)
    (stdlib / "site-packages").mkdir()
    (stdlib / "EXTERNALLY-MANAGED").write_text(f"[externally-managed]\nError={error}\n")
    real = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    python = _mirror(home, base, real)
    python.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(real, python)
    _link_shared_library(home, base)
    _check_contained(query_target(python), base)
    return python


def _mirror(home: Path, base: Path, path: Path) -> Path:
    """Where ``path`` of the installation at ``home`` lies in the copy at ``base``."""
    return base / path.resolve().relative_to(home.resolve())


def _link_shared_library(home: Path, base: Path) -> None:
    # A relocatable build finds its libpython relative to the executable.
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return
    library = Path(sysconfig.get_config_var("LIBDIR")) / sysconfig.get_config_var("INSTSONAME")
    if library.is_file() and library.resolve().is_relative_to(home.resolve()):
        copy = _mirror(home, base, library)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.symlink_to(library)


def _check_contained(target: TargetEnvironment, base: Path) -> None:
    inside = [target.prefix, target.stdlib, *(Path(path) for path in target.paths.values())]
    outside = [str(path) for path in inside if not path.is_relative_to(base)]
    if target.is_venv or outside:
        msg = f"the copied interpreter {target.python} would not install below {base}: {outside}"
        raise AssertionError(msg)
