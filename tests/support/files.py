"""Index entries made in unit tests."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.models import DistKind, IndexFile

__all__ = ["demo_wheel"]


def demo_wheel(sha256: str, **extra: Any) -> IndexFile:
    """demo 1.0's wheel as an index lists it, with ``sha256`` and any ``extra`` field."""
    return IndexFile(
        "demo-1.0-py3-none-any.whl",
        "https://files.example/demo.whl",
        canonicalize_name("demo"),
        Version("1.0"),
        DistKind.WHEEL,
        sha256,
        **extra,
    )
