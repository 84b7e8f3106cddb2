"""The hostile-input corpus under ``tests/data/hostile``: reading its cases, building its
wheels from declarative specs, and serving its index pages byte for byte.

Every case is one file. Wheels (``wheels/*.json``) and index pages (``pages/*.json``) are
JSON specs, so a reviewer reads what each case does instead of an opaque binary; the
builder turns a wheel spec into a ``.whl`` at test time. Requirements and settings files
are the hostile input itself, byte for byte; an optional first line
``# hostile: {...json...}`` says how to run it and what to expect (see
``tests/data/hostile/README.md``). A file without that line is still run, with defaults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.index import PackageIndex

__all__ = [
    "CORPUS",
    "Case",
    "RawPageIndex",
    "build_spec_wheel",
    "cases",
    "render_page",
]

CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile"
_HEADER = b"# hostile:"
_EXITS = frozenset({1, 2, 3})


@dataclass(frozen=True)
class Case:
    """One hostile input and what the command must do with it."""

    id: str
    path: Path
    spec: Mapping[str, Any]
    """The JSON spec (wheels, pages) or the file's ``# hostile:`` header (others)."""

    @property
    def exits(self) -> frozenset[int]:
        """The exit statuses allowed: the one the case names, else any error status."""
        expected = self.spec.get("exit")
        return frozenset({expected}) if isinstance(expected, int) else _EXITS

    @property
    def mentions(self) -> tuple[str, ...]:
        """Texts of which the error output must name at least one."""
        return tuple(self.spec.get("mentions") or ())

    @property
    def xfail(self) -> str | None:
        """Why the case fails today (a hole being fixed), or ``None``."""
        reason = self.spec.get("xfail")
        return str(reason) if reason else None


def _header(path: Path) -> dict[str, Any]:
    first = path.read_bytes().split(b"\n", 1)[0]
    if not first.startswith(_HEADER):
        return {}
    parsed = json.loads(first[len(_HEADER) :])
    if not isinstance(parsed, dict):
        msg = f"{path}: the '# hostile:' header must be a JSON object"
        raise ValueError(msg)
    return parsed


def cases(kind: str) -> list[Case]:
    """Every case of one folder (``wheels``, ``pages``, ``requirements``, ``settings``),
    sorted by file name. JSON specs are the case; any other file carries its header."""
    found = []
    for path in sorted((CORPUS / kind).iterdir()):
        if not path.is_file() or path.name.startswith(("README", ".")):
            continue
        spec = json.loads(path.read_text()) if kind in ("wheels", "pages") else _header(path)
        found.append(Case(f"{kind}/{path.name}", path, spec))
    return found


# -- wheels ------------------------------------------------------------------------------


@dataclass
class _Member:
    name: str
    data: bytes
    mode: int
    raw_name: bytes | None = None
    """Bytes to put in the archive instead of ``name`` (non-UTF-8 names)."""


def _member_data(member: Mapping[str, Any]) -> bytes:
    if "base64" in member:
        return base64.b64decode(member["base64"])
    if "zeros" in member:
        return b"\0" * int(member["zeros"])
    return str(member.get("text", "")).encode()


def _member(member: Mapping[str, Any], index: int) -> _Member:
    data = _member_data(member)
    mode = stat.S_IFLNK | 0o777 if member.get("symlink") else stat.S_IFREG | 0o644
    if "name_hex" in member:
        raw = bytes.fromhex(member["name_hex"])
        # zipfile writes only str names: an ASCII stand-in of the same length is swapped
        # for the raw bytes once the archive is written.
        stand_in = f"~{index:0{max(len(raw) - 1, 1)}d}"[: len(raw)]
        return _Member(stand_in, data, mode, raw)
    return _Member(str(member["name"]), data, mode)


def _standard_members(spec: Mapping[str, Any]) -> dict[str, str]:
    dist_info = _dist_info(spec)
    metadata = spec.get("metadata", "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n\n")
    wheel = spec.get(
        "wheel",
        "Wheel-Version: 1.0\nGenerator: hostile-corpus\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    )
    return {f"{dist_info}/METADATA": metadata, f"{dist_info}/WHEEL": wheel}


def _dist_info(spec: Mapping[str, Any]) -> str:
    return str(spec.get("dist_info", "evil-1.0.dist-info"))


def _record_row(member: _Member, raw: Mapping[str, Any], algorithm: str) -> str:
    if "record_row" in raw:
        return str(raw["record_row"])
    digest = hashlib.new(algorithm, member.data).digest()
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{member.name},{algorithm}={encoded},{len(member.data)}"


def build_spec_wheel(directory: Path, spec: Mapping[str, Any]) -> Path:
    """Build the wheel of ``evil 1.0`` a ``wheels/*.json`` spec describes.

    Members are written in the order listed, after the standard ``METADATA`` and ``WHEEL``
    (left out when a member of the same name is listed); ``RECORD`` lists every member
    with its sha256 (or ``record_algorithm``), except members with ``"in_record": false``,
    and uses a member's literal ``"record_row"`` if it has one; with ``"record": "absent"``
    there is no ``RECORD``. Then ``prefix`` bytes go before the archive and ``truncate``
    bytes are cut from its end.
    """
    raw_members: list[Mapping[str, Any]] = list(spec.get("members", []))
    listed = [(_member(raw, i), raw) for i, raw in enumerate(raw_members)]
    names = {member.name for member, _raw in listed}
    standard: list[tuple[_Member, Mapping[str, Any]]] = [
        (_Member(name, text.encode(), stat.S_IFREG | 0o644), {})
        for name, text in _standard_members(spec).items()
        if name not in names
    ]
    pairs: list[tuple[_Member, Mapping[str, Any]]] = [*standard, *listed]
    members = [member for member, _raw in pairs]
    if spec.get("record", "auto") != "absent":
        algorithm = str(spec.get("record_algorithm", "sha256"))
        rows = [_record_row(m, raw, algorithm) for m, raw in pairs if raw.get("in_record", True)]
        record = f"{_dist_info(spec)}/RECORD"
        text = "\n".join([*rows, f"{record},,"]) + "\n"
        members.append(_Member(record, text.encode(), stat.S_IFREG | 0o644))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "evil-1.0-py3-none-any.whl"
    _write_zip(path, members)
    data = path.read_bytes()
    for member in members:
        if member.raw_name is not None:
            data = data.replace(member.name.encode(), member.raw_name)
    data = str(spec.get("prefix", "")).encode() + data
    if spec.get("truncate"):
        data = data[: -int(spec["truncate"])]
    path.write_bytes(data)
    return path


def _write_zip(path: Path, members: Sequence[_Member]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are the point
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = member.mode << 16
                archive.writestr(info, member.data)


# -- index pages -------------------------------------------------------------------------


@dataclass
class RawPageIndex(PackageIndex):
    """A loopback index that answers some project pages with exact bytes, as a hostile
    or broken index would, and every other request as :class:`PackageIndex` does."""

    raw_pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def __enter__(self) -> RawPageIndex:
        super().__enter__()
        return self

    def page(self, name: str) -> tuple[str, bytes] | None:
        return self.raw_pages.get(name) or super().page(name)


def render_page(spec: Mapping[str, Any], index: PackageIndex, wheel: Path) -> tuple[str, bytes]:
    """A ``pages/*.json`` spec's content type and body. In ``body``, ``{url}`` is the
    served wheel's http URL, ``{path_url}`` its ``file:`` URL on this machine,
    ``{filename}``, ``{sha256}``, ``{name}`` (as in file names), ``{project}`` and
    ``{host}`` (the index's) what they say."""
    content_type = str(spec.get("content_type", "application/vnd.pypi.simple.v1+json"))
    if "body_base64" in spec:
        return content_type, base64.b64decode(spec["body_base64"])
    values = {
        "url": f"{index.url.removesuffix('/simple/')}/files/{wheel.name}",
        "path_url": wheel.resolve().as_uri(),
        "filename": wheel.name,
        "name": wheel.name.split("-", 1)[0],
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "host": index.host,
        "project": str(spec["project"]),
    }
    body = str(spec["body"])
    for key, value in values.items():
        body = body.replace("{" + key + "}", value)
    return content_type, body.encode()
