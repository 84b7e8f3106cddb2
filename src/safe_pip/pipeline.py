"""The install pipeline: admission, gateway, resolve, review, fetch, inspect, install.

The core of ``safe-pip install``. It never prints or prompts: progress goes to a
:class:`~safe_pip.reporting.Reporter`, and the outcome is returned to the CLI.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.admission import admit, approved_urls
from safe_pip.ahead import Ahead
from safe_pip.approval import check_trust, confirm, remember
from safe_pip.build import Builder, BuildOptions
from safe_pip.bytecode import compiling
from safe_pip.cache import FileCache
from safe_pip.errors import UsageError
from safe_pip.fetch import Fetcher
from safe_pip.gateway import Gateway
from safe_pip.hashes import pins_by_project
from safe_pip.inspection import check_direct_urls, inspect_wheel
from safe_pip.install import InstallResult, install_wheels
from safe_pip.installed import InstalledDist, find_installed
from safe_pip.lockfile import check_lockable
from safe_pip.locking import file_lock
from safe_pip.models import NameSet, Plan, ServedProject
from safe_pip.network import build_client
from safe_pip.placement import lay_out
from safe_pip.prompting import Prompter
from safe_pip.reporting import NullReporter, Reporter
from safe_pip.requirements import RequirementLine, requirement_name
from safe_pip.resolutions import Resolutions
from safe_pip.resolve import ResolveRequest, resolve, run_gated
from safe_pip.review import Approval, Finding, review
from safe_pip.selection import Compatibility, FilePolicy, SourceSelector
from safe_pip.settings import Settings
from safe_pip.sources import Upstream
from safe_pip.target import (
    Scheme,
    TargetEnvironment,
    check_externally_managed,
    choose_scheme,
    query_target,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["InstallRequest", "LockResult", "Outcome", "run_install", "run_lock", "run_pip_command"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstallRequest:
    """What the user asked ``safe-pip install`` to do."""

    lines: tuple[RequirementLine, ...]
    python: Path
    resolver_options: tuple[str, ...] = ()
    no_binary: tuple[str, ...] = ()
    prefix: str | None = None
    user: bool = False
    target_dir: str | None = None
    root: str | None = None
    dry_run: bool = False
    write_report: bool = False
    compile_bytecode: bool = True
    upgrade: bool = False
    break_system_packages: bool = False
    require_venv: bool = False
    foreign_platform: bool = False
    """``--platform``/``--python-version``/``--implementation``/``--abi`` were given."""
    ignore_requires_python: bool = False
    build: BuildOptions = field(default_factory=BuildOptions)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened, for the CLI to present."""

    plan: Plan
    target: TargetEnvironment
    scheme: Scheme
    findings: Sequence[Finding] = ()
    result: InstallResult | None = None
    """``None`` for a dry run."""
    satisfied: tuple[InstalledDist, ...] = ()
    """Requested projects that were already installed and needed nothing."""
    timings: dict[str, float] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()
    """Every project that needed approval (first-seen or a changed source), and how it
    was approved (a dry run leaves some unapproved)."""


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


def _check_environment(request: InstallRequest, target: TargetEnvironment) -> None:
    if request.require_venv and not target.is_venv:
        msg = (
            "Could not find an activated virtualenv (required by --require-virtualenv). "
            "Activate one, or name it with --python."
        )
        raise UsageError(msg)
    into_environment = not (
        (request.dry_run and request.write_report)
        or request.root
        or request.target_dir
        or request.prefix
    )
    if into_environment and not request.break_system_packages:
        check_externally_managed(target)


def _target(request: InstallRequest, ahead: Ahead | None) -> TargetEnvironment:
    if ahead is not None:
        return ahead.target_environment(request.python, request.prefix)
    return query_target(request.python, request.prefix)


def _same_interpreter(target: TargetEnvironment) -> bool:
    return target.prefix.resolve() == Path(sys.prefix).resolve()


@contextmanager
def _timed(timings: dict[str, float], stage: str, reporter: Reporter) -> Iterator[None]:
    reporter.stage(stage)
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = time.perf_counter() - started
        reporter.timing(stage, timings[stage])


def _policy_for(
    request: InstallRequest, target: TargetEnvironment, policy: FilePolicy
) -> FilePolicy:
    """The policy, narrowed to what the target can install (unless pip resolves for another
    platform, with ``--platform`` and friends)."""
    if request.foreign_platform or target.tags is None:
        return policy
    python = (
        None
        if request.ignore_requires_python
        else Version(".".join(str(part) for part in target.version))
    )
    return replace(policy, compatibility=Compatibility.from_tags(target.tags, python))


def _lock_path(settings: Settings, scheme: Scheme) -> Path:
    # The real path: the same environment reached through a symlink is the same lock.
    purelib = os.path.realpath(scheme.real(scheme.paths["purelib"]))
    key = hashlib.sha256(purelib.encode()).hexdigest()[:32]
    return settings.home / "locks" / f"env-{key}.lock"


def _satisfied(request: InstallRequest, plan: Plan, scheme: Scheme) -> tuple[InstalledDist, ...]:
    planned = {dist.name for dist in plan}
    wanted = {requirement_name(line) for line in request.lines if not line.constraint}
    installed = find_installed(scheme.real(d) for d in scheme.site_dirs)
    found = []
    for name in sorted({canonicalize_name(n) for n in wanted if n}):
        dists = installed.get(name, [])
        if dists and name not in planned:
            found.append(dists[0])
    return tuple(found)


def _resolutions(
    settings: Settings, request: InstallRequest, target: TargetEnvironment
) -> Resolutions | None:
    if _location_options(request) or settings.cache_dir is None:
        return None
    return Resolutions.for_question(
        settings.cache_dir / "resolutions", request.lines, request.resolver_options, target
    )


@contextmanager
def _client(settings: Settings) -> Iterator[Future[httpx.Client]]:
    """The upstream client, built in the background: loading the certificates takes tens
    of milliseconds, spent while the target's answer, the lock and the policy are had."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="client") as pool:
        future = pool.submit(build_client, settings.network, settings.environ)
        try:
            yield future
        finally:
            if future.exception() is None:
                future.result().close()


@contextmanager
def _session(
    settings: Settings,
    request: InstallRequest,
    client: Future[httpx.Client],
    policy: FilePolicy | None = None,
) -> Iterator[tuple[Gateway, Fetcher, Path]]:
    """The gateway in front of the configured sources, its fetcher, and a work directory."""
    with ExitStack() as stack:
        cache_root = settings.cache_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="safe-pip-cache-"))
        )
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="safe-pip-")))
        upstream = Upstream(client.result(), settings.network)
        fetcher = Fetcher(upstream, FileCache(cache_root), retries=settings.network.retries)
        selector = SourceSelector(
            upstream, settings.sources, settings.pins, policy or settings.file_policy
        )
        gateway = Gateway(
            selector,
            fetcher,
            approved_urls=approved_urls(request.lines),
            follow_dependencies="--no-deps" not in request.resolver_options,
        )
        yield stack.enter_context(gateway), fetcher, workdir


def run_pip_command(command: Sequence[str], request: InstallRequest, settings: Settings) -> str:
    """Run ``pip download`` or ``pip wheel`` with the gateway as its only index.

    The same admission, sources, priority and policy as an install apply, so no source
    build runs unless allowed. Returns pip's output, with gateway addresses mapped back.

    :raises SafePipError: any expected failure.
    """
    admit(request.lines, request.no_binary, settings.file_policy.allow_sdist)
    same = request.python.resolve() == Path(sys.executable).resolve()
    with _client(settings) as client, _session(settings, request, client) as session:
        gateway, _fetcher, workdir = session
        return run_gated(
            [*command, *request.resolver_options],
            request.lines,
            gateway,
            workdir,
            settings.environ,
            target_python=None if same else request.python,
            verbose=settings.verbosity,
        )


@dataclass(frozen=True, slots=True)
class LockResult:
    """What ``safe-pip lock`` resolved, and what the gateway served of each project."""

    plan: Plan
    target: TargetEnvironment
    served: dict[NormalizedName, ServedProject | None]
    """The gateway's answers: the source and the served files of every project pip asked."""


def run_lock(request: InstallRequest, settings: Settings, ahead: Ahead | None = None) -> LockResult:
    """Resolve for the target through the gateway, as an install would, installing nothing.

    Resolves with ``--ignore-installed``, so the lock is complete whatever the target has.

    :param ahead: what the command line started ahead in the target interpreter.

    :raises SafePipError: any expected failure.
    """
    check_lockable(request.lines)
    admit(request.lines, request.no_binary, settings.file_policy.allow_sdist)
    with ExitStack() as stack:
        client = stack.enter_context(_client(settings))
        target = _target(request, ahead)
        policy = _policy_for(request, target, settings.file_policy)
        gateway, _, workdir = stack.enter_context(_session(settings, request, client, policy))
        plan = resolve(
            ResolveRequest(
                lines=request.lines,
                pip_options=(*request.resolver_options, "--ignore-installed"),
                target_python=None if _same_interpreter(target) else target.python,
                verbose=settings.verbosity,
                ahead=ahead.pip if ahead is not None else None,
            ),
            gateway,
            workdir,
            settings.environ,
        )
        return LockResult(plan, target, gateway.selector.answers)


def run_install(
    request: InstallRequest,
    settings: Settings,
    reporter: Reporter | None = None,
    prompter: Prompter | None = None,
    ahead: Ahead | None = None,
) -> Outcome:
    """Run the whole pipeline for one ``safe-pip install``.

    :param prompter: asks about first-seen projects; ``None`` (or unattended settings):
        they are refused unless approved in advance.
    :param ahead: what the command line started ahead in the target interpreter.

    :raises SafePipError: any expected failure; the environment is left as it was.
    """
    reporter = reporter or NullReporter()
    timings: dict[str, float] = {}
    admit(request.lines, request.no_binary, settings.file_policy.allow_sdist)
    approved = approved_urls(request.lines)
    with ExitStack() as stack:
        client = stack.enter_context(_client(settings))
        with _timed(timings, "target", reporter):
            target = _target(request, ahead)
            _check_environment(request, target)
            scheme = choose_scheme(
                target, user=request.user, target_dir=request.target_dir, root=request.root
            )
        if not request.dry_run:
            stack.enter_context(file_lock(_lock_path(settings, scheme)))
        # The gateway stays up until the install: builds fetch their requirements through it.
        policy = _policy_for(request, target, settings.file_policy)
        gateway, fetcher, workdir = stack.enter_context(_session(settings, request, client, policy))
        with _timed(timings, "resolve", reporter):
            plan = resolve(
                ResolveRequest(
                    lines=request.lines,
                    pip_options=request.resolver_options,
                    target_python=None if _same_interpreter(target) else target.python,
                    location_options=_location_options(request),
                    verbose=settings.verbosity,
                    resolutions=_resolutions(settings, request, target),
                    ahead=ahead.pip if ahead is not None else None,
                ),
                gateway,
                workdir,
                settings.environ,
            )
        findings = review(plan)
        pins = pins_by_project(request.lines, plan.environment)
        trust = check_trust(plan, pins, settings, gateway.selector.answers)
        satisfied = _satisfied(request, plan, scheme)
        if request.dry_run or not plan.dists:
            return Outcome(
                plan, target, scheme, findings, None, satisfied, timings, trust.approvals
            )
        check_direct_urls(plan, approved)
        trust = confirm(trust, settings, prompter)
        with _timed(timings, "fetch", reporter):
            files = fetcher.fetch_all(plan.dists, reporter, pins)
        if any(dist.needs_build for dist in plan):
            with _timed(timings, "build", reporter):
                builder = Builder(
                    gateway,
                    target,
                    workdir,
                    settings.environ,
                    request.build,
                    verbose=settings.verbosity,
                )
                for dist in plan:
                    if dist.needs_build:
                        files[dist.name] = builder.build(dist, files.get(dist.name))
        compiler = stack.enter_context(compiling(target)) if request.compile_bytecode else None
        with _timed(timings, "inspect", reporter):
            inspected = []
            for dist in plan:
                wheel = files[dist.name]
                info = inspect_wheel(
                    dist, wheel, approved_urls=approved, script_kind=target.script_kind
                )
                inspected.append((dist, wheel, info))
                if compiler is not None:
                    compiler.compile_wheel(
                        dist.name, wheel, info, scheme.install_paths(dist.name, target)
                    )
            layout = lay_out(
                inspected,
                target,
                scheme,
                upgrade=request.upgrade,
                # An editable install of your own project works through a .pth file.
                allow_startup_hooks=settings.allow_startup_hooks
                | NameSet(dist.name for dist in plan if dist.editable),
            )
        with _timed(timings, "install", reporter):
            result = install_wheels(layout, target, scheme, compiler=compiler, reporter=reporter)
        remember(trust, result)
    findings = [*findings, *layout.findings]
    return Outcome(plan, target, scheme, findings, result, satisfied, timings, trust.approvals)
