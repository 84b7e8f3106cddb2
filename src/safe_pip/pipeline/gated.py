"""The stages of an install that run while the gateway is up.

:func:`open_gated` takes the target's lock and opens the gateway in front of the sources;
the stages that run while it is up resolve through it, review the plan, have it approved,
fetch, build, inspect and install it, and record what was installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName

from safe_pip.build.builder import Approver, Builder, resolve_approving
from safe_pip.gateway.shadows import alarm_findings, source_notes
from safe_pip.install.bytecode import Compiler, compiling
from safe_pip.install.bytecode_store import BytecodeStore
from safe_pip.install.inspection import WheelInfo, check_direct_urls, inspect_wheel
from safe_pip.install.installed import InstalledDist, check_install_keeps_safe_pip, find_installed
from safe_pip.install.installer import InstallResult, install_wheels
from safe_pip.install.placement import check_startup_hooks, lay_out
from safe_pip.install.satisfied import requested_installed
from safe_pip.locking import file_lock
from safe_pip.models import Finding, NameSet, Plan, PlannedDist, ServedProject
from safe_pip.pipeline.request import Run
from safe_pip.pipeline.session import (
    gateway_session,
    localized,
    policy_for,
    resolve_choosing,
    same_interpreter,
    upstream_client,
    with_original_urls,
)
from safe_pip.pipeline.stages import GatedStages, Inspected, Resolved, Reviewed
from safe_pip.pipeline.target_stage import Located, lock_path
from safe_pip.policy.admission import approved_urls, local_projects
from safe_pip.policy.approval import (
    TrustCheck,
    TrustSettings,
    approve_early,
    check_trust,
    confirm,
    remember,
    require_approved,
)
from safe_pip.policy.hashes import HashPin, pins_by_project
from safe_pip.policy.review import review as review_plan
from safe_pip.policy.update_approval import review_updates
from safe_pip.policy.updates import cooldown_notes
from safe_pip.policy.vulnerabilities import advisories_ahead, check_packages, enforce, plan_packages
from safe_pip.policy.vulnerabilities import findings as vulnerability_findings
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.resolutions import Resolutions
from safe_pip.resolve.resolver import ResolveRequest

if TYPE_CHECKING:
    from safe_pip.gateway.cooldown import FilePolicy
    from safe_pip.gateway.server import Gateway
    from safe_pip.install.fetch import Fetcher
    from safe_pip.pipeline.request import InstallRequest
    from safe_pip.policy.advisory_index import AdvisoryDatabase
    from safe_pip.policy.prompting import Prompter
    from safe_pip.settings.options import Settings
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["open_gated"]

_INSPECTORS = min(4, os.cpu_count() or 1)
"""Wheels inspected at once: the compiler's helpers need the cores too."""


def _location_options(request: InstallRequest) -> tuple[str, ...]:
    options: list[str] = []
    if request.target_dir:
        options += ["--target", request.target_dir]
    if request.prefix:
        options += ["--prefix", request.prefix]
    if request.user:
        options.append("--user")
    if request.root:
        options += ["--root", request.root]
    return tuple(options)


def _satisfied(
    request: InstallRequest, plan: Plan, scheme: Scheme, target: TargetEnvironment
) -> tuple[InstalledDist, ...]:
    installed = find_installed(scheme.satisfying_dirs(target))
    return requested_installed(request.lines, installed, {dist.name for dist in plan})


def _resolutions(
    settings: Settings,
    request: InstallRequest,
    target: TargetEnvironment,
    lines: Sequence[RequirementLine],
) -> Resolutions | None:
    """Keyed by the lines pip is handed: a wheel by URL is there as its verified copy."""
    if _location_options(request) or settings.cache_dir is None:
        return None
    return Resolutions.for_question(
        settings.cache_dir / "resolutions", lines, request.resolver_options, target
    )


def _resolve_request(
    run: Run, target: TargetEnvironment, lines: tuple[RequirementLine, ...]
) -> ResolveRequest:
    """What pip's resolver is asked for an install of ``lines`` into ``target``."""
    request, settings = run.request, run.settings
    return ResolveRequest(
        lines=lines,
        pip_options=request.resolver_options,
        target_python=None if same_interpreter(target) else target.python,
        location_options=_location_options(request),
        verbose=settings.verbosity,
        resolutions=_resolutions(settings, request, target, lines),
        ahead=run.ahead.pip if run.ahead is not None else None,
    )


def open_gated(run: Run, stack: ExitStack, located: Located) -> GatedStages:
    """Start the upstream client and the advisories, take the target's lock, and open the
    gateway, which stays up until the install: builds fetch their requirements through it."""
    request, settings = run.request, run.settings
    target, scheme = located.target, located.scheme
    client = stack.enter_context(upstream_client(settings))
    advisories = stack.enter_context(
        advisories_ahead(
            settings.advisories, settings.home, client.result, settings.network.retries
        )
    )
    if not request.dry_run:
        stack.enter_context(file_lock(lock_path(settings, scheme)))
    policy = policy_for(request, target, settings.file_policy)
    user_pins = pins_by_project(request.lines, target.markers or {})
    early = partial(
        require_approved,
        settings=settings,
        pins=user_pins,
        attended=run.prompter is not None and not settings.unattended,
    )
    gateway, fetcher, workdir = stack.enter_context(
        gateway_session(settings, request, client, policy, early)
    )
    approve = _early_approver(lambda: gateway.selector.answers, settings, run.prompter, user_pins)
    session = _Session(gateway, fetcher, workdir, approve, approved_urls(request.lines))
    return _Gated(run, stack, target, scheme, policy, advisories, session)


def _early_approver(
    answers: Callable[[], Mapping[NormalizedName, ServedProject | None]],
    settings: TrustSettings,
    prompter: Prompter | None,
    pins: Mapping[NormalizedName, Sequence[HashPin]],
) -> Approver:
    """The approval of code about to run while resolving and building, reviewed with each
    project's page as the gateway has it then (``answers()``): a copy taken when the
    gateway opened would lack the pages that tell a new project or a replaced release."""

    def approve(plan: Plan) -> None:
        approve_early(plan, answers(), settings=settings, prompter=prompter, pins=pins)

    return approve


@dataclass(frozen=True, slots=True)
class _Session:
    """The gateway, its fetcher and the work directory; the approval of the code that runs
    while resolving and building, and the direct URLs a distribution may come from."""

    gateway: Gateway
    fetcher: Fetcher
    workdir: Path
    approve: Approver
    approved: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Gated:
    """The real stages that run while the gateway is up."""

    run: Run
    stack: ExitStack
    target: TargetEnvironment
    scheme: Scheme
    policy: FilePolicy
    advisories: Future[AdvisoryDatabase | None]
    session: _Session

    def resolve(self) -> Resolved:
        gateway = self.session.gateway
        with self.run.timed("resolve"):
            lines, originals = localized(
                self.run.request.lines, self.session.fetcher, self.session.approved
            )
            resolve_once = partial(
                resolve_approving,
                gateway=gateway,
                workdir=self.session.workdir,
                approve=self.session.approve,
            )
            plan = resolve_choosing(
                resolve_once,
                _resolve_request(self.run, self.target, lines),
                gateway,
                self.run.settings,
                self.run.chooser,
            )
            return Resolved(with_original_urls(plan, originals), lines)

    def review(self, resolved: Resolved) -> Reviewed:
        """Check the plan against safe-pip itself, the advisories, the cooldown, the review
        and the trust store; a dry run also says where each project comes from."""
        plan, settings, selector = resolved.plan, self.run.settings, self.session.gateway.selector
        check_install_keeps_safe_pip(
            {dist.name: dist.version for dist in plan}, map(self.scheme.real, self.scheme.site_dirs)
        )
        vulnerabilities = check_packages(
            plan_packages(plan), self.advisories.result(), settings.advisories
        )
        findings = [
            *cooldown_notes(plan, selector.answers, self.policy, datetime.now(UTC)),
            *review_plan(plan),
            *vulnerability_findings(vulnerabilities),
            *alarm_findings(selector.shadows, settings.sources),
        ]
        pins = pins_by_project(resolved.lines, plan.environment)
        trust = check_trust(plan, pins, settings, selector.answers)
        satisfied = _satisfied(self.run.request, plan, self.scheme, self.target)
        if self.run.request.dry_run:
            # The plan says where each project comes from when that is not the index.
            pinned = [d.name for d in plan if selector.pin_of(d.name) is not None]
            findings += source_notes(plan, settings.sources, pinned)
        return Reviewed(tuple(findings), trust, vulnerabilities, satisfied, pins)

    def approve(self, plan: Plan, reviewed: Reviewed) -> TrustCheck:
        """Refuse a direct URL nobody gave or an advisory nobody accepted, and have every
        first-seen project approved."""
        request, settings = self.run.request, self.run.settings
        check_direct_urls(plan, self.session.approved)
        enforce(reviewed.vulnerabilities, request.lines, reviewed.trust.audit, self.run.chooser)
        return confirm(reviewed.trust, settings, self.run.prompter)

    def fetch(
        self, plan: Plan, pins: Mapping[NormalizedName, Sequence[HashPin]]
    ) -> dict[NormalizedName, Path]:
        with self.run.timed("fetch"):
            return self.session.fetcher.fetch_all(plan.dists, self.run.reporter, pins)

    def build(self, plan: Plan, files: Mapping[NormalizedName, Path]) -> dict[NormalizedName, Path]:
        """The files with a wheel built for each planned project that needs one."""
        built = dict(files)
        if not any(dist.needs_build for dist in plan):
            return built
        request, settings = self.run.request, self.run.settings
        with self.run.timed("build"):
            builder = Builder(
                self.session.gateway,
                self.target,
                self.session.workdir,
                settings.environ,
                request.build,
                approve=self.session.approve,
                allow_sdist=settings.file_policy.allow_sdist,
                local_projects=local_projects(request.lines),
                verbose=settings.verbosity,
            )
            for dist in plan:
                if dist.needs_build:
                    built[dist.name] = builder.build(dist, files.get(dist.name))
        return built

    def approve_updates(
        self, trust: TrustCheck, plan: Plan, files: Mapping[NormalizedName, Path]
    ) -> tuple[TrustCheck, list[Finding]]:
        return review_updates(trust, plan, files, self.run.settings, self.run.prompter)

    def inspect(self, plan: Plan, files: Mapping[NormalizedName, Path]) -> Inspected:
        """Check every wheel and lay the plan out (compiling its bytecode meanwhile), every
        refused startup hook first, in seconds where inspecting a large plan takes longer."""
        request = self.run.request
        # An editable install of your own project works through a .pth file.
        hooks = self.run.settings.allow_startup_hooks | NameSet(d.name for d in plan if d.editable)
        wheels = [(dist, files[dist.name]) for dist in plan]
        check_startup_hooks(
            wheels, self.target, self.scheme, upgrade=request.upgrade, allow_startup_hooks=hooks
        )
        settings = self.run.settings
        store = (
            None if settings.cache_dir is None else BytecodeStore(settings.cache_dir, settings.home)
        )
        compiler = (
            self.stack.enter_context(compiling(self.target, store))
            if request.compile_bytecode
            else None
        )
        with self.run.timed("inspect"):
            inspect = partial(
                inspect_wheel,
                approved_urls=self.session.approved,
                script_kind=self.target.script_kind,
                python_version=self.target.version[:2],
            )
            inspected = _inspected_all(wheels, inspect, compiler)
            layout = lay_out(
                inspected,
                self.target,
                self.scheme,
                upgrade=request.upgrade,
                allow_startup_hooks=hooks,
            )
        return Inspected(layout, compiler)

    def install(self, inspected: Inspected) -> InstallResult:
        with self.run.timed("install"):
            return install_wheels(
                inspected.layout,
                self.target,
                self.scheme,
                compiler=inspected.compiler,
                reporter=self.run.reporter,
            )

    def record(self, trust: TrustCheck, result: InstallResult) -> None:
        remember(trust, result.installed)


def _inspected_all(
    wheels: Sequence[tuple[PlannedDist, Path]],
    inspect: Callable[[PlannedDist, Path], WheelInfo],
    compiler: Compiler | None,
) -> list[tuple[PlannedDist, Path, WheelInfo]]:
    """Every wheel inspected, several at a time (decompressing and hashing run outside the
    interpreter lock); each handed to the compiler in plan order as soon as it and those
    before it have passed, from this thread alone, which owns the compiler."""
    with ThreadPoolExecutor(max_workers=_INSPECTORS, thread_name_prefix="inspect") as pool:
        futures = [pool.submit(inspect, dist, wheel) for dist, wheel in wheels]
        try:
            inspected = []
            for (dist, wheel), future in zip(wheels, futures, strict=True):
                info = future.result()
                if compiler is not None:
                    compiler.compile_wheel(dist.name, wheel, info)
                inspected.append((dist, wheel, info))
            return inspected
        finally:
            for future in futures:
                future.cancel()
