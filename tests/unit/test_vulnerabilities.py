"""Matching what is planned or installed against advisories; the refusal and its ways out."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from rich.console import Console

from safe_pip.cli.prompt import TerminalPrompter
from safe_pip.errors import KnownVulnerability
from safe_pip.models import DistKind, Plan, PlannedDist, Severity
from safe_pip.policy.advisory_index import AdvisoryDatabase, build_index
from safe_pip.policy.advisory_options import AdvisoryOptions
from safe_pip.policy.audit import AuditLog
from safe_pip.policy.vulnerabilities import (
    Match,
    VulnerabilityReport,
    check_packages,
    enforce,
    findings,
    plan_packages,
    refusal_message,
)
from safe_pip.resolve.requirement_line import RequirementLine
from tests.support.osv import advisory

DOCUMENTS = [
    advisory(
        "GHSA-aaaa-bbbb-cccc",
        "widget",
        events=[[("introduced", "0"), ("fixed", "2.0")]],
        aliases=["CVE-2026-1111", "PYSEC-2026-1"],
        summary="Widget runs remote code",
    ),
    advisory("PYSEC-2026-2", "widget", events=[[("introduced", "1.5"), ("fixed", "2.1")]]),
    advisory("PYSEC-2026-3", "gizmo", events=[[("introduced", "0"), ("last_affected", "3.0")]]),
    advisory("PYSEC-2026-4", "doohickey", versions=["1.0"]),
]


@pytest.fixture
def database(tmp_path: Path) -> AdvisoryDatabase:
    index, count = build_index((d["id"], json.dumps(d).encode()) for d in DOCUMENTS)
    path = tmp_path / "test.index"
    path.write_bytes(index)
    return AdvisoryDatabase(path, "test-advisories", datetime.now(UTC), count)


def _packages(*pairs: str) -> list[tuple[Any, str]]:
    return [(canonicalize_name(p.split("==")[0]), p.split("==")[1]) for p in pairs]


def _line(text: str, origin: str = "command line") -> RequirementLine:
    return RequirementLine(text=text, origin=origin)


class TestCheck:
    def test_each_affecting_advisory_is_a_match(self, database: AdvisoryDatabase) -> None:
        report = check_packages(
            _packages("Widget==1.6", "gizmo==3.1", "other==1.0"), database, AdvisoryOptions()
        )
        assert [(m.name, m.advisory.id) for m in report.active] == [
            ("widget", "GHSA-aaaa-bbbb-cccc"),
            ("widget", "PYSEC-2026-2"),
        ]
        assert report.checked and report.source == "test-advisories" and len(report.packages) == 3

    def test_no_data_checks_nothing_and_says_so(self) -> None:
        report = check_packages(_packages("widget==1.0"), None, AdvisoryOptions())
        assert not report.checked and not report.matches

    def test_an_advisory_is_ignored_by_id_or_alias_with_its_reason(
        self, database: AdvisoryDatabase
    ) -> None:
        options = AdvisoryOptions(ignored={"cve-2026-1111": "not reachable", "PYSEC-2026-2": "x"})
        report = check_packages(_packages("widget==1.6"), database, options)
        assert not report.active
        assert [m.ignored for m in report.ignored] == ["not reachable", "x"]

    def test_planned_projects_are_checked(self, database: AdvisoryDatabase) -> None:
        dist = PlannedDist(canonicalize_name("widget"), Version("1.0"), DistKind.WHEEL, True, {})
        report = check_packages(plan_packages(Plan((dist,))), database, AdvisoryOptions())
        assert [m.advisory.id for m in report.active] == ["GHSA-aaaa-bbbb-cccc"]

    def test_findings_show_ids_aliases_summary_and_fix(self, database: AdvisoryDatabase) -> None:
        options = AdvisoryOptions(ignored={"PYSEC-2026-2": "accepted risk"})
        report = check_packages(_packages("widget==1.6"), database, options)
        warning, note = findings(report)
        assert warning.severity is Severity.WARNING
        assert warning.message == (
            "widget 1.6 has a known vulnerability: GHSA-aaaa-bbbb-cccc (CVE-2026-1111, "
            "PYSEC-2026-1): Widget runs remote code; fixed in 2.0"
        )
        assert note.severity is Severity.NOTE and "ignored: accepted risk" in note.message


class TestRefusal:
    def _report(self, database: AdvisoryDatabase, *pairs: str) -> VulnerabilityReport:
        return check_packages(_packages(*pairs), database, AdvisoryOptions())

    def test_names_the_advisory_the_fix_and_the_command_that_takes_it(
        self, database: AdvisoryDatabase
    ) -> None:
        report = self._report(database, "widget==1.6")
        message = refusal_message(report, [_line("widget"), _line("other", "-r req.txt (line 2)")])
        assert "widget 1.6: GHSA-aaaa-bbbb-cccc (CVE-2026-1111, PYSEC-2026-1)" in message
        # Both ranges are left only from 2.1 on.
        assert "safe-pip install widget -r req.txt 'widget>=2.1'" in message
        assert "--ignore-vuln GHSA-aaaa-bbbb-cccc,PYSEC-2026-2" in message
        assert '[tool.safe-pip.ignore-vuln] "GHSA-aaaa-bbbb-cccc"' in message

    def test_a_requirement_that_excludes_the_fix_is_named(self, database: AdvisoryDatabase) -> None:
        report = self._report(database, "widget==1.0")
        message = refusal_message(report, [_line("widget==1.0", "-r req.txt (line 1)")])
        assert "your requirement widget==1.0 (-r req.txt (line 1)) excludes" in message
        assert "change it to widget>=2.0" in message
        assert "take the fixed versions" not in message

    @pytest.mark.parametrize(
        ("requirement", "allowed"),
        [
            ("widget>=1,<3", True),
            ("widget~=1.0", False),
            ("widget<2", False),
            ("widget>=2.5", True),
        ],
    )
    def test_upper_bounds_decide_whether_the_fix_is_allowed(
        self, database: AdvisoryDatabase, requirement: str, allowed: bool
    ) -> None:
        message = refusal_message(self._report(database, "widget==1.0"), [_line(requirement)])
        assert ("take the fixed versions" in message) is allowed

    def test_last_affected_gives_a_strict_bound(self, database: AdvisoryDatabase) -> None:
        message = refusal_message(self._report(database, "gizmo==2.0"), [_line("gizmo")])
        assert "versions >3.0 are not affected" in message and "'gizmo>3.0'" in message

    def test_no_known_fix_says_so(self, database: AdvisoryDatabase) -> None:
        message = refusal_message(self._report(database, "doohickey==1.0"), [])
        assert "doohickey: no fixed version is known" in message

    def test_enforce_logs_ignored_and_refused_advisories(
        self, database: AdvisoryDatabase, tmp_path: Path
    ) -> None:
        options = AdvisoryOptions(ignored={"PYSEC-2026-2": "only used offline"})
        report = check_packages(_packages("widget==1.6"), database, options)
        log = AuditLog(tmp_path)
        with pytest.raises(KnownVulnerability) as caught:
            enforce(report, [_line("widget")], log)
        assert caught.value.exit_code == 3
        lines = [json.loads(line) for line in log.path.read_text().splitlines()]
        assert [(line["decision"], line["how"]) for line in lines] == [
            ("ignored", "known vulnerability PYSEC-2026-2 ignored: only used offline"),
            ("refused", "known vulnerability GHSA-aaaa-bbbb-cccc"),
        ]

    def test_enforce_lets_a_clean_or_fully_ignored_plan_through(
        self, database: AdvisoryDatabase, tmp_path: Path
    ) -> None:
        options = AdvisoryOptions(ignored={"GHSA-aaaa-bbbb-cccc": "r", "PYSEC-2026-2": "r"})
        enforce(check_packages(_packages("widget==1.6"), database, options), [], AuditLog(tmp_path))
        enforce(self._report(database, "widget==2.1"), [], AuditLog(tmp_path))
        decisions = [
            json.loads(x)["decision"] for x in (tmp_path / "audit.log").read_text().splitlines()
        ]
        assert decisions == ["ignored", "ignored"]


class _Answer:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.shown: list[str] = []

    def accept_vulnerable(self, matches: Sequence[Match]) -> bool:
        self.shown += [match.advisory.id for match in matches]
        return self.answer


class TestPrompt:
    def test_accepted_at_the_prompt_goes_through_and_is_logged(
        self, database: AdvisoryDatabase, tmp_path: Path
    ) -> None:
        report = check_packages(_packages("gizmo==1.0"), database, AdvisoryOptions())
        answer = _Answer(True)
        enforce(report, [], AuditLog(tmp_path), answer)
        assert answer.shown == ["PYSEC-2026-3"]
        (line,) = [json.loads(x) for x in (tmp_path / "audit.log").read_text().splitlines()]
        assert line["decision"] == "ignored" and line["how"].endswith("accepted at the prompt")

    def test_refused_at_the_prompt_is_refused(
        self, database: AdvisoryDatabase, tmp_path: Path
    ) -> None:
        report = check_packages(_packages("gizmo==1.0"), database, AdvisoryOptions())
        with pytest.raises(KnownVulnerability, match="PYSEC-2026-3"):
            enforce(report, [], AuditLog(tmp_path), _Answer(False))

    def test_a_prompter_that_cannot_ask_about_vulnerabilities_refuses(
        self, database: AdvisoryDatabase, tmp_path: Path
    ) -> None:
        report = check_packages(_packages("gizmo==1.0"), database, AdvisoryOptions())
        with pytest.raises(KnownVulnerability):
            enforce(report, [], AuditLog(tmp_path), object())

    @pytest.mark.parametrize(("typed", "accepted"), [("y", True), ("", False), ("no", False)])
    def test_the_terminal_asks_once_and_defaults_to_no(
        self, database: AdvisoryDatabase, typed: str, accepted: bool
    ) -> None:
        report = check_packages(_packages("gizmo==1.0"), database, AdvisoryOptions())
        stream = io.StringIO()
        questions: list[str] = []

        def ask(question: str) -> str:
            questions.append(question)
            return typed

        console = Console(file=stream, width=200, no_color=True)
        prompter = TerminalPrompter(console, contextlib.nullcontext, ask=ask)
        assert prompter.accept_vulnerable(report.active) is accepted
        assert questions == ["Install these vulnerable versions anyway? [y/N] "]
        assert "gizmo 1.0: PYSEC-2026-3" in stream.getvalue()
