"""Refresh the typosquat check's list of the most-downloaded PyPI projects.

Reads the well-known top-pypi-packages data (https://hugovk.github.io/top-pypi-packages/) as
JSON (``{"rows": [{"project": ...}, ...]}``), CSV (a ``project`` column) or a plain list of
one name per line, most downloaded first, from a file or (with ``--url``) the web, and
writes src/safe_pip/data/top-pypi-packages.txt: canonical names, each once, in rank order.

Usage: python scripts/refresh_top_packages.py SOURCE [--output PATH]
       python scripts/refresh_top_packages.py --url [URL] [--output PATH]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

DEFAULT_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "src" / "safe_pip" / "data" / "top-pypi-packages.txt"
)


def parse(text: str) -> list[str]:
    """The project names in ``text``, in the order given, whichever of the formats it is."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        data = json.loads(stripped)
        rows = data["rows"] if isinstance(data, dict) else data
        return [row["project"] if isinstance(row, dict) else str(row) for row in rows]
    first = stripped.split("\n", 1)[0]
    if "," in first:
        return [row["project"] for row in csv.DictReader(io.StringIO(stripped))]
    return [line.strip() for line in stripped.splitlines() if line.strip()]


def normalize(names: Iterable[str]) -> list[str]:
    """Canonical names, each kept at its first (most downloaded) place."""
    return list(dict.fromkeys(canonicalize_name(name) for name in names))


def write_atomic(path: Path, names: Sequence[str]) -> None:
    """Replace ``path`` in one step, so a reader never sees half a list."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write("".join(f"{name}\n" for name in names))
        # Package data, not a secret: mkstemp made it 0600.
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _download(url: str) -> str:
    import httpx  # only this path needs the network

    response = httpx.get(url, follow_redirects=True, timeout=30)
    response.raise_for_status()
    return response.text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("source", nargs="?", type=Path, help="a JSON, CSV or plain list file")
    source.add_argument("--url", nargs="?", const=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    text = _download(args.url) if args.url else args.source.read_text(encoding="utf-8")
    names = normalize(parse(text))
    if not names:
        parser.error("the source lists no projects")
    write_atomic(args.output, names)
    print(f"wrote {len(names)} names to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
