"""The description of itself :class:`safe_pip.target.TargetQuery` asks the target
interpreter for: run by it, by path, with the ``--prefix`` to compute the scheme for (or an
empty argument) and the directory holding safe-pip's ``packaging``; prints one JSON
document.

It runs without ``-I`` and ``-S``: what it reports (the import path with site-packages
and ``.pth`` entries, whether the user site is on, ``PYTHONPATH``) is what they change.
The target interpreter has neither safe-pip nor its dependencies, and may be as old as
Python 3.7: this module imports only the standard library and uses nothing newer.
"""

from __future__ import annotations

import os
import sys

# Run by path, a script has its directory first on sys.path: safe-pip's own modules, which
# are not the target's and which nothing here may import. Only what the interpreter has
# already loaded (os, sys) is used before it is gone.
if (
    __name__ == "__main__"
    and sys.path
    and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__))  # noqa: PTH120
):
    del sys.path[0]

import json
import site
import sysconfig
from collections.abc import Sequence
from typing import Any


def scheme_name(kind: str) -> str:
    """The interpreter's preferred install scheme of a kind (``prefix`` or ``user``)."""
    getter = getattr(sysconfig, "get_preferred_scheme", None)
    if getter is not None:
        name: str = getter(kind)
        return name
    if os.name == "posix":
        return {"prefix": "posix_prefix", "user": "posix_user"}[kind]
    return "nt" if kind == "prefix" else "nt_user"


def scheme_paths(kind: str, base: str | None = None) -> dict[str, str]:
    """The directories of a scheme, below ``base`` instead of the interpreter's prefix if
    given."""
    extra = (
        {"base": base, "platbase": base, "installed_base": base, "installed_platbase": base}
        if base
        else None
    )
    return sysconfig.get_paths(scheme_name(kind), vars=extra)


def describe(prefix: str | None) -> dict[str, Any]:
    """The interpreter, its install schemes and where it imports from."""
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "version": list(sys.version_info[:3]),
        "cache_tag": sys.implementation.cache_tag,
        "os_name": os.name,
        "paths": scheme_paths("prefix", prefix),
        "user_paths": scheme_paths("user"),
        "user_site_enabled": bool(site.ENABLE_USER_SITE),
        "stdlib": sysconfig.get_path("stdlib"),
        "sys_path": list(sys.path),
    }


def wheel_tags() -> list[str] | None:
    """The wheel tags the interpreter supports, most preferred first, as ``packaging``
    computes them; ``None`` if it cannot."""
    try:
        from packaging.tags import sys_tags

        return [str(tag) for tag in sys_tags()]
    except Exception:
        return None


def marker_environment() -> dict[str, object] | None:
    """The interpreter's PEP 508 marker environment; ``None`` if it cannot be had."""
    try:
        from packaging.markers import default_environment

        return dict(default_environment())
    except Exception:
        return None


def main(argv: Sequence[str]) -> int:
    """Print the description, for ``argv``: the prefix (or ``""``), ``packaging``'s
    directory."""
    prefix, packaging_dir = argv
    answer = describe(prefix or None)
    # The same computation pip makes inside the target (pip vendors packaging too).
    sys.path.insert(0, packaging_dir)
    answer["tags"] = wheel_tags()
    answer["markers"] = marker_environment()
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
