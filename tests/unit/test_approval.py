"""The trust stage: records after an install, approvals before build code runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import FirstSeenRefused, TrustStoreError
from safe_pip.models import DistKind, IndexFile, NameSet, Plan, PlannedDist, SourceSpec
from safe_pip.policy.approval import (
    ApprovalNeeded,
    ApprovalStore,
    TrustCheck,
    approve_early,
    remember,
    require_approved,
)
from safe_pip.policy.audit import AuditLog
from safe_pip.policy.review import ProjectFacts
from safe_pip.policy.trust import How, Remembered, TrustedProject, TrustStore
from safe_pip.settings.options import Settings

SOURCE = SourceSpec("pypi", "https://pypi.org/simple")


def _installed(name: str) -> PlannedDist:
    file = IndexFile(
        f"{name}-1.0-py3-none-any.whl",
        f"https://files.example/{name}-1.0-py3-none-any.whl",
        canonicalize_name(name),
        Version("1.0"),
        DistKind.WHEEL,
        "a" * 64,
    )
    return PlannedDist(file.project, file.version, file.kind, True, {}, file, SOURCE)


def _check(home: Path, store: ApprovalStore | None = None) -> TrustCheck:
    return TrustCheck(store or TrustStore(home), AuditLog(home), (), datetime.now(UTC))


class FakeStore:
    """A trust store in memory: what was approved before, and every record written."""

    def __init__(self, *approved: str) -> None:
        self.approved = {
            canonicalize_name(name): TrustedProject(
                canonicalize_name(name), None, None, datetime.now(UTC), How.COMMAND, {}
            )
            for name in approved
        }
        self.recorded: list[Remembered] = []

    def load(self) -> Mapping[NormalizedName, TrustedProject]:
        return self.approved

    def record(self, installed: Sequence[Remembered]) -> None:
        self.recorded.extend(installed)


class FullStore(FakeStore):
    def record(self, installed: Sequence[Remembered]) -> None:
        msg = "The trust store cannot be written: [Errno 28] No space left on device"
        raise TrustStoreError(msg)


class TestRemember:
    def test_records_every_installed_file(self, tmp_path: Path) -> None:
        remember(_check(tmp_path), (_installed("demo"),))
        (project,) = TrustStore(tmp_path).load().values()
        assert project.files == {"1.0": {"demo-1.0-py3-none-any.whl": "a" * 64}}

    def test_a_store_that_cannot_be_written_says_the_install_went_through(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(TrustStoreError) as caught:
            remember(_check(tmp_path, FullStore()), (_installed("demo"),))
        message = str(caught.value)
        assert message.startswith("Installed demo-1.0, but safe-pip could not record it")
        assert "No space left on device" in message
        assert "stay installed" in message


def _settings(home: Path, *trusted: str) -> Settings:
    trust = NameSet(trusted)
    return Settings(home=home, cache_dir=None, sources=(SOURCE,), trust=trust, trust_flags=trust)


class TestApproveEarly:
    """Build backends and their requirements: approved before their code runs."""

    def test_unattended_first_seen_is_refused_naming_the_flag(self, tmp_path: Path) -> None:
        with pytest.raises(FirstSeenRefused, match="--trust demo"):
            approve_early(
                Plan((_installed("demo"),)), {}, settings=_settings(tmp_path), prompter=None
            )
        assert TrustStore(tmp_path).load() == {}
        assert '"refused"' in (tmp_path / "audit.log").read_text()

    def test_a_refusal_writes_nothing_to_the_store(self, tmp_path: Path) -> None:
        store = FakeStore("known")
        plan = Plan((_installed("known"), _installed("demo")))
        with pytest.raises(FirstSeenRefused, match="--trust demo"):
            approve_early(plan, {}, settings=_settings(tmp_path), prompter=None, store=store)
        assert store.recorded == []

    def test_approved_before_is_recorded_as_from_the_store(self, tmp_path: Path) -> None:
        store = FakeStore("known")
        approve_early(
            Plan((_installed("known"),)),
            {},
            settings=_settings(tmp_path),
            prompter=None,
            store=store,
        )
        assert [(item.name, item.how) for item in store.recorded] == [("known", How.STORE)]
        assert not (tmp_path / "trust.json").exists()

    def test_approved_is_recorded_at_once_and_not_as_installed(self, tmp_path: Path) -> None:
        approve_early(
            Plan((_installed("demo"),)),
            {},
            settings=_settings(tmp_path, "demo"),
            prompter=None,
        )
        assert "demo" in TrustStore(tmp_path).load()
        log = (tmp_path / "audit.log").read_text()
        assert '"approved"' in log and '"installed"' not in log

    def test_the_prompter_is_asked(self, tmp_path: Path) -> None:
        asked: list[str] = []

        class Yes:
            def approve(self, pending: Sequence[ProjectFacts]) -> Mapping[NormalizedName, bool]:
                asked.extend(item.name for item in pending)
                return {item.name: True for item in pending}

        settings = replace(_settings(tmp_path), unattended=False)
        approve_early(Plan((_installed("demo"),)), {}, settings=settings, prompter=Yes())
        assert asked == ["demo"]
        assert "demo" in TrustStore(tmp_path).load()


class TestRequireApproved:
    """The check made while pip waits: nobody is asked there."""

    def test_attended_the_question_is_left_to_the_caller(self, tmp_path: Path) -> None:
        plan = Plan((_installed("demo"),))
        settings = replace(_settings(tmp_path), unattended=False)
        with pytest.raises(ApprovalNeeded) as caught:
            require_approved(plan, {}, settings=settings, pins={}, attended=True)
        assert caught.value.plan == plan
        assert not (tmp_path / "audit.log").exists()

    def test_unattended_it_is_a_refusal(self, tmp_path: Path) -> None:
        with pytest.raises(FirstSeenRefused, match="--trust demo") as caught:
            require_approved(
                Plan((_installed("demo"),)),
                {},
                settings=_settings(tmp_path),
                pins={},
                attended=False,
            )
        assert not isinstance(caught.value, ApprovalNeeded)

    def test_approved_in_advance_is_recorded(self, tmp_path: Path) -> None:
        require_approved(
            Plan((_installed("demo"),)),
            {},
            settings=_settings(tmp_path, "demo"),
            pins={},
            attended=True,
        )
        assert "demo" in TrustStore(tmp_path).load()
