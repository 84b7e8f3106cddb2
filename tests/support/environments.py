"""Target environments and plans for unit tests, built in a directory without running pip,
and byte-for-byte snapshots of a directory tree."""

from __future__ import annotations

import email.parser
import hashlib
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from safe_pip.distfiles import read_metadata
from safe_pip.install.bytecode import compiling
from safe_pip.install.inspection import inspect_wheel
from safe_pip.install.installer import InstallResult, install_wheels
from safe_pip.install.placement import lay_out
from safe_pip.models import DistKind, NameSet, PlannedDist
from safe_pip.target import Scheme, TargetEnvironment, choose_scheme

__all__ = ["fake_environment", "install", "planned", "snapshot"]


def fake_environment(base: Path, **scheme_options: Any) -> tuple[TargetEnvironment, Scheme]:
    """A virtual environment's layout under ``base/env`` (interpreter: the one running)."""
    prefix = base / "env"
    major, minor = sys.version_info[:2]
    site = prefix / "lib" / f"python{major}.{minor}" / "site-packages"
    stdlib = base / "base" / "lib" / f"python{major}.{minor}"
    paths = {
        "purelib": str(site),
        "platlib": str(site),
        "scripts": str(prefix / "bin"),
        "data": str(prefix),
        "include": str(prefix / "include"),
        "stdlib": str(stdlib),
        "platstdlib": str(stdlib),
    }
    for directory in (site, prefix / "bin", stdlib):
        directory.mkdir(parents=True, exist_ok=True)
    (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    target = TargetEnvironment(
        python=Path(sys.executable),
        prefix=prefix,
        base_prefix=base / "base",
        version=(major, minor, sys.version_info[2]),
        cache_tag=sys.implementation.cache_tag,
        os_name="posix",
        paths=paths,
        user_paths=paths,
        user_site_enabled=False,
        stdlib=stdlib,
    )
    return target, choose_scheme(target, **scheme_options)


def _metadata_of(wheel: Path) -> tuple[list[str], str | None]:
    try:
        message = email.parser.BytesParser().parsebytes(read_metadata(wheel))
    except (ValueError, OSError):
        return [], None
    return [str(r) for r in message.get_all("Requires-Dist") or []], message["Requires-Python"]


def planned(
    wheel: Path,
    requires: Sequence[str] | None = None,
    requires_python: str | None = None,
    *,
    requested: bool = True,
) -> PlannedDist:
    """The plan entry pip would have produced for a wheel: by default with the wheel's own
    requirements, else with the ones given (as if pip had resolved with other metadata)."""
    name, version, _build, _tags = parse_wheel_filename(wheel.name)
    own_requires, own_python = _metadata_of(wheel)
    requires = own_requires if requires is None else requires
    requires_python = requires_python or own_python
    metadata: dict[str, Any] = {"name": name, "version": str(version)}
    if requires:
        metadata["requires_dist"] = list(requires)
    if requires_python:
        metadata["requires_python"] = requires_python
    return PlannedDist(
        name=name,
        version=version,
        kind=DistKind.WHEEL,
        requested=requested,
        metadata=metadata,
        local_path=str(wheel),
        local_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel.exists() else None,
    )


def install(
    target: TargetEnvironment,
    scheme: Scheme,
    *wheels: Path,
    upgrade: bool = False,
    allow_startup_hooks: NameSet | None = None,
    compile_bytecode: bool = True,
) -> InstallResult:
    """Inspect, place and install wheels as the pipeline does."""
    with compiling(target) if compile_bytecode else nullcontext() as compiler:
        inspected = []
        for wheel in wheels:
            dist = planned(wheel)
            info = inspect_wheel(dist, wheel)
            inspected.append((dist, wheel, info))
            if compiler is not None:
                compiler.compile_wheel(dist.name, wheel, info)
        layout = lay_out(
            inspected, target, scheme, upgrade=upgrade, allow_startup_hooks=allow_startup_hooks
        )
        return install_wheels(layout, target, scheme, compiler=compiler)


def snapshot(root: Path) -> dict[str, str]:
    """Every directory, file (by sha256 and mode) and link under ``root``."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                found[relative] = f"link -> {path.readlink()}"
            elif path.is_dir():
                found[relative] = "directory"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[relative] = f"{digest} {oct(path.stat().st_mode)}"
    return found
