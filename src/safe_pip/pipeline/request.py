"""What the user asked of a command, the run that carries it through the stages of an
install, and what the install did."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.build.options import BuildOptions

if TYPE_CHECKING:
    from safe_pip.install.installed import InstalledDist
    from safe_pip.install.installer import InstallResult
    from safe_pip.models import Finding, Plan
    from safe_pip.policy.prompting import Prompter
    from safe_pip.policy.review import Approval
    from safe_pip.policy.vulnerabilities import VulnerabilityReport
    from safe_pip.reporting import Reporter
    from safe_pip.resolve.ahead import Ahead
    from safe_pip.resolve.requirement_line import RequirementLine
    from safe_pip.settings.options import Settings
    from safe_pip.target import Scheme, TargetEnvironment

__all__ = ["InstallRequest", "Outcome", "Run"]


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


@contextmanager
def _timed(timings: dict[str, float], stage: str, reporter: Reporter) -> Iterator[None]:
    reporter.stage(stage)
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = time.perf_counter() - started
        reporter.timing(stage, timings[stage])


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
