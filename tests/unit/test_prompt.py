"""The terminal review: the table, and the answers all, none and one by one."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from rich.console import Console

from safe_pip.cli.audit_cmd import present_plan_audit
from safe_pip.cli.present import plan_lines
from safe_pip.cli.prompt import TerminalPrompter, review_panels
from safe_pip.models import DistKind, IndexFile, Plan, PlannedDist, SourceSpec
from safe_pip.policy.advisory_index import AdvisoryDatabase, build_index
from safe_pip.policy.advisory_options import AdvisoryOptions
from safe_pip.policy.review import Approval, ProjectFacts
from safe_pip.policy.trust import How
from safe_pip.policy.trust_warnings import TrustWarning, WarningKind
from safe_pip.policy.vulnerabilities import VulnerabilityReport, check_packages
from tests.support.osv import advisory

NOW = datetime.now(UTC)
SOURCE = SourceSpec("pypi", "https://pypi.org/simple")


def _facts(name: str, *, suspicious: bool = False) -> ProjectFacts:
    warnings = (TrustWarning(WarningKind.TYPOSQUAT, "the name looks like 'requests'"),)
    return ProjectFacts(
        name=canonicalize_name(name),
        version=Version("1.0"),
        filename=f"{name}-1.0-py3-none-any.whl",
        sha256="a" * 64,
        source=SOURCE,
        wheel=True,
        size=2048,
        released=NOW - timedelta(days=3),
        first_released=NOW - timedelta(days=400),
        summary=f"The {name} project",
        home_page=f"https://{name}.example",
        warnings=warnings if suspicious else (),
        known=None,
    )


class _Script:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    def __call__(self, question: str) -> str:
        self.questions.append(question)
        return self.answers.pop(0)


@contextlib.contextmanager
def _paused() -> Iterator[None]:
    yield


def _prompter(script: _Script) -> tuple[TerminalPrompter, io.StringIO]:
    stream = io.StringIO()
    console = Console(file=stream, width=120, no_color=True)
    return TerminalPrompter(console, _paused, ask=script), stream


class TestTerminalPrompter:
    def test_the_review_shows_every_fact(self) -> None:
        prompter, stream = _prompter(_Script("y"))
        prompter.approve([_facts("alpha"), _facts("reqeusts", suspicious=True)])
        shown = stream.getvalue()
        for text in ("alpha 1.0", "reqeusts 1.0", "pypi", "The alpha project", "2.0 kB"):
            assert text in shown
        assert "https://alpha.example" in shown and "looks like 'requests'" in shown
        assert "(3 days ago)" in shown and "(400 days ago)" in shown

    @pytest.mark.parametrize(("answer", "approved"), [("y", True), ("no", False), ("", True)])
    def test_all_or_none(self, answer: str, approved: bool) -> None:
        prompter, _ = _prompter(_Script(answer))
        answers = prompter.approve([_facts("alpha"), _facts("beta")])
        assert answers == {"alpha": approved, "beta": approved}

    def test_a_suspicious_project_makes_the_default_no(self) -> None:
        script = _Script("")
        prompter, _ = _prompter(script)
        assert prompter.approve([_facts("reqeusts", suspicious=True)]) == {"reqeusts": False}
        assert "[y/N/o]" in script.questions[0]

    def test_one_by_one_with_defaults(self) -> None:
        script = _Script("what?", "o", "", "", "y")
        prompter, stream = _prompter(script)
        pending = [_facts("alpha"), _facts("reqeusts", suspicious=True), _facts("gamma")]
        answers = prompter.approve(pending)
        assert answers == {"alpha": True, "reqeusts": False, "gamma": True}
        assert "Please answer" in stream.getvalue()
        assert "[y/N]" in script.questions[3]


def test_the_dry_run_plan_shows_the_status() -> None:
    facts = _facts("reqeusts", suspicious=True)
    file = IndexFile(
        facts.filename, "https://x/f.whl", facts.name, facts.version, DistKind.WHEEL, "a" * 64
    )
    dist = PlannedDist(facts.name, facts.version, DistKind.WHEEL, True, {}, file, SOURCE)
    lines = plan_lines(Plan((dist,)), (), [Approval(facts, None)])
    assert "first seen, not approved" in lines[1]
    assert "looks like 'requests'" in lines[2]
    lines = plan_lines(Plan((dist,)), (), [Approval(facts, How.FLAG)])
    assert "approved by flag" in lines[1]


def test_control_characters_in_metadata_cannot_rewrite_the_review() -> None:
    """A summary that moves the cursor up and erases lines would hide the warning above
    it: every control character is shown as an escape instead."""
    hostile = replace(
        _facts("reqeusts", suspicious=True),
        summary="fine\x1b[1A\x1b[2K\x1b[1A\x1b[2K\rall clear\x07",
        home_page="https://x.example/\x1b]8;;https://evil.example\x1b\\",
    )
    stream = io.StringIO()
    Console(file=stream, width=120, no_color=True).print(review_panels([hostile], NOW))
    shown = stream.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "\\x1b[1A" in shown


def _hostile_advisories(tmp_path: Path) -> VulnerabilityReport:
    """An advisory whose summary carries rich markup and terminal control sequences."""
    document = advisory(
        "GHSA-aaaa-bbbb-cccc",
        "widget",
        events=[[("introduced", "0"), ("fixed", "2.0")]],
        summary="bad [/] [link=https://evil.example]click[/link]\x1b[2K\rall clear",
    )
    index, count = build_index([(document["id"], json.dumps(document).encode())])
    path = tmp_path / "test.index"
    path.write_bytes(index)
    database = AdvisoryDatabase(path, "test-advisories", NOW, count)
    return check_packages([(canonicalize_name("widget"), "1.0")], database, AdvisoryOptions())


def _assert_shown_literally(shown: str) -> None:
    assert "\x1b" not in shown and "\r" not in shown
    assert "bad [/] [link=https://evil.example]click[/link]\\x1b[2K\\rall clear" in shown


def test_an_advisory_summary_is_shown_literally_at_the_prompt(tmp_path: Path) -> None:
    prompter, stream = _prompter(_Script("n"))
    assert not prompter.accept_vulnerable(_hostile_advisories(tmp_path).active)
    _assert_shown_literally(stream.getvalue())


def test_an_advisory_summary_is_shown_literally_in_the_audit_table(tmp_path: Path) -> None:
    """Markup in a summary would be rendered (or, unbalanced, end in a traceback)."""
    stream = io.StringIO()
    console = Console(file=stream, width=400, no_color=True)
    assert present_plan_audit(_hostile_advisories(tmp_path), console) == 1
    _assert_shown_literally(stream.getvalue())
