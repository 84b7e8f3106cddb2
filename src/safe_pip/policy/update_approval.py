"""Approving updates by what their wheels make run, once they are downloaded and before
anything is written (DESIGN invariant 9).

The update review itself (:mod:`safe_pip.policy.update_review`) compares each wheel with the
last approved release's; here its changes become notes, approvals by ``--trust``, or a
question, as first-seen projects do in :mod:`safe_pip.policy.approval`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.models import Finding, Plan, Severity
from safe_pip.policy.approval import TrustCheck, TrustSettings, ask
from safe_pip.policy.review import Approval, ProjectFacts, update_facts
from safe_pip.policy.trust import How
from safe_pip.policy.update_review import profile_wheel, update_changes

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.policy.prompting import Prompter

__all__ = ["review_updates"]


def review_updates(
    check: TrustCheck,
    plan: Plan,
    files: Mapping[NormalizedName, Path],
    settings: TrustSettings,
    prompter: Prompter | None,
) -> tuple[TrustCheck, list[Finding]]:
    """Compare each update's wheel with the last approved release's, before anything is
    written (DESIGN invariant 9): metadata and file listings only.

    An update that changes what runs (dependencies, scripts, entry points, top-level
    modules, native libraries, startup hooks, a size jump, a changed home page or
    repository) is approved by naming it in ``--trust`` or by a yes at the review;
    unattended it is refused. Any other update is a note in the plan.

    :raises FirstSeenRefused: an update that changes what runs was not approved.
    """
    profiles: dict[NormalizedName, Mapping[str, Any]] = {}
    notes: list[Finding] = []
    pending: list[ProjectFacts] = []
    approved: list[Approval] = []
    for dist in plan:
        path = files.get(dist.name)
        if path is None or path.suffix != ".whl":
            continue
        try:
            profile = profile_wheel(path)
        except ValueError:
            continue  # inspection refuses it, with the reason
        profiles[dist.name] = profile.to_record()
        changes = update_changes(check.trusted.get(dist.name), dist.version, profile)
        if changes is None:
            continue
        shown = "; ".join(changes.material + changes.other)
        if not changes.material:
            notes.append(
                Finding(
                    dist.name,
                    Severity.NOTE,
                    f"updated from {changes.previous}: nothing that runs changed"
                    + (f" ({shown})" if shown else ""),
                )
            )
            continue
        facts = update_facts(dist, changes.previous, changes.material, check.served)
        if facts is None:
            continue
        if dist.name in settings.trust_flags.names:
            approved.append(Approval(facts, How.FLAG))
            notes.append(
                Finding(
                    dist.name,
                    Severity.WARNING,
                    f"update from {changes.previous} approved by --trust {dist.name}: {shown}",
                )
            )
        else:
            pending.append(facts)
    approved += _asked(check, pending, settings, prompter)
    return replace(check, approvals=check.approvals + tuple(approved), profiles=profiles), notes


def _asked(
    check: TrustCheck,
    pending: Sequence[ProjectFacts],
    settings: TrustSettings,
    prompter: Prompter | None,
) -> list[Approval]:
    """The user's yes to each update pending, or a refusal (unattended: always)."""
    if not pending:
        return []
    ask(check, pending, settings, prompter, "update changes what runs; unattended")
    return [Approval(item, How.PROMPT) for item in pending]
