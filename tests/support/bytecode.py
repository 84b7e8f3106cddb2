"""Bytecode as compileall writes it, to compare what safe-pip wrote with."""

from __future__ import annotations

import compileall
import importlib.util
import posixpath
import py_compile
import shutil
from pathlib import Path

__all__ = ["as_compileall_writes"]


def as_compileall_writes(
    source: Path, scheme_dir: Path, tmp_path: Path, mode: py_compile.PycInvalidationMode
) -> bytes:
    """The bytecode ``compileall -d`` writes for ``source`` in ``mode``, given the directory
    of its path under ``scheme_dir`` to name, as safe-pip does.

    compileall compiles a copy under ``tmp_path`` (with the source's timestamp), not the
    source, whose bytecode is what the test compares.
    """
    relative = source.relative_to(scheme_dir).as_posix()
    copy = tmp_path / "compileall" / relative
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, copy)
    compiled = compileall.compile_file(
        str(copy), ddir=posixpath.dirname(relative), force=True, quiet=2, invalidation_mode=mode
    )
    assert compiled, f"compileall did not compile {source}"
    return Path(importlib.util.cache_from_source(str(copy))).read_bytes()
