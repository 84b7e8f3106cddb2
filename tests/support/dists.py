"""Build tiny wheels and sdists for tests, in the test session, with no build tools.

``build_wheel`` writes a valid wheel (METADATA, WHEEL, RECORD with real hashes) and takes
hooks to make it invalid in one precise way. ``build_sdist`` writes an sdist whose in-tree
build backend records every hook it runs (and its own import) in a marker directory: the
presence of a marker file proves that package code ran.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import tarfile
import textwrap
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

__all__ = ["WheelSpec", "build_sdist", "build_wheel", "record_line"]


def _escape(name: str) -> str:
    return canonicalize_name(name).replace("-", "_")


def record_line(path: str, data: bytes) -> str:
    """One RECORD row with the urlsafe-base64 sha256 and size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@dataclass
class WheelSpec:
    """What goes into a test wheel; the defaults make a valid, minimal one."""

    name: str
    version: str
    requires: Sequence[str] = ()
    requires_python: str | None = None
    summary: str = "A test distribution"
    tag: str = "py3-none-any"
    files: Mapping[str, bytes | str] | None = None
    """Archive members besides the metadata (default: one package with ``__init__.py``)."""
    entry_points: Mapping[str, str] = field(default_factory=dict)
    """``console_scripts`` name -> ``module:function``."""
    extra_metadata: Sequence[str] = ()
    dist_info: str | None = None
    """Override the .dist-info directory name."""
    metadata_name: str | None = None
    metadata_version: str | None = None
    mutate: Callable[[dict[str, bytes]], None] | None = None
    """Change the members (after RECORD is written) to make the wheel invalid."""
    record: bool = True
    symlinks: Mapping[str, str] = field(default_factory=dict)
    """Members stored as symbolic links (name -> link target), listed in RECORD."""
    appended: Sequence[tuple[str, bytes]] = ()
    """Members written after all others, even under a name already used."""
    prefix: bytes = b""
    """Bytes before the zip archive (a polyglot file)."""

    @property
    def filename(self) -> str:
        return f"{_escape(self.name)}-{self.version}-{self.tag}.whl"


def _metadata(spec: WheelSpec) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {spec.metadata_name or spec.name}",
        f"Version: {spec.metadata_version or spec.version}",
        f"Summary: {spec.summary}",
    ]
    if spec.requires_python:
        lines.append(f"Requires-Python: {spec.requires_python}")
    lines += [f"Requires-Dist: {req}" for req in spec.requires]
    lines += list(spec.extra_metadata)
    return "\n".join(lines) + "\n\n"


def _members(spec: WheelSpec) -> dict[str, bytes]:
    package = _escape(spec.name)
    raw = (
        spec.files
        if spec.files is not None
        else {
            f"{package}/__init__.py": f'__version__ = "{spec.version}"\n\n\ndef main():\n'
            f'    print("{spec.name} {spec.version}")\n',
        }
    )
    members = {path: data.encode() if isinstance(data, str) else data for path, data in raw.items()}
    members.update((path, target.encode()) for path, target in spec.symlinks.items())
    dist_info = spec.dist_info or f"{package}-{spec.version}.dist-info"
    members[f"{dist_info}/METADATA"] = _metadata(spec).encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: safe-pip-tests\nRoot-Is-Purelib: true\nTag: {spec.tag}\n"
    ).encode()
    if spec.entry_points:
        body = "".join(f"{name} = {target}\n" for name, target in spec.entry_points.items())
        members[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{body}".encode()
    if spec.record:
        record_path = f"{dist_info}/RECORD"
        rows = [record_line(path, data) for path, data in members.items()]
        members[record_path] = ("\n".join([*rows, f"{record_path},,"]) + "\n").encode()
    return members


def build_wheel(directory: Path, spec: WheelSpec) -> Path:
    """Write the wheel described by ``spec`` into ``directory``."""
    members = _members(spec)
    if spec.mutate is not None:
        spec.mutate(members)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / spec.filename
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names, when asked for
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                mode = stat.S_IFLNK | 0o777 if name in spec.symlinks else stat.S_IFREG | 0o644
                info.external_attr = mode << 16
                archive.writestr(info, data)
            for name, data in spec.appended:
                archive.writestr(name, data)
    if spec.prefix:
        path.write_bytes(spec.prefix + path.read_bytes())
    return path


_BACKEND = '''
"""A build backend that leaves a marker for every hook it runs."""
import base64, hashlib, os, pathlib, zipfile

MARKERS = pathlib.Path({markers!r})
NAME = {name!r}
VERSION = {version!r}
REQUIRES = {requires!r}


def _mark(what):
    MARKERS.mkdir(parents=True, exist_ok=True)
    (MARKERS / f"{{NAME}}-{{what}}").write_text("ran")


_mark("imported")


def _metadata():
    lines = ["Metadata-Version: 2.1", f"Name: {{NAME}}", f"Version: {{VERSION}}"]
    lines += [f"Requires-Dist: {{r}}" for r in REQUIRES]
    return "\\n".join(lines) + "\\n\\n"


def _escaped():
    return NAME.replace("-", "_")


def get_requires_for_build_wheel(config_settings=None):
    _mark("get_requires_for_build_wheel")
    return []


def get_requires_for_build_editable(config_settings=None):
    _mark("get_requires_for_build_editable")
    return []


def get_requires_for_build_sdist(config_settings=None):
    _mark("get_requires_for_build_sdist")
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _mark("prepare_metadata_for_build_wheel")
    dist_info = pathlib.Path(metadata_directory) / f"{{_escaped()}}-{{VERSION}}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata())
    return dist_info.name


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{digest}},{{len(data)}}"


def _build(wheel_directory, editable):
    dist_info = f"{{_escaped()}}-{{VERSION}}.dist-info"
    init = f"__version__ = {{VERSION!r}}\\nBUILT_FROM_SOURCE = True\\n"
    wheel = "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    members = {{
        f"{{_escaped()}}/__init__.py": init.encode(),
        f"{{dist_info}}/METADATA": _metadata().encode(),
        f"{{dist_info}}/WHEEL": wheel.encode(),
    }}
    rows = [_record_line(p, d) for p, d in members.items()] + [f"{{dist_info}}/RECORD,,"]
    members[f"{{dist_info}}/RECORD"] = ("\\n".join(rows) + "\\n").encode()
    filename = f"{{_escaped()}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _mark("build_wheel")
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _mark("build_editable")
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    _mark("build_sdist")
    raise NotImplementedError
'''


def project_files(
    name: str,
    version: str,
    markers: Path,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
) -> dict[str, str]:
    """The files of a source tree whose backend marks every hook it runs."""
    backend = _BACKEND.format(
        markers=str(markers), name=name, version=version, requires=list(requires)
    )
    pyproject = textwrap.dedent(
        f"""\
        [build-system]
        requires = {json.dumps(list(build_requires))}
        build-backend = "marker_backend"
        backend-path = ["."]
        """
    )
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return {"pyproject.toml": pyproject, "marker_backend.py": backend, "PKG-INFO": pkg_info}


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    markers: Path,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
) -> Path:
    """Write an sdist whose backend writes ``markers/<name>-<hook>`` when anything runs."""
    directory.mkdir(parents=True, exist_ok=True)
    root = f"{_escape(name)}-{version}"
    path = directory / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        files = project_files(name, version, markers, requires, build_requires)
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{relative}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return path


def write_project(
    directory: Path,
    name: str,
    version: str,
    markers: Path,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
) -> Path:
    """Write a local project directory using the marker backend."""
    directory.mkdir(parents=True, exist_ok=True)
    for relative, text in project_files(name, version, markers, requires, build_requires).items():
        (directory / relative).write_text(text)
    return directory
