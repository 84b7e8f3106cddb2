from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import PolicyDenied
from safe_pip.install.installed import InstalledDist
from safe_pip.install.installer import InstallResult
from safe_pip.install.placement import Layout
from safe_pip.models import DistKind, Finding, IndexFile, Plan, PlannedDist, Severity
from safe_pip.pipeline.install import run_install
from safe_pip.pipeline.request import InstallRequest, Outcome, Run
from safe_pip.pipeline.session import with_original_urls
from safe_pip.pipeline.stages import Inspected, Resolved, Reviewed
from safe_pip.pipeline.target_stage import Located
from safe_pip.policy.approval import TrustCheck
from safe_pip.policy.audit import AuditLog
from safe_pip.policy.hashes import HashPin
from safe_pip.policy.trust import TrustStore
from safe_pip.policy.vulnerabilities import VulnerabilityReport
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.settings.options import Settings
from safe_pip.target import Scheme, TargetEnvironment
from tests.support.environments import fake_environment
from tests.support.files import demo_wheel

DEMO = canonicalize_name("demo")
DIST = PlannedDist(DEMO, Version("1.0"), DistKind.WHEEL, True, {}, file=demo_wheel("c" * 64))
STAGES = [
    "admit",
    "locate",
    "satisfied",
    "open",
    "resolve",
    "review",
    "approve",
    "fetch",
    "build",
    "approve_updates",
    "inspect",
    "install",
    "record",
]


def _finding(message: str) -> Finding:
    return Finding(DEMO, Severity.NOTE, message)


class _Stages:
    """Stages that note each call in ``calls``; the one named ``refuse`` raises instead.
    Whatever ``open`` put on the run's stack notes ``closed`` when it is closed."""

    def __init__(
        self,
        home: Path,
        refuse: str | None = None,
        plan: Plan | None = None,
        satisfied: tuple[InstalledDist, ...] | None = None,
    ) -> None:
        self.calls: list[str] = []
        self.refuse = refuse
        self.already = satisfied
        self.plan = Plan((DIST,)) if plan is None else plan
        self.target, self.scheme = fake_environment(home)
        self.trust = [self._trust(home) for _ in range(3)]
        self.result = InstallResult(installed=(DIST,), replaced=())
        self.recorded: list[tuple[TrustCheck, InstallResult]] = []

    @staticmethod
    def _trust(home: Path) -> TrustCheck:
        return TrustCheck(TrustStore(home), AuditLog(home), (), datetime.now(UTC))

    def step(self, name: str) -> None:
        self.calls.append(name)
        if name == self.refuse:
            raise PolicyDenied(f"{name} refused")

    def admit(self, run: Run) -> None:
        self.step("admit")

    def locate(self, run: Run) -> Located:
        self.step("locate")
        return Located(self.target, self.scheme)

    def satisfied(self, run: Run, located: Located) -> tuple[InstalledDist, ...] | None:
        self.step("satisfied")
        assert (located.target, located.scheme) == (self.target, self.scheme)
        return self.already

    def open(self, run: Run, stack: ExitStack, located: Located) -> _Gated:
        self.step("open")
        assert (located.target, located.scheme) == (self.target, self.scheme)
        stack.callback(self.calls.append, "closed")
        return _Gated(self)


class _Gated:
    def __init__(self, stages: _Stages) -> None:
        self.stages = stages

    @property
    def target(self) -> TargetEnvironment:
        return self.stages.target

    @property
    def scheme(self) -> Scheme:
        return self.stages.scheme

    def resolve(self) -> Resolved:
        self.stages.step("resolve")
        return Resolved(self.stages.plan, ())

    def review(self, resolved: Resolved) -> Reviewed:
        self.stages.step("review")
        report = VulnerabilityReport(())
        return Reviewed((_finding("reviewed"),), self.stages.trust[0], report, (), {})

    def approve(self, plan: Plan, reviewed: Reviewed) -> TrustCheck:
        self.stages.step("approve")
        assert reviewed.trust is self.stages.trust[0]
        return self.stages.trust[1]

    def fetch(
        self, plan: Plan, pins: Mapping[NormalizedName, Sequence[HashPin]]
    ) -> dict[NormalizedName, Path]:
        self.stages.step("fetch")
        return {DEMO: Path("demo.tar.gz")}

    def build(self, plan: Plan, files: Mapping[NormalizedName, Path]) -> dict[NormalizedName, Path]:
        self.stages.step("build")
        assert files == {DEMO: Path("demo.tar.gz")}
        return {DEMO: Path("demo-1.0-py3-none-any.whl")}

    def approve_updates(
        self, trust: TrustCheck, plan: Plan, files: Mapping[NormalizedName, Path]
    ) -> tuple[TrustCheck, list[Finding]]:
        self.stages.step("approve_updates")
        assert trust is self.stages.trust[1]
        assert files == {DEMO: Path("demo-1.0-py3-none-any.whl")}
        return self.stages.trust[2], [_finding("updated")]

    def inspect(self, plan: Plan, files: Mapping[NormalizedName, Path]) -> Inspected:
        self.stages.step("inspect")
        assert files == {DEMO: Path("demo-1.0-py3-none-any.whl")}
        return Inspected(Layout((), findings=(_finding("laid out"),)), None)

    def install(self, inspected: Inspected) -> InstallResult:
        self.stages.step("install")
        return self.stages.result

    def record(self, trust: TrustCheck, result: InstallResult) -> None:
        self.stages.step("record")
        self.stages.recorded.append((trust, result))


def _install(stages: _Stages, tmp_path: Path, *, dry_run: bool = False) -> Outcome:
    request = InstallRequest(
        lines=(RequirementLine("demo==1.0", "command line"),),
        python=Path(sys.executable),
        dry_run=dry_run,
    )
    settings = Settings(home=tmp_path / "home", cache_dir=None, sources=())
    return run_install(request, settings, stages=stages)


def test_the_stages_run_in_order_and_the_gateway_closes_after_the_record(
    tmp_path: Path,
) -> None:
    stages = _Stages(tmp_path)
    outcome = _install(stages, tmp_path)
    assert stages.calls == [*STAGES, "closed"]
    assert outcome.result is stages.result
    messages = [finding.message for finding in outcome.findings]
    assert messages == ["reviewed", "updated", "laid out"]


def test_the_record_is_of_the_install_with_the_trust_its_updates_left(tmp_path: Path) -> None:
    stages = _Stages(tmp_path)
    _install(stages, tmp_path)
    assert stages.recorded == [(stages.trust[2], stages.result)]


@pytest.mark.parametrize("refused", ["review", "approve"])
def test_nothing_is_fetched_or_installed_when_the_plan_is_refused(
    tmp_path: Path, refused: str
) -> None:
    stages = _Stages(tmp_path, refuse=refused)
    with pytest.raises(PolicyDenied, match=f"{refused} refused"):
        _install(stages, tmp_path)
    assert stages.calls == [*STAGES[: STAGES.index(refused) + 1], "closed"]
    assert not {"fetch", "build", "inspect", "install", "record"} & set(stages.calls)


@pytest.mark.parametrize("failed", STAGES[STAGES.index("fetch") : STAGES.index("install") + 1])
def test_a_failure_up_to_the_install_leaves_nothing_recorded(tmp_path: Path, failed: str) -> None:
    stages = _Stages(tmp_path, refuse=failed)
    with pytest.raises(PolicyDenied):
        _install(stages, tmp_path)
    assert stages.calls == [*STAGES[: STAGES.index(failed) + 1], "closed"]
    assert stages.recorded == []


def test_a_refused_admission_opens_nothing(tmp_path: Path) -> None:
    stages = _Stages(tmp_path, refuse="admit")
    with pytest.raises(PolicyDenied):
        _install(stages, tmp_path)
    assert stages.calls == ["admit"]


def test_a_dry_run_stops_after_the_review(tmp_path: Path) -> None:
    stages = _Stages(tmp_path)
    outcome = _install(stages, tmp_path, dry_run=True)
    assert stages.calls == ["admit", "locate", "satisfied", "open", "resolve", "review", "closed"]
    assert outcome.result is None
    assert [finding.message for finding in outcome.findings] == ["reviewed"]


def test_an_empty_plan_stops_after_the_review(tmp_path: Path) -> None:
    stages = _Stages(tmp_path, plan=Plan(()))
    outcome = _install(stages, tmp_path)
    assert stages.calls == ["admit", "locate", "satisfied", "open", "resolve", "review", "closed"]
    assert outcome.result is None
    assert [finding.message for finding in outcome.findings] == ["reviewed"]


def test_a_request_already_satisfied_opens_no_gateway(tmp_path: Path) -> None:
    present = InstalledDist(DEMO, "1.0", tmp_path / "site" / "demo-1.0.dist-info")
    stages = _Stages(tmp_path, satisfied=(present,))
    outcome = _install(stages, tmp_path)
    assert stages.calls == ["admit", "locate", "satisfied"]
    assert outcome.satisfied == (present,)
    assert (outcome.plan.dists, outcome.result, outcome.findings) == ((), None, ())
    assert (outcome.target, outcome.scheme) == (stages.target, stages.scheme)
    assert "target" in outcome.timings


def test_what_an_install_imports_before_the_gateway_loads_none_of_the_gated_stages() -> None:
    """A request already satisfied pays only for what it uses: not the gateway's selection
    (nor its thread pool), the stage protocols, advisories, the audit log or command."""
    gated = [
        "concurrent.futures",
        "safe_pip.cli.audit_cmd",
        "safe_pip.gateway.selection",
        "safe_pip.pipeline.gated",
        "safe_pip.pipeline.stages",
        "safe_pip.policy.advisory_source",
        "safe_pip.policy.audit",
    ]
    code = (
        "import sys\n"
        "import safe_pip.cli.install_cmd, safe_pip.pipeline.install, safe_pip.resolve.ahead\n"
        f"print([name for name in {gated!r} if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("failed", ["locate", "satisfied"])
def test_a_failure_before_the_gateway_opens_nothing(tmp_path: Path, failed: str) -> None:
    stages = _Stages(tmp_path, refuse=failed)
    with pytest.raises(PolicyDenied):
        _install(stages, tmp_path)
    assert stages.calls == STAGES[: STAGES.index(failed) + 1]


def test_a_cached_copy_of_a_wheel_named_by_url_is_planned_as_that_url(tmp_path: Path) -> None:
    copy = tmp_path / "demo-1.0-py3-none-any.whl"
    url = "https://files.example/demo-1.0-py3-none-any.whl"
    local = PlannedDist(
        DEMO,
        Version("1.0"),
        DistKind.WHEEL,
        True,
        {},
        local_path=str(copy),
        local_sha256="d" * 64,
    )
    indexed = PlannedDist(canonicalize_name("other"), Version("2.0"), DistKind.WHEEL, False, {})
    plan = with_original_urls(Plan((local, indexed)), {str(copy.resolve()): url})
    shown, kept = plan.dists
    assert shown.file == IndexFile(copy.name, url, DEMO, Version("1.0"), DistKind.WHEEL, "d" * 64)
    assert (shown.local_path, shown.local_sha256) == (None, None)
    assert kept is indexed
