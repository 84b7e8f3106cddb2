"""Fail when a module of safe-pip imports from a stage above its own.

The stages are layered: a stage may import the shared leaves and any stage below it, never
one above it, so each stage can be read, tested and replaced without the ones that use it.
Imports inside a sub-package are its own business. Every import counts, including those
under ``TYPE_CHECKING`` and inside functions: a type names a dependency as surely as a call.

Usage: ``python scripts/check_layers.py [SRC_DIR]`` (default ``src``); exit status 1 and
one line per backward import when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "safe_pip"

# Lowest first. A name is a top-level module or sub-package of safe_pip.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {
            "__init__",
            "errors",
            "models",
            "atomic",
            "locking",
            "reporting",
            "distfiles",
            "secret_key",
        }
    ),
    frozenset({"target", "target_probe"}),
    frozenset({"gateway"}),
    frozenset({"resolve"}),
    frozenset({"policy"}),
    frozenset({"build"}),
    frozenset({"install"}),
    frozenset({"settings", "pipeline", "doctor", "cache_usage"}),
    frozenset({"cli", "__main__"}),
)


def layer_of(unit: str) -> int:
    for rank, names in enumerate(LAYERS):
        if unit in names:
            return rank
    raise SystemExit(f"check_layers: {unit!r} is in no layer; add it to LAYERS")


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                for alias in node.names:
                    yield node.lineno, f"{PACKAGE}.{alias.name}"
            else:
                yield node.lineno, node.module


def _unit(dotted: str, root: Path) -> str | None:
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) > 1 and ((root / parts[1]).is_dir() or (root / f"{parts[1]}.py").exists()):
        return parts[1]
    return "__init__"


def backward_imports(src: Path) -> list[str]:
    """One line per import of a higher layer, as ``path:line: a imports b``."""
    found = []
    root = src / PACKAGE
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        unit = relative.parts[0].removesuffix(".py")
        rank = layer_of(unit)
        for line, name in _imported(ast.parse(path.read_text("utf-8"), str(path))):
            other = _unit(name, root)
            if other is None or other == unit:
                continue
            if layer_of(other) > rank:
                found.append(f"{path}:{line}: {unit} imports {name}, a higher layer")
    return found


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else Path("src")
    problems = backward_imports(src)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
