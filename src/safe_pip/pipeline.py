"""The install pipeline: admission, gateway, resolve, review, fetch, inspect, install.

The core of ``safe-pip install``. It never prints or prompts: progress goes to a
:class:`~safe_pip.reporting.Reporter`, and the outcome is returned to the CLI.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import logging
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.build.builder import Approver, Builder, BuildOptions, resolve_approving
from safe_pip.errors import AmbiguousSource, UsageError
from safe_pip.gateway.cache import FileCache
from safe_pip.gateway.network import build_client
from safe_pip.gateway.selection import Compatibility, FilePolicy, SourceSelector
from safe_pip.gateway.served import ServedFile
from safe_pip.gateway.server import Gateway
from safe_pip.gateway.shadows import (
    SourceChooser,
    alarm_findings,
    alarm_message,
    source_notes,
)
from safe_pip.gateway.sources import Upstream
from safe_pip.install.bytecode import Compiler, compiling
from safe_pip.install.fetch import Fetcher
from safe_pip.install.inspection import WheelInfo, check_direct_urls, inspect_wheel
from safe_pip.install.installed import InstalledDist, check_install_keeps_safe_pip, find_installed
from safe_pip.install.installer import InstallResult, install_wheels
from safe_pip.install.placement import Layout, check_startup_hooks, lay_out
from safe_pip.locking import file_lock
from safe_pip.models import (
    DistKind,
    Finding,
    IndexFile,
    NameSet,
    Plan,
    PlannedDist,
    ServedProject,
    Shadow,
    SourceSpec,
)
from safe_pip.policy.admission import (
    admit,
    approved_urls,
    checked_wheel_line,
    local_projects,
    remote_wheel,
)
from safe_pip.policy.advisory_index import AdvisoryDatabase
from safe_pip.policy.approval import (
    TrustCheck,
    approve_early,
    check_trust,
    confirm,
    remember,
    require_approved,
)
from safe_pip.policy.audit import AuditLog, shadow_events
from safe_pip.policy.hashes import HashPin, pins_by_project
from safe_pip.policy.prompting import Prompter
from safe_pip.policy.review import Approval
from safe_pip.policy.review import review as review_plan
from safe_pip.policy.trust import TrustStore
from safe_pip.policy.update_approval import review_updates
from safe_pip.policy.updates import cooldown_notes
from safe_pip.policy.vulnerabilities import (
    VulnerabilityReport,
    advisories_ahead,
    check_packages,
    enforce,
    plan_packages,
)
from safe_pip.policy.vulnerabilities import findings as vulnerability_findings
from safe_pip.reporting import NullReporter, Reporter
from safe_pip.resolve.ahead import Ahead
from safe_pip.resolve.lockfile import check_lockable
from safe_pip.resolve.requirements import RequirementLine, names_index_project, requirement_name
from safe_pip.resolve.resolutions import Resolutions
from safe_pip.resolve.resolver import ResolveRequest, resolve, run_gated
from safe_pip.settings import Settings
from safe_pip.target import (
    Scheme,
    TargetEnvironment,
    check_externally_managed,
    choose_scheme,
    query_target,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "GatedStages",
    "Inspected",
    "InstallRequest",
    "LockResult",
    "Outcome",
    "PipelineStages",
    "Resolved",
    "Reviewed",
    "Run",
    "Stages",
    "run_install",
    "run_lock",
    "run_pip_command",
]

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
    vulnerabilities: VulnerabilityReport | None = None
    """The plan checked against known vulnerabilities (``source`` ``None``: no data)."""


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


def _satisfied(
    request: InstallRequest, plan: Plan, scheme: Scheme, target: TargetEnvironment
) -> tuple[InstalledDist, ...]:
    planned = {dist.name for dist in plan}
    wanted = {requirement_name(line) for line in request.lines if not line.constraint}
    installed = find_installed(scheme.satisfying_dirs(target))
    found = []
    for name in sorted({canonicalize_name(n) for n in wanted if n}):
        dists = installed.get(name, [])
        if dists and name not in planned:
            found.append(dists[0])
    return tuple(found)


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


_Approve = Callable[[Plan, Mapping[NormalizedName, ServedProject | None]], None]
"""Approves a plan's projects before their code runs, or raises (see
:func:`~safe_pip.policy.approval.require_approved`)."""


def _metadata_fields(data: bytes) -> dict[str, object]:
    """The fields of core metadata the first-seen review shows, in the report's JSON form."""
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    return {
        "summary": message.get("Summary", ""),
        "home_page": message.get("Home-page", ""),
        "project_url": message.get_all("Project-URL") or [],
    }


def _approve_download(
    approve: _Approve, selector: SourceSelector, served: ServedFile, metadata: bytes
) -> None:
    """pip asks the gateway for a whole file only to install it into a build environment
    or to build it: its project is reviewed before its code can run.

    :param metadata: the wheel's core metadata (empty for any other file).
    """
    file = served.file
    fields = _metadata_fields(metadata) if file.kind is DistKind.WHEEL else {}
    dist = PlannedDist(
        name=file.project,
        version=file.version,
        kind=file.kind,
        requested=False,
        metadata=fields,
        file=file,
        source=served.source,
    )
    approve(Plan((dist,)), selector.answers)


def _audit_shadow(audit: AuditLog, sources: Sequence[SourceSpec], shadow: Shadow) -> None:
    """Record a name known to more than one source at once: a refusal ends the command."""
    audit.write(shadow_events(shadow, sources))


def _resolve_choosing(
    resolve_once: Callable[..., Plan],
    request: ResolveRequest,
    gateway: Gateway,
    settings: Settings,
    prompter: object | None,
) -> Plan:
    """Resolve; when pip stopped at a name more than one source knows, ask which is meant
    (if someone can answer) and resolve again, the name served from the chosen source.

    :raises AmbiguousSource: unattended, or the user chose none.
    """
    while True:
        try:
            return resolve_once(request, environ=settings.environ)
        except AmbiguousSource as ambiguous:
            shadow = ambiguous.shadow
            if shadow is None or not isinstance(prompter, SourceChooser):
                raise
            alarm = alarm_message(shadow, settings.sources) if shadow.alarm else None
            chosen = prompter.choose_source(shadow, alarm)
            if chosen is None:
                raise
            gateway.clear_failure()
            gateway.selector.choose(shadow.name, chosen)
            request = replace(request, ahead=None, resolutions=None)


@contextmanager
def _session(
    settings: Settings,
    request: InstallRequest,
    client: Future[httpx.Client],
    policy: FilePolicy | None = None,
    approve: _Approve | None = None,
) -> Iterator[tuple[Gateway, Fetcher, Path]]:
    """The gateway in front of the configured sources, its fetcher, and a work directory.

    :param approve: reviews each file pip fetches whole (to install or build it) first.
    """
    with ExitStack() as stack:
        cache_root = settings.cache_dir or Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="safe-pip-cache-", ignore_cleanup_errors=True)
            )
        )
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="safe-pip-")))
        upstream = Upstream(client.result(), settings.network)
        fetcher = Fetcher(upstream, FileCache(cache_root), retries=settings.network.retries)
        selector = SourceSelector(
            upstream,
            settings.sources,
            settings.pins,
            policy or settings.file_policy,
            on_shadow=partial(_audit_shadow, AuditLog(settings.home), settings.sources),
            chosen={
                name: project.source_url
                for name, project in TrustStore(settings.home).load().items()
                if project.source_url is not None
            },
        )
        gateway = Gateway(
            selector,
            fetcher,
            approved_urls=approved_urls(request.lines),
            follow_dependencies="--no-deps" not in request.resolver_options,
            before_download=None
            if approve is None
            else partial(_approve_download, approve, selector),
        )
        yield stack.enter_context(gateway), fetcher, workdir


def _localized(
    lines: Sequence[RequirementLine], fetcher: Fetcher, approved: Collection[str]
) -> tuple[tuple[RequirementLine, ...], dict[str, str]]:
    """The lines with every wheel named by URL fetched into the verified cache, checked,
    and replaced by that copy (pip never reads a URL the user gave itself); and the URL
    behind each copy's path, for the plan."""
    result = []
    originals: dict[str, str] = {}
    for line in lines:
        url = remote_wheel(line)
        if url is None:
            result.append(line)
            continue
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        path = fetcher.fetch_url(url, filename, label=f"{url} ({line.origin})")
        result.append(checked_wheel_line(line, path, approved))
        originals[str(path.resolve())] = url
    return tuple(result), originals


def _with_original_urls(plan: Plan, originals: Mapping[str, str]) -> Plan:
    """The plan with each cached copy of a wheel named by URL shown as that URL (what
    ``direct_url.json``, the direct-URL check and the messages name)."""
    if not originals:
        return plan
    dists = []
    for dist in plan:
        url = originals.get(str(Path(dist.local_path).resolve())) if dist.local_path else None
        if url is None or dist.local_sha256 is None:
            dists.append(dist)
            continue
        file = IndexFile(
            filename=Path(dist.local_path or "").name,
            url=url,
            project=dist.name,
            version=dist.version,
            kind=dist.kind,
            sha256=dist.local_sha256,
        )
        dists.append(replace(dist, file=file, local_path=None, local_sha256=None))
    return replace(plan, dists=tuple(dists))


def run_pip_command(command: Sequence[str], request: InstallRequest, settings: Settings) -> str:
    """Run ``pip download`` or ``pip wheel`` with the gateway as its only index.

    The same admission, sources, priority and policy as an install apply, so no source
    build runs unless allowed. Returns pip's output, with gateway addresses mapped back.

    :raises SafePipError: any expected failure.
    """
    admit(request.lines, request.no_binary, settings.file_policy.allow_sdist)
    same = request.python.resolve() == Path(sys.executable).resolve()
    approve = _approver_for_builds(request, settings)
    with (
        _client(settings) as client,
        _session(settings, request, client, approve=approve) as session,
    ):
        gateway, fetcher, workdir = session
        lines, _ = _localized(request.lines, fetcher, approved_urls(request.lines))
        return run_gated(
            [*command, *request.resolver_options],
            lines,
            gateway,
            workdir,
            settings.environ,
            target_python=None if same else request.python,
            verbose=settings.verbosity,
        )


def _approver_for_builds(request: InstallRequest, settings: Settings) -> _Approve | None:
    """For ``download`` and ``wheel`` runs that may build (an allowed sdist, a path, a URL,
    an editable), approval of every project pip fetches whole, as an unattended install
    would approve it: pip installs build requirements and runs build backends while it
    works, and its whole-file fetches cannot be told apart from the downloads themselves.
    Runs that ask only for index projects with no build allowed fetch wheels alone, and
    need none."""
    if not settings.file_policy.allow_sdist and all(map(names_index_project, request.lines)):
        return None
    pins = pins_by_project(request.lines, {})
    return partial(require_approved, settings=settings, pins=pins, attended=False)


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
        # Nobody is asked: a build backend pip runs while resolving is approved in advance.
        pins = pins_by_project(request.lines, target.markers or {})
        early = partial(require_approved, settings=settings, pins=pins, attended=False)
        gateway, _, workdir = stack.enter_context(
            _session(settings, request, client, policy, early)
        )
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


@dataclass(frozen=True, slots=True)
class Run:
    """One ``safe-pip install``: what was asked, who can answer, where progress goes."""

    request: InstallRequest
    settings: Settings
    reporter: Reporter
    prompter: Prompter | None
    ahead: Ahead | None
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str) -> AbstractContextManager[None]:
        """Report ``stage`` and time it."""
        return _timed(self.timings, stage, self.reporter)

    @property
    def chooser(self) -> Prompter | None:
        """Who is asked to choose a source or to accept an advisory: nobody unattended."""
        return None if self.settings.unattended else self.prompter


@dataclass(frozen=True, slots=True)
class Resolved:
    """What pip's resolver decided."""

    plan: Plan
    lines: tuple[RequirementLine, ...]
    """The lines pip was handed: a wheel named by URL is there as its verified copy."""


@dataclass(frozen=True, slots=True)
class Reviewed:
    """What the review of a plan found before anything of it is fetched."""

    findings: tuple[Finding, ...]
    trust: TrustCheck
    vulnerabilities: VulnerabilityReport
    satisfied: tuple[InstalledDist, ...]
    pins: Mapping[NormalizedName, Sequence[HashPin]]
    """The user's ``--hash`` pins by project, for the environment pip resolved for."""


@dataclass(frozen=True, slots=True)
class Inspected:
    """The plan's wheels, checked and laid out, ready to be written."""

    layout: Layout
    compiler: Compiler | None


class GatedStages(Protocol):
    """The stages of one install that run while the gateway is up, in the order
    :func:`run_install` calls them: each raises to stop the install."""

    @property
    def target(self) -> TargetEnvironment: ...

    @property
    def scheme(self) -> Scheme: ...

    def resolve(self) -> Resolved: ...

    def review(self, resolved: Resolved) -> Reviewed: ...

    def approve(self, plan: Plan, reviewed: Reviewed) -> TrustCheck: ...

    def fetch(
        self, plan: Plan, pins: Mapping[NormalizedName, Sequence[HashPin]]
    ) -> dict[NormalizedName, Path]: ...

    def build(
        self, plan: Plan, files: Mapping[NormalizedName, Path]
    ) -> dict[NormalizedName, Path]: ...

    def approve_updates(
        self, trust: TrustCheck, plan: Plan, files: Mapping[NormalizedName, Path]
    ) -> tuple[TrustCheck, list[Finding]]: ...

    def inspect(self, plan: Plan, files: Mapping[NormalizedName, Path]) -> Inspected: ...

    def install(self, inspected: Inspected) -> InstallResult: ...

    def record(self, trust: TrustCheck, result: InstallResult) -> None: ...


class Stages(Protocol):
    """The stages of one install: admission, then opening the target, its lock and the
    gateway (on ``stack``, closed once the install is over) for the rest."""

    def admit(self, run: Run) -> None: ...

    def open(self, run: Run, stack: ExitStack) -> GatedStages: ...


def run_install(
    request: InstallRequest,
    settings: Settings,
    reporter: Reporter | None = None,
    prompter: Prompter | None = None,
    ahead: Ahead | None = None,
    *,
    stages: Stages | None = None,
) -> Outcome:
    """Run the whole pipeline for one ``safe-pip install``.

    :param prompter: asks about first-seen projects; ``None`` (or unattended settings):
        they are refused unless approved in advance.
    :param ahead: what the command line started ahead in the target interpreter.
    :param stages: what runs each stage; :class:`PipelineStages` unless given.

    :raises SafePipError: any expected failure; the environment is left as it was.
    """
    run = Run(request, settings, reporter or NullReporter(), prompter, ahead)
    stages = stages or PipelineStages()
    stages.admit(run)
    with ExitStack() as stack:
        gated = stages.open(run, stack)
        resolved = gated.resolve()
        plan = resolved.plan
        reviewed = gated.review(resolved)
        if request.dry_run or not plan.dists:
            return _outcome(run, gated, plan, reviewed, list(reviewed.findings), reviewed.trust)
        trust = gated.approve(plan, reviewed)
        files = gated.build(plan, gated.fetch(plan, reviewed.pins))
        # Each update against the release approved before it, before anything is written.
        trust, update_notes = gated.approve_updates(trust, plan, files)
        inspected = gated.inspect(plan, files)
        result = gated.install(inspected)
        gated.record(trust, result)
    findings = [*reviewed.findings, *update_notes, *inspected.layout.findings]
    return _outcome(run, gated, plan, reviewed, findings, trust, result)


def _outcome(
    run: Run,
    gated: GatedStages,
    plan: Plan,
    reviewed: Reviewed,
    findings: list[Finding],
    trust: TrustCheck,
    result: InstallResult | None = None,
) -> Outcome:
    return Outcome(
        plan,
        gated.target,
        gated.scheme,
        findings,
        result,
        reviewed.satisfied,
        run.timings,
        trust.approvals,
        reviewed.vulnerabilities,
    )


class PipelineStages:
    """The real stages: admission by policy, and the gateway in front of the sources."""

    def admit(self, run: Run) -> None:
        """Refuse, before anything starts, what the policy never lets through."""
        request = run.request
        admit(request.lines, request.no_binary, run.settings.file_policy.allow_sdist)

    def open(self, run: Run, stack: ExitStack) -> GatedStages:
        """Start the upstream client and the advisories, find the target, take its lock,
        and open the gateway, which stays up until the install: builds fetch their
        requirements through it."""
        request, settings = run.request, run.settings
        client = stack.enter_context(_client(settings))
        advisories = stack.enter_context(
            advisories_ahead(
                settings.advisories, settings.home, client.result, settings.network.retries
            )
        )
        with run.timed("target"):
            target = _target(request, run.ahead)
            _check_environment(request, target)
            scheme = choose_scheme(
                target, user=request.user, target_dir=request.target_dir, root=request.root
            )
        if not request.dry_run:
            stack.enter_context(file_lock(_lock_path(settings, scheme)))
        policy = _policy_for(request, target, settings.file_policy)
        user_pins = pins_by_project(request.lines, target.markers or {})
        early = partial(
            require_approved,
            settings=settings,
            pins=user_pins,
            attended=run.prompter is not None and not settings.unattended,
        )
        gateway, fetcher, workdir = stack.enter_context(
            _session(settings, request, client, policy, early)
        )
        approve = partial(
            approve_early,
            served=gateway.selector.answers,
            settings=settings,
            prompter=run.prompter,
            pins=user_pins,
        )
        session = _Session(gateway, fetcher, workdir, approve, approved_urls(request.lines))
        return _Gated(run, stack, target, scheme, policy, advisories, session)


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
        request, settings, gateway = self.run.request, self.run.settings, self.session.gateway
        with self.run.timed("resolve"):
            lines, originals = _localized(
                request.lines, self.session.fetcher, self.session.approved
            )
            resolve_request = ResolveRequest(
                lines=lines,
                pip_options=request.resolver_options,
                target_python=None if _same_interpreter(self.target) else self.target.python,
                location_options=_location_options(request),
                verbose=settings.verbosity,
                resolutions=_resolutions(settings, request, self.target, lines),
                ahead=self.run.ahead.pip if self.run.ahead is not None else None,
            )
            resolve_once = partial(
                resolve_approving,
                gateway=gateway,
                workdir=self.session.workdir,
                approve=self.session.approve,
            )
            plan = _resolve_choosing(
                resolve_once, resolve_request, gateway, settings, self.run.chooser
            )
            return Resolved(_with_original_urls(plan, originals), lines)

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
        compiler = (
            self.stack.enter_context(compiling(self.target)) if request.compile_bytecode else None
        )
        with self.run.timed("inspect"):
            inspected = [self._inspected(dist, wheel, compiler) for dist, wheel in wheels]
            layout = lay_out(
                inspected,
                self.target,
                self.scheme,
                upgrade=request.upgrade,
                allow_startup_hooks=hooks,
            )
        return Inspected(layout, compiler)

    def _inspected(
        self, dist: PlannedDist, wheel: Path, compiler: Compiler | None
    ) -> tuple[PlannedDist, Path, WheelInfo]:
        info = inspect_wheel(
            dist,
            wheel,
            approved_urls=self.session.approved,
            script_kind=self.target.script_kind,
            python_version=self.target.version[:2],
        )
        if compiler is not None:
            compiler.compile_wheel(
                dist.name, wheel, info, self.scheme.install_paths(dist.name, self.target)
            )
        return dist, wheel, info

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
