"""The stages of one install, as :func:`~safe_pip.pipeline.install.run_install` calls them.

The protocols (``Stages``, then ``GatedStages`` while the gateway is up) and what passes
between them: the run (:class:`~safe_pip.pipeline.request.Run`), the resolved plan, its
review, the inspected wheels. The real stages are
:class:`~safe_pip.pipeline.install.PipelineStages`; a test may run others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Names for the types only: a request answered from what is installed never loads them.
    from packaging.utils import NormalizedName

    from safe_pip.install.bytecode import Compiler
    from safe_pip.install.installed import InstalledDist
    from safe_pip.install.installer import InstallResult
    from safe_pip.install.placement import Layout
    from safe_pip.models import Finding, Plan
    from safe_pip.pipeline.request import Run
    from safe_pip.pipeline.target_stage import Located
    from safe_pip.policy.approval import TrustCheck
    from safe_pip.policy.hashes import HashPin
    from safe_pip.policy.vulnerabilities import VulnerabilityReport
    from safe_pip.resolve.requirement_line import RequirementLine
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["GatedStages", "Inspected", "Resolved", "Reviewed", "Stages"]


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
    :func:`~safe_pip.pipeline.install.run_install` calls them: each raises to stop the
    install."""

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
    """The stages of one install: admission, the target, the answer from what is
    installed when it already satisfies the request, else the target's lock and the
    gateway (on ``stack``, closed once the install is over) for the rest."""

    def admit(self, run: Run) -> None: ...

    def locate(self, run: Run) -> Located: ...

    def satisfied(self, run: Run, located: Located) -> tuple[InstalledDist, ...] | None:
        """The requested distributions if what is installed already satisfies the request;
        ``None``: the gateway and pip must decide."""
        ...

    def open(self, run: Run, stack: ExitStack, located: Located) -> GatedStages: ...
