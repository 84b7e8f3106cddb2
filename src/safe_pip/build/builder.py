"""Build: turn an allowed source distribution, a local project or an allowed git checkout
into a wheel, which is then inspected and installed like any other.

A small PEP 517 frontend. Only projects the user allowed reach it (``--allow-sdist``, or
a local directory the user named, which is their own code): :meth:`Builder.build` checks
that again, whatever path a distribution came by. The build runs in a fresh virtual
environment of the target interpreter. Its build requirements are first resolved through
the gateway (wheels only unless allowed, same source priority, same policy), reviewed as
first-seen projects like any other, and only then installed, pinned to the reviewed files.
The backend's hooks run in a subprocess of that environment.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safe_pip.errors import InstallError, PolicyDenied, SdistRefused, UsageError
from safe_pip.gateway.server import Gateway
from safe_pip.models import DistKind, NameSet, Plan, PlannedDist, VcsRef
from safe_pip.policy.admission import from_sources
from safe_pip.policy.approval import ApprovalNeeded
from safe_pip.resolve.pip_process import pip_environment
from safe_pip.resolve.requirements import RequirementLine
from safe_pip.resolve.resolver import ResolveRequest, resolve, run_gated
from safe_pip.target import TargetEnvironment

__all__ = ["Approver", "BuildOptions", "Builder", "resolve_approving"]

logger = logging.getLogger(__name__)

# pip's default for projects without a [build-system] table.
_LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
_LEGACY_REQUIRES = ("setuptools>=40.8.0",)

Approver = Callable[[Plan], None]
"""Approves the projects of a plan before their code runs, or raises (first-seen review)."""

# Runs inside the build environment: calls one backend hook, writes its result as JSON.
_HOOK_RUNNER = r"""
import importlib, json, sys
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["backend_path"]
module_name, _, attribute = spec["backend"].partition(":")
backend = importlib.import_module(module_name)
for part in filter(None, attribute.split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, spec["hook"], None)
result = {"missing": True} if hook is None else {"value": hook(*spec["args"], **spec["kwargs"])}
with open(spec["output"], "w", encoding="utf-8") as stream:
    json.dump(result, stream)
"""


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """pip's build options, as the user gave them."""

    isolation: bool = True
    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    build_constraints: tuple[RequirementLine, ...] = ()


@dataclass(frozen=True, slots=True)
class _Backend:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...]


def parse_config_settings(values: Sequence[str]) -> dict[str, str | list[str]]:
    """``-C KEY=VALUE`` options as PEP 517 ``config_settings`` (repeated keys make a list).

    :raises UsageError: a value is not ``KEY=VALUE``.
    """
    settings: dict[str, str | list[str]] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep:
            msg = f"--config-settings {value!r}: expected KEY=VALUE"
            raise UsageError(msg)
        existing = settings.get(key)
        if existing is None:
            settings[key] = item
        elif isinstance(existing, list):
            existing.append(item)
        else:
            settings[key] = [existing, item]
    return settings


def _inside(root: Path, member: str) -> bool:
    destination = (root / member).resolve()
    return destination == root or destination.is_relative_to(root)


def _extract(archive: Path, destination: Path, label: str) -> Path:
    """Unpack an sdist, refusing members that would land outside ``destination``."""
    destination.mkdir(parents=True)
    root = destination.resolve()
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bad = [n for n in bundle.namelist() if not _inside(root, n)]
                if not bad:
                    bundle.extractall(root)  # noqa: S202 - every member checked above
        else:
            with tarfile.open(archive) as bundle:
                bad = [m.name for m in bundle.getmembers() if not _inside(root, m.name)]
                if not bad:
                    bundle.extractall(root, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        msg = f"{label}: cannot unpack {archive.name}: {exc}"
        raise InstallError(msg) from exc
    if bad:
        msg = f"{label}: {archive.name} has members outside its root ({bad[0]!r}); refused."
        raise PolicyDenied(msg)
    entries = list(root.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def _read_backend(source: Path, label: str) -> _Backend:
    pyproject = source / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            msg = f"{label}: pyproject.toml cannot be parsed: {exc}"
            raise InstallError(msg) from exc
    if "build-backend" not in table:
        return _Backend(tuple(table.get("requires", _LEGACY_REQUIRES)), _LEGACY_BACKEND, ())
    backend_path = tuple(str((source / p).resolve()) for p in table.get("backend-path", []))
    for path in backend_path:
        if not _inside(source.resolve(), path):
            msg = f"{label}: backend-path {path} is outside the project; refused (PEP 517)."
            raise PolicyDenied(msg)
    return _Backend(tuple(table.get("requires", ())), table["build-backend"], backend_path)


class Builder:
    """Builds wheels for the plan's allowed source distributions and local projects."""

    def __init__(
        self,
        gateway: Gateway,
        target: TargetEnvironment,
        workdir: Path,
        environ: Mapping[str, str],
        options: BuildOptions | None = None,
        *,
        approve: Approver,
        allow_sdist: NameSet,
        local_projects: Collection[Path] = frozenset(),
        verbose: int = 0,
    ) -> None:
        """:param approve: reviews each build environment's requirements before they are
            installed.
        :param allow_sdist: the projects allowed to build from source.
        :param local_projects: the project directories the user named (resolved paths).
        """
        self._approve = approve
        self._allow_sdist = allow_sdist
        self._local_projects = frozenset(local_projects)
        self._gateway = gateway
        self._target = target
        self._workdir = workdir
        self._environ = environ
        self._options = options or BuildOptions()
        self._verbose = verbose

    def build(self, dist: PlannedDist, archive: Path | None) -> Path:
        """Build ``dist`` and return the wheel.

        :param archive: the verified sdist, for distributions that came as one.
        :raises InstallError: the build failed.
        :raises SdistRefused: ``dist`` may not be built, or a build requirement is only
            available as a source build.
        :raises FirstSeenRefused: a build requirement nobody approved.
        """
        self._check_allowed(dist)
        area = self._workdir / f"build-{dist.name}"
        area.mkdir(parents=True, exist_ok=True)
        source = self._source_tree(dist, archive, area)
        backend = _read_backend(source, dist.label)
        python = self._environment(dist, backend, area)
        hook = "build_editable" if dist.editable else "build_wheel"
        requires_hook = (
            "get_requires_for_build_editable" if dist.editable else ("get_requires_for_build_wheel")
        )
        extra = self._call(python, source, backend, requires_hook, [], area) or []
        if extra and self._options.isolation:
            self._install_requirements(dist, python, list(extra), area)
        out = area / "wheel"
        out.mkdir(exist_ok=True)
        filename = self._call(python, source, backend, hook, [str(out)], area)
        if filename is None:
            msg = (
                f"{dist.label}: its build backend ({backend.backend}) does not support "
                f"{'editable installs (PEP 660)' if dist.editable else 'building wheels'}."
            )
            raise InstallError(msg)
        return out / str(filename)

    def _check_allowed(self, dist: PlannedDist) -> None:
        """Defence in depth: admission and the gateway keep unallowed source builds out of
        the plan; whatever path one came by, it is not built here."""
        if dist.kind is DistKind.LOCAL_DIR and dist.local_path:
            if Path(dist.local_path).resolve() in self._local_projects:
                return
        elif dist.name in self._allow_sdist:
            return
        msg = (
            f"{dist.label} ({dist.kind.value}, from {dist.location or dist.filename}) would be "
            f"built from source, which it is not allowed to do. Nothing was installed. If you "
            f"trust it to run code at install time, allow it with --allow-sdist {dist.name}."
        )
        raise SdistRefused(msg)

    def _source_tree(self, dist: PlannedDist, archive: Path | None, area: Path) -> Path:
        if dist.kind is DistKind.LOCAL_DIR and dist.local_path:
            return Path(dist.local_path)
        if dist.vcs is not None:
            return self._checkout(dist.label, dist.vcs, area / "checkout")
        if archive is None:
            msg = f"{dist.label}: no source archive to build from"
            raise InstallError(msg)
        return _extract(archive, area / "source", dist.label)

    def _checkout(self, label: str, vcs: VcsRef, destination: Path) -> Path:
        commands = [
            ["git", "clone", "--quiet", "--no-checkout", vcs.url, str(destination)],
            ["git", "-C", str(destination), "checkout", "--quiet", vcs.commit],
        ]
        for command in commands:
            try:
                subprocess.run(
                    command,
                    check=True,
                    capture_output=True,
                    text=True,
                    env=pip_environment(self._environ),
                    timeout=600,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                msg = f"{label}: cannot check out {vcs.url}@{vcs.commit}: {detail.strip()}"
                raise InstallError(msg) from exc
        return destination / vcs.subdirectory if vcs.subdirectory else destination

    def _environment(self, dist: PlannedDist, backend: _Backend, area: Path) -> Path:
        if not self._options.isolation:
            return self._target.python
        env_dir = area / "env"
        try:
            subprocess.run(
                [str(self._target.python), "-m", "venv", "--without-pip", str(env_dir)],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            msg = f"{dist.label}: cannot create an isolated build environment: {exc}"
            raise InstallError(msg) from exc
        python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if backend.requires:
            self._install_requirements(dist, python, list(backend.requires), area)
        return python

    def _install_requirements(
        self, dist: PlannedDist, python: Path, requires: list[str], area: Path
    ) -> None:
        """Resolve, review, then install exactly the reviewed files into the environment."""
        origin = f"build requirement of {dist.label}"
        lines = [RequirementLine(text=r, origin=origin) for r in requires]
        _refuse_direct(dist, lines)
        plan = resolve_approving(
            ResolveRequest(
                lines=(*lines, *self._options.build_constraints),
                target_python=python,
                verbose=self._verbose,
            ),
            self._gateway,
            self._new_workdir(area),
            self._environ,
            self._approve,
        )
        self._approve(plan)
        pinned = [
            RequirementLine(
                text=f"{planned.name}=={planned.version}",
                origin=origin,
                hashes=(f"sha256:{planned.sha256}",),
            )
            for planned in plan
        ]
        run_gated(
            ["install", "--quiet", "--no-deps", "--require-hashes"],
            pinned,
            self._gateway,
            self._new_workdir(area),
            self._environ,
            target_python=python,
            verbose=self._verbose,
        )

    @staticmethod
    def _new_workdir(area: Path) -> Path:
        workdir = area / f"requirements-{len(list(area.glob('requirements-*')))}"
        workdir.mkdir()
        return workdir

    def _call(
        self,
        python: Path,
        source: Path,
        backend: _Backend,
        hook: str,
        args: list[Any],
        area: Path,
    ) -> Any:
        output = area / f"{hook}.json"
        spec = {
            "backend": backend.backend,
            "backend_path": list(backend.backend_path),
            "hook": hook,
            "args": args,
            "kwargs": {"config_settings": dict(self._options.config_settings) or None},
            "output": str(output),
        }
        env = pip_environment(self._environ)
        env.pop("PYTHONPATH", None)
        env["PYTHONNOUSERSITE"] = "1"
        completed = subprocess.run(
            [str(python), "-c", _HOOK_RUNNER, json.dumps(spec)],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in (completed.stdout + completed.stderr).splitlines():
            logger.debug("build %s: %s", hook, line)
        if completed.returncode != 0:
            tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
            msg = f"Building {source.name} failed in {hook}:\n{tail}"
            raise InstallError(msg)
        result = json.loads(output.read_text(encoding="utf-8"))
        return None if result.get("missing") else result["value"]


def resolve_approving(
    request: ResolveRequest,
    gateway: Gateway,
    workdir: Path,
    environ: Mapping[str, str],
    approve: Approver,
) -> Plan:
    """Resolve; when pip stopped at code that needs a person's approval first (a build
    backend, a source archive's build: see :class:`~safe_pip.policy.approval.ApprovalNeeded`),
    ask now, outside pip's network wait, and resolve again: what was approved is in the
    trust store by then.

    :raises FirstSeenRefused: the user refused.
    """
    while True:
        try:
            return resolve(request, gateway, workdir, environ)
        except ApprovalNeeded as needed:
            gateway.clear_failure()
            approve(needed.plan)
            request = replace(request, ahead=None, resolutions=None)


def _refuse_direct(dist: PlannedDist, lines: Sequence[RequirementLine]) -> None:
    """Build requirements come from the configured sources only: one pip would take from a
    URL or a path (``name @ url`` or a file name in ``build-system.requires``) is refused
    before pip reads it."""
    direct = [line.text for line in lines if not from_sources(line)]
    if direct:
        msg = (
            f"{dist.label}: its build requirements {', '.join(direct)} do not come from the "
            f"configured sources (a URL or a path); safe-pip installs build requirements only "
            f"from the sources. Nothing was installed."
        )
        raise PolicyDenied(msg)
