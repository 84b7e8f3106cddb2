"""Build: turn an allowed source distribution, a local project or an allowed git checkout
into a wheel, which is then inspected and installed like any other.

A small PEP 517 frontend. Only projects the user allowed reach it (``--allow-sdist``, or
a local directory the user named, which is their own code): :meth:`Builder.build` checks
that again, whatever path a distribution came by. The build runs in a fresh virtual
environment of the target interpreter. Its build requirements are first resolved through
the gateway (wheels only unless allowed, same source priority, same policy), reviewed as
first-seen projects like any other, and only then installed, pinned to the reviewed files
(:class:`BuildRequirements`). The backend's hooks run in a subprocess of that environment
(:mod:`safe_pip.build.hooks`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.build.buildsystem import BuildSystem, read_build_system
from safe_pip.build.hooks import BackendHooks
from safe_pip.build.options import BuildOptions
from safe_pip.build.sources import source_tree
from safe_pip.errors import InstallError, PolicyDenied, SdistRefused
from safe_pip.models import DistKind, NameSet, Plan, PlannedDist
from safe_pip.policy.admission import from_sources
from safe_pip.policy.approval import ApprovalNeeded
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.resolver import ResolveRequest, resolve, run_gated

if TYPE_CHECKING:
    from safe_pip.gateway.server import Gateway
    from safe_pip.target import TargetEnvironment

__all__ = ["Approver", "BuildOptions", "BuildRequirements", "Builder", "resolve_approving"]

Approver = Callable[[Plan], None]
"""Approves the projects of a plan before their code runs, or raises (first-seen review)."""


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
        self._allow_sdist = allow_sdist
        self._local_projects = frozenset(local_projects)
        self._target = target
        self._workdir = workdir
        self._environ = environ
        self._options = options or BuildOptions()
        self._requirements = BuildRequirements(
            gateway, environ, approve, self._options.build_constraints, verbose
        )

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
        source = source_tree(dist, archive, area, self._environ)
        system = read_build_system(source, dist.label)
        python = self._environment(dist, system, area)
        hooks = BackendHooks(source, system, python, self._environ, self._options.config_settings)
        extra = hooks.get_requires(editable=dist.editable)
        if extra and self._options.isolation:
            self._requirements.install(dist, python, extra, area)
        out = area / "wheel"
        out.mkdir(exist_ok=True)
        filename = hooks.build(out, editable=dist.editable)
        if filename is None:
            msg = (
                f"{dist.label}: its build backend ({system.backend}) does not support "
                f"editable installs (PEP 660)."
            )
            raise InstallError(msg)
        return out / filename

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

    def _environment(self, dist: PlannedDist, system: BuildSystem, area: Path) -> Path:
        """The interpreter to build with: the target's, or that of a fresh virtual
        environment holding the reviewed build requirements."""
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
        if system.requires:
            self._requirements.install(dist, python, system.requires, area)
        return python


class BuildRequirements:
    """Installs a build environment's requirements: resolved through the gateway, reviewed,
    then installed pinned to exactly the reviewed files."""

    def __init__(
        self,
        gateway: Gateway,
        environ: Mapping[str, str],
        approve: Approver,
        constraints: Sequence[RequirementLine] = (),
        verbose: int = 0,
    ) -> None:
        """:param constraints: the user's build constraints, applied to every resolution."""
        self._gateway = gateway
        self._environ = environ
        self._approve = approve
        self._constraints = tuple(constraints)
        self._verbose = verbose

    def install(self, dist: PlannedDist, python: Path, requires: Sequence[str], area: Path) -> None:
        """Resolve, review, then install exactly the reviewed files into the environment.

        :raises PolicyDenied: a requirement names a URL or a path.
        :raises FirstSeenRefused: a requirement nobody approved.
        """
        origin = f"build requirement of {dist.label}"
        lines = [RequirementLine(text=r, origin=origin) for r in requires]
        _refuse_direct(dist, lines)
        plan = resolve_approving(
            ResolveRequest(
                lines=(*lines, *self._constraints), target_python=python, verbose=self._verbose
            ),
            self._gateway,
            _new_workdir(area),
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
            _new_workdir(area),
            self._environ,
            target_python=python,
            verbose=self._verbose,
        )


def _new_workdir(area: Path) -> Path:
    workdir = area / f"requirements-{len(list(area.glob('requirements-*')))}"
    workdir.mkdir()
    return workdir


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
