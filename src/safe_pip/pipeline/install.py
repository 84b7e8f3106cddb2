"""``safe-pip install``'s core: admission, gateway, resolve, review, fetch, inspect, install.

It never prints or prompts: progress goes to a :class:`~safe_pip.reporting.Reporter`, and
the outcome is returned to the CLI.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from safe_pip.models import Finding, Plan
from safe_pip.pipeline.request import InstallRequest, Outcome, Run
from safe_pip.pipeline.target_stage import Located, locate, satisfied_without_pip
from safe_pip.policy.admission import admit
from safe_pip.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from safe_pip.install.installed import InstalledDist
    from safe_pip.install.installer import InstallResult
    from safe_pip.pipeline.stages import GatedStages, Reviewed, Stages
    from safe_pip.policy.approval import TrustCheck
    from safe_pip.policy.prompting import Prompter
    from safe_pip.resolve.ahead import Ahead
    from safe_pip.settings.options import Settings

__all__ = ["PipelineStages", "run_install"]


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
    with run.timed("target"):
        located = stages.locate(run)
    satisfied = stages.satisfied(run, located)
    if satisfied is not None:
        plan = Plan((), dict(located.target.markers or {}))
        return Outcome(
            plan, located.target, located.scheme, satisfied=satisfied, timings=run.timings
        )
    with ExitStack() as stack:
        gated = stages.open(run, stack, located)
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
    """The real stages: admission by policy, the target, and the gateway in front of the
    sources."""

    def admit(self, run: Run) -> None:
        """Refuse, before anything starts, what the policy never lets through."""
        request = run.request
        admit(request.lines, request.no_binary, run.settings.file_policy.allow_sdist)

    def locate(self, run: Run) -> Located:
        return locate(run.request, run.ahead)

    def satisfied(self, run: Run, located: Located) -> tuple[InstalledDist, ...] | None:
        return satisfied_without_pip(run.request, run.settings, located)

    def open(self, run: Run, stack: ExitStack, located: Located) -> GatedStages:
        if run.ahead is not None:
            # pip imports itself while the gated stages are imported and set up.
            run.ahead.start_pip(run.settings.environ)
        # Imported here: a request that is already satisfied never loads the gateway, the
        # resolver, the build and install stages or the HTTP client.
        from safe_pip.pipeline.gated import open_gated

        return open_gated(run, stack, located)
