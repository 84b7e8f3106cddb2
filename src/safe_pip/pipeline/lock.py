"""``safe-pip lock``'s core: resolve through the gateway as an install would, install nothing."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from safe_pip.pipeline.session import (
    gateway_session,
    policy_for,
    same_interpreter,
    upstream_client,
)
from safe_pip.pipeline.target_stage import target_for
from safe_pip.policy.admission import admit
from safe_pip.policy.approval import require_approved
from safe_pip.policy.hashes import pins_by_project
from safe_pip.resolve.lockfile import check_lockable
from safe_pip.resolve.resolver import ResolveRequest, resolve

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.models import Plan, ServedProject
    from safe_pip.pipeline.request import InstallRequest
    from safe_pip.resolve.ahead import Ahead
    from safe_pip.settings.options import Settings
    from safe_pip.target import TargetEnvironment

__all__ = ["LockResult", "run_lock"]


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
        client = stack.enter_context(upstream_client(settings))
        target = target_for(request, ahead)
        policy = policy_for(request, target, settings.file_policy)
        # Nobody is asked: a build backend pip runs while resolving is approved in advance.
        pins = pins_by_project(request.lines, target.markers or {})
        early = partial(require_approved, settings=settings, pins=pins, attended=False)
        gateway, _, workdir = stack.enter_context(
            gateway_session(settings, request, client, policy, early)
        )
        plan = resolve(
            ResolveRequest(
                lines=request.lines,
                pip_options=(*request.resolver_options, "--ignore-installed"),
                target_python=None if same_interpreter(target) else target.python,
                verbose=settings.verbosity,
                ahead=ahead.pip if ahead is not None else None,
            ),
            gateway,
            workdir,
            settings.environ,
        )
        return LockResult(plan, target, gateway.selector.answers)
