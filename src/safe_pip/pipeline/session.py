"""What every command that puts the gateway in front of pip shares.

The upstream client, the gateway session (the gateway, its fetcher, a work directory) with
the approval of each file pip fetches whole, the choice among sources when a name is known
to more than one, wheels named by URL fetched into the verified cache and shown as their
URLs again in the plan, and the target with the file policy narrowed to it.
"""

from __future__ import annotations

import email.parser
import email.policy
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import Version

from safe_pip.errors import AmbiguousSource
from safe_pip.gateway.cache import FileCache
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.network import build_client
from safe_pip.gateway.parsed_pages import ParsedPages
from safe_pip.gateway.selection import Compatibility, SourceSelector
from safe_pip.gateway.server import Gateway
from safe_pip.gateway.shadows import SourceChooser, alarm_message
from safe_pip.gateway.sources import Upstream
from safe_pip.install.fetch import Fetcher
from safe_pip.models import (
    DistKind,
    IndexFile,
    Plan,
    PlannedDist,
    ServedProject,
    Shadow,
    SourceSpec,
)
from safe_pip.policy.admission import approved_urls, checked_wheel_line, remote_wheel
from safe_pip.policy.audit import AuditLog, shadow_events
from safe_pip.policy.trust import TrustStore

if TYPE_CHECKING:
    import httpx

    from safe_pip.gateway.served import ServedFile
    from safe_pip.pipeline.request import InstallRequest
    from safe_pip.resolve.requirement_line import RequirementLine
    from safe_pip.resolve.resolver import ResolveRequest
    from safe_pip.settings.options import Settings
    from safe_pip.target import TargetEnvironment

__all__ = [
    "Approve",
    "gateway_session",
    "localized",
    "policy_for",
    "resolve_choosing",
    "same_interpreter",
    "upstream_client",
    "with_original_urls",
]

Approve = Callable[[Plan, Mapping[NormalizedName, ServedProject | None]], None]
"""Approves a plan's projects before their code runs, or raises (see
:func:`~safe_pip.policy.approval.require_approved`)."""


def same_interpreter(target: TargetEnvironment) -> bool:
    """Whether the target is the interpreter safe-pip runs in."""
    return target.prefix.resolve() == Path(sys.prefix).resolve()


def policy_for(
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


@contextmanager
def upstream_client(settings: Settings) -> Iterator[Future[httpx.Client]]:
    """The upstream client, built in the background: loading the certificates takes tens
    of milliseconds, spent while the target's answer, the lock and the policy are had."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="client") as pool:
        future = pool.submit(build_client, settings.network, settings.environ)
        try:
            yield future
        finally:
            if future.exception() is None:
                future.result().close()


def _metadata_fields(data: bytes) -> dict[str, object]:
    """The fields of core metadata the first-seen review shows, in the report's JSON form."""
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    return {
        "summary": message.get("Summary", ""),
        "home_page": message.get("Home-page", ""),
        "project_url": message.get_all("Project-URL") or [],
    }


def _approve_download(
    approve: Approve, selector: SourceSelector, served: ServedFile, metadata: bytes
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


@contextmanager
def gateway_session(
    settings: Settings,
    request: InstallRequest,
    client: Future[httpx.Client],
    policy: FilePolicy | None = None,
    approve: Approve | None = None,
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
        parsed_pages = ParsedPages.in_cache(settings.cache_dir, settings.home)
        upstream = Upstream(client.result(), settings.network, parsed_pages)
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


def resolve_choosing(
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


def localized(
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


def with_original_urls(plan: Plan, originals: Mapping[str, str]) -> Plan:
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
