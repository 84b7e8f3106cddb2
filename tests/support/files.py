"""Index entries made in unit tests."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.models import DistKind, IndexFile

__all__ = ["demo_wheel", "index_file"]


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


def index_file(
    name: str,
    version: str,
    kind: DistKind = DistKind.WHEEL,
    tag: str = "py3-none-any",
    **extra: Any,
) -> IndexFile:
    """``name`` ``version``'s wheel (with ``tag``) or sdist as an index lists it, with a
    digest of its own and any ``extra`` field (``upload_time``, ``size``)."""
    suffix = f"-{tag}.whl" if kind is DistKind.WHEEL else ".tar.gz"
    return IndexFile(
        filename=f"{name}-{version}{suffix}",
        url=f"https://files.example/{name}-{version}{suffix}",
        project=canonicalize_name(name),
        version=Version(version),
        kind=kind,
        sha256=f"{name}{version}{tag}".encode().hex().ljust(64, "0")[:64],
        **extra,
    )
