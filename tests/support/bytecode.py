"""Bytecode as compileall writes it, to compare what safe-pip wrote with."""

from __future__ import annotations

import py_compile
from pathlib import Path

__all__ = ["as_compileall_writes"]


def as_compileall_writes(
    source: Path, tmp_path: Path, mode: py_compile.PycInvalidationMode
) -> bytes:
    """The bytecode compileall writes for ``source`` in ``mode`` (made under ``tmp_path``)."""
    expected = tmp_path / "expected.pyc"
    py_compile.compile(
        str(source), str(expected), str(source), doraise=True, invalidation_mode=mode
    )
    return expected.read_bytes()
