"""Refresh the review's reference data about the most-downloaded PyPI projects.

Two files, both package data under src/safe_pip/data/:

``top-pypi-packages.txt`` (the names; default mode). Reads the well-known top-pypi-packages
data (https://hugovk.github.io/top-pypi-packages/) as JSON (``{"rows": [{"project": ...},
...]}``), CSV (a ``project`` column) or a plain list of one name per line, most downloaded
first, from a file or (with ``--url``) the web, and writes canonical names, each once, in
rank order.

``top-projects.json`` (``--projects``): for the first ``--limit`` names of that list (1,000 at
most), the repositories their metadata names and the console scripts and import names their
newest wheel provides, read from the index: the PEP 691 JSON page lists the files, each
wheel's PEP 658 ``<url>.metadata`` gives Home-page and Project-URL, and HTTP range requests
read the wheel's zip central directory (the file listing) and its ``entry_points.txt``
without downloading the wheel. At most four requests run at once, each with a timeout.

Usage: python scripts/refresh_top_packages.py SOURCE [--output PATH]
       python scripts/refresh_top_packages.py --url [URL] [--output PATH]
       python scripts/refresh_top_packages.py --projects [--limit N] [--index-url URL]
"""

from __future__ import annotations

import argparse
import configparser
import csv
import datetime
import email.parser
import io
import json
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from safe_pip.policy.reference import DATA_FILE, FORMAT_VERSION, repository

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
DATA = Path(__file__).resolve().parent.parent / "src" / "safe_pip" / "data"
DEFAULT_OUTPUT = DATA / "top-pypi-packages.txt"
DEFAULT_INDEX = "https://pypi.org/simple"
# The product needs the most popular projects only; more would be a scan of the index.
MAX_PROJECTS = 1000
MAX_CONCURRENCY = 4
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_TAIL = 65_536  # the end of a wheel: its central directory, almost always
# Without range requests, only wheels this small are downloaded whole.
_SMALL_WHEEL = 1_000_000
_OLDER = datetime.timedelta(days=365)
# Top-level names that packagers ship by accident: nobody means them as a project name.
_NOT_IMPORT_NAMES = frozenset(
    {
        "test",
        "tests",
        "testing",
        "doc",
        "docs",
        "example",
        "examples",
        "benchmarks",
        "bench",
        "scripts",
        "script",
        "src",
        "bin",
        "lib",
        "build",
        "tools",
        "utils",
        "data",
        "share",
    }
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


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """``document`` as compact JSON, one project per line so that refreshes diff well."""
    projects = document["projects"]
    head = {key: value for key, value in document.items() if key != "projects"}
    lines = [
        f"{json.dumps(name)}:{json.dumps(entry, separators=(',', ':'))}"
        for name, entry in projects.items()
    ]
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"projects":{\n'
    text += ",\n".join(lines) + "\n}}\n"
    write_atomic(path, text.splitlines())


class Fetcher:
    """Reads one project's reference entry from a PEP 691 index, politely."""

    def __init__(self, client: httpx.Client, index_url: str) -> None:
        self._client = client
        self._index = index_url.rstrip("/")

    def entry(self, name: str) -> dict[str, list[str]]:
        """``{"r": repositories, "s": scripts, "i": import names}``, empty lists left out.

        Read from the newest release's wheel and from the newest one of the previous major
        version (or else at least a year older): a renamed command (``huggingface-cli``,
        now ``hf``) or a moved repository is what people and code assistants trained on
        older code still use.
        """
        entry: dict[str, list[str]] = {"r": [], "s": [], "i": []}
        for wheel in self._wheels(name):
            for key, values in self._read(wheel).items():
                entry[key] += [value for value in values if value != name]
        return {key: list(dict.fromkeys(values)) for key, values in entry.items() if values}

    def _read(self, wheel: dict[str, Any]) -> dict[str, list[str]]:
        url = wheel["url"]
        listing = self._listing(url, int(wheel.get("size") or 0))
        metadata = self._metadata(url, listing)
        found = {"r": metadata_repositories(metadata) if metadata is not None else []}
        if listing is not None:
            found["i"] = import_names(listing)
            member = next((m for m in listing if _is_dist_info(m, "entry_points.txt")), None)
            found["s"] = console_scripts(
                (self._member(url, listing, member) or "") if member else ""
            )
        return found

    def _metadata(self, url: str, listing: dict[str, tuple[int, int, int]] | None) -> str | None:
        """The wheel's METADATA: its PEP 658 file, or (where the index has none, as this
        mirror for the newest uploads) the member read from the wheel."""
        response = self._client.get(f"{url}.metadata")
        if response.status_code == 200:
            return response.text
        member = next((m for m in listing or () if _is_dist_info(m, "METADATA")), None)
        return self._member(url, listing, member) if listing and member else None

    def _wheels(self, name: str) -> list[dict[str, Any]]:
        """A wheel of the newest final release, and one of the previous major version (or,
        without one, of the newest release a year older)."""
        response = self._client.get(f"{self._index}/{name}/", headers={"Accept": _SIMPLE_JSON})
        response.raise_for_status()
        wheels = [
            f
            for f in response.json().get("files", [])
            if f["filename"].endswith(".whl") and not f.get("yanked") and f.get("upload-time")
        ]
        final = [f for f in wheels if not _wheel_version(f["filename"]).is_prerelease]
        wheels = final or wheels
        if not wheels:
            return []
        newest = _pick(wheels)
        major = _wheel_version(newest["filename"]).major
        older = [f for f in wheels if _wheel_version(f["filename"]).major < major]
        if not older:
            cutoff = datetime.datetime.fromisoformat(newest["upload-time"]) - _OLDER
            older = [
                f for f in wheels if datetime.datetime.fromisoformat(f["upload-time"]) < cutoff
            ]
        return [newest, _pick(older)] if older else [newest]

    def _range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (inclusive) of ``url``: a range request, or the whole
        file if the server ignores ranges and the file is small."""
        with self._client.stream("GET", url, headers={"Range": f"bytes={start}-{end}"}) as got:
            got.raise_for_status()
            if got.status_code == 206:
                return got.read()
            if int(got.headers.get("content-length") or _SMALL_WHEEL + 1) > _SMALL_WHEEL:
                msg = f"{url}: the server ignores range requests and the wheel is large"
                raise RuntimeError(msg)
            return got.read()[start : end + 1]

    def _listing(self, url: str, size: int) -> dict[str, tuple[int, int, int]] | None:
        """Member name to (local header offset, compressed size, method), from the central
        directory; ``None`` for a ZIP64 or unreadable archive."""
        if size <= 0:
            return None
        tail_start = max(0, size - _TAIL)
        tail = self._range(url, tail_start, size - 1)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None
        cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
        if cd_offset == 0xFFFFFFFF:
            return None
        if cd_offset >= tail_start:
            directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        else:
            directory = self._range(url, cd_offset, cd_offset + cd_size - 1)
        return central_directory(directory)

    def _member(
        self, url: str, listing: dict[str, tuple[int, int, int]], member: str
    ) -> str | None:
        """One member's text, read by a range request (stored or deflated only)."""
        offset, compressed, method = listing[member]
        # The local header's extra field may differ from the central one's: read some slack.
        data = self._range(url, offset, offset + 30 + len(member.encode()) + 1024 + compressed)
        name_length, extra_length = struct.unpack_from("<HH", data, 26)
        raw = data[30 + name_length + extra_length :][:compressed]
        if method == 8:
            return zlib.decompressobj(-15).decompress(raw).decode("utf-8", "replace")
        return raw.decode("utf-8", "replace") if method == 0 else None


def metadata_repositories(text: str) -> list[str]:
    """The repositories named by a METADATA file's Home-page and Project-URL fields."""
    message = email.parser.Parser().parsestr(text, headersonly=True)
    urls = [message.get("Home-page", "")]
    urls += [value.partition(",")[2] for value in message.get_all("Project-URL", [])]
    return list(dict.fromkeys(r for u in urls if (r := repository(u)) is not None))


def _pick(wheels: list[dict[str, Any]]) -> dict[str, Any]:
    """Of the newest version's wheels, the pure one, else the smallest: any lists the same
    packages and scripts, and a small one is cheap to fall back to."""
    newest = max(_wheel_version(f["filename"]) for f in wheels)
    candidates = [f for f in wheels if _wheel_version(f["filename"]) == newest]
    return min(candidates, key=lambda f: ("-none-any" not in f["filename"], f.get("size", 0)))


def _wheel_version(filename: str) -> Any:
    try:
        return parse_wheel_filename(filename)[1]
    except InvalidWheelFilename:
        return parse_wheel_filename("invalid-0-py3-none-any.whl")[1]


def _is_dist_info(member: str, filename: str) -> bool:
    top, _, rest = member.partition("/")
    return top.endswith(".dist-info") and rest == filename


def central_directory(directory: bytes) -> dict[str, tuple[int, int, int]]:
    """Member name to (local header offset, compressed size, method) of a zip's central
    directory."""
    members = {}
    at = 0
    while directory[at : at + 4] == b"PK\x01\x02" and at + 46 <= len(directory):
        method = struct.unpack_from("<H", directory, at + 10)[0]
        compressed = struct.unpack_from("<I", directory, at + 20)[0]
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", directory, at + 28)
        offset = struct.unpack_from("<I", directory, at + 42)[0]
        name = directory[at + 46 : at + 46 + name_length].decode("utf-8", "replace")
        members[name] = (offset, compressed, method)
        at += 46 + name_length + extra_length + comment_length
    return members


def import_names(members: Iterable[str]) -> list[str]:
    """The top-level modules and regular packages of a wheel's file listing, canonicalized.

    Namespace packages (a directory without ``__init__.py``, like ``google``) are shared by
    many projects and name none of them; private (``_x``) and accidental (``tests``) names
    are left out too.
    """
    members = list(members)
    inits = {
        m.split("/", 1)[0] for m in members if m.count("/") == 1 and m.endswith("/__init__.py")
    }
    found = set(inits)
    for member in members:
        if "/" not in member and member.endswith((".py", ".so", ".pyd")):
            found.add(member.split(".", 1)[0])
    names = [
        str(canonicalize_name(n))
        for n in sorted(found)
        if n.isidentifier() and not n.startswith("_") and n.lower() not in _NOT_IMPORT_NAMES
    ]
    return list(dict.fromkeys(names))


def console_scripts(text: str) -> list[str]:
    """The console and GUI script names an ``entry_points.txt`` declares, canonicalized."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    names = [
        str(canonicalize_name(script))
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for script in parser.options(section)
    ]
    return list(dict.fromkeys(names))


def refresh_projects(
    names: Sequence[str], index_url: str, concurrency: int, timeout: float
) -> dict[str, Any]:
    """The reference document for ``names`` (in rank order); a project that fails is left
    out and reported on stderr."""
    import httpx  # only this path needs the network

    limits = httpx.Limits(max_connections=concurrency)
    with httpx.Client(
        timeout=timeout,
        limits=limits,
        follow_redirects=True,
        headers={"User-Agent": "safe-pip refresh"},
    ) as client:
        fetcher = Fetcher(client, index_url)

        def one(name: str) -> dict[str, list[str]] | None:
            for attempt in range(2):
                try:
                    return fetcher.entry(name)
                except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as exc:
                    if attempt:
                        print(f"skipped {name}: {exc}", file=sys.stderr)
            return None

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            entries = list(pool.map(one, names))
    return {
        "version": FORMAT_VERSION,
        "generated": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "index": index_url,
        "projects": {n: e for n, e in zip(names, entries, strict=True) if e is not None},
    }


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
    source.add_argument(
        "--projects", action="store_true", help=f"refresh {DATA_FILE} from the index instead"
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=MAX_PROJECTS, help="projects to read")
    parser.add_argument("--index-url", default=DEFAULT_INDEX, help="a PEP 691 JSON index")
    parser.add_argument("--concurrency", type=int, default=MAX_CONCURRENCY)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    if args.projects:
        return _main_projects(parser, args)
    args.output = args.output or DEFAULT_OUTPUT
    text = _download(args.url) if args.url else args.source.read_text(encoding="utf-8")
    names = normalize(parse(text))
    if not names:
        parser.error("the source lists no projects")
    write_atomic(args.output, names)
    print(f"wrote {len(names)} names to {args.output}")
    return 0


def _main_projects(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not 0 < args.limit <= MAX_PROJECTS or not 0 < args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--limit must be 1..{MAX_PROJECTS}, --concurrency 1..{MAX_CONCURRENCY}")
    names = DEFAULT_OUTPUT.read_text(encoding="utf-8").split()[: args.limit]
    document = refresh_projects(names, args.index_url, args.concurrency, args.timeout)
    output = args.output or DATA / DATA_FILE
    write_json_atomic(output, document)
    print(f"wrote {len(document['projects'])} of {len(names)} projects to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
