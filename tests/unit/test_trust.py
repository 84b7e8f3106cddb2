"""The trust store and the audit log: round trips, concurrency, corruption, atomicity."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.errors import TrustStoreError
from safe_pip.models import SourceSpec
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.policy.trust import STORE_VERSION, How, Remembered, TrustStore

SOURCE = SourceSpec("corp", "https://corp.example/simple", username="user", password="s3cret")


def _item(
    name: str, version: str = "1.0", sha256: str = "a" * 64, how: How = How.PROMPT
) -> Remembered:
    return Remembered(
        canonicalize_name(name),
        Version(version),
        f"{name}-{version}-py3-none-any.whl",
        sha256,
        SOURCE,
        how,
    )


def _write_entries(home: str, worker: int) -> None:
    store = TrustStore(Path(home))
    for index in range(10):
        store.record([_item(f"p{worker}-{index}")])


class TestStore:
    def test_missing_store_is_empty(self, tmp_path: Path) -> None:
        assert TrustStore(tmp_path).load() == {}

    def test_round_trip(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path)
        store.record([_item("Demo_Pkg", "1.0"), _item("demo-pkg", "2.0", "b" * 64, How.STORE)])
        project = TrustStore(tmp_path).load()[canonicalize_name("demo-pkg")]
        assert project.source == "corp"
        assert project.source_url == "https://corp.example/simple"
        assert project.how is How.PROMPT
        assert project.sha256_of(Version("1.0"), "Demo_Pkg-1.0-py3-none-any.whl") == "a" * 64
        assert project.sha256_of(Version("2.0"), "demo-pkg-2.0-py3-none-any.whl") == "b" * 64
        assert project.sha256_of(Version("3.0"), "x.whl") is None
        document = json.loads(store.path.read_text())
        assert document["version"] == STORE_VERSION

    def test_no_credentials_are_stored(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path)
        store.record([_item("demo")])
        assert "s3cret" not in store.path.read_text()
        assert "user" not in store.path.read_text()

    def test_a_store_approval_keeps_the_first_approval(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path)
        store.record([_item("demo", how=How.FLAG)])
        store.record([_item("demo", "2.0", how=How.STORE)])
        project = store.load()[canonicalize_name("demo")]
        assert project.how is How.FLAG
        assert set(project.files) == {"1.0", "2.0"}

    def test_add_then_install_names_the_source(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path)
        assert store.approve(["Demo"], How.COMMAND) == ["demo"]
        assert store.approve(["demo"], How.COMMAND) == []
        assert store.load()[canonicalize_name("demo")].source is None
        store.record([_item("demo", how=How.STORE)])
        project = store.load()[canonicalize_name("demo")]
        assert (project.source, project.how) == ("corp", How.COMMAND)

    def test_remove_and_forget(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path)
        store.record([_item("one"), _item("two"), _item("two", "2.0", how=How.STORE)])
        assert store.remove(["one", "absent"]) == ["one"]
        assert store.forget("two", Version("1.0")) == {"two-1.0-py3-none-any.whl": "a" * 64}
        assert store.forget("two", Version("1.0")) == {}
        assert store.forget("absent", Version("1.0")) == {}
        projects = store.load()
        assert list(projects) == ["two"]
        assert set(projects[canonicalize_name("two")].files) == {"2.0"}

    def test_concurrent_writers_keep_every_entry(self, tmp_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(target=_write_entries, args=(str(tmp_path), n)) for n in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert len(TrustStore(tmp_path).load()) == 40

    @pytest.mark.parametrize(
        "content",
        [
            "{not json",
            "[]",
            '{"version": 1}',
            '{"version": 1, "projects": {"x": {"source": 3}}}',
            '{"version": 1, "projects": {"x": {"source": null, "source_url": null, '
            '"approved_at": "2026-01-01T00:00:00Z", "how": "magic", "files": {}}}}',
            '{"version": 99, "projects": {}}',
        ],
    )
    def test_a_corrupt_store_is_reported_and_left_untouched(
        self, tmp_path: Path, content: str
    ) -> None:
        store = TrustStore(tmp_path)
        store.path.write_text(content)
        with pytest.raises(TrustStoreError) as caught:
            store.load()
        assert str(store.path) in str(caught.value)
        assert "move it aside" in str(caught.value)
        with pytest.raises(TrustStoreError):
            store.record([_item("demo")])
        assert store.path.read_text() == content

    def test_write_is_atomic(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        store = TrustStore(tmp_path)
        store.record([_item("before")])
        original = store.path.read_text()

        def crash(*args: object, **kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(os, "fsync", crash)
        with pytest.raises(TrustStoreError, match="cannot be written"):
            store.record([_item("after")])
        assert store.path.read_text() == original
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


class TestAuditLog:
    def test_appends_one_json_line_per_event(self, tmp_path: Path) -> None:
        log = AuditLog(tmp_path)
        log.write([AuditEvent(Action.REFUSED, "demo", "1.0", "corp", "d.whl", "a" * 64, "x")])
        log.write([AuditEvent(Action.INSTALLED, "demo", "1.0"), AuditEvent(Action.APPROVED, "b")])
        lines = [json.loads(line) for line in log.path.read_text().splitlines()]
        assert [line["decision"] for line in lines] == ["refused", "installed", "approved"]
        assert lines[0]["sha256"] == "a" * 64
        assert lines[0]["time"].endswith("Z")

    def test_nothing_to_write_creates_nothing(self, tmp_path: Path) -> None:
        AuditLog(tmp_path).write([])
        assert not (tmp_path / "audit.log").exists()


class TestExemptions:
    def test_allow_new_round_trips_and_replaces_the_same_release(self, tmp_path: Path) -> None:
        from datetime import date

        from safe_pip.policy.trust import parse_exemption

        store = TrustStore(tmp_path)
        store.allow_new(parse_exemption("Num2Words==0.5.15", "urgent fix", None, "x"))
        store.allow_new(parse_exemption("num2words==0.5.15", "CVE fix", "2026-12-31", "x"))
        store.allow_new(parse_exemption("other", "any version", None, "x"))
        first, second = store.exemptions()
        assert (first.label, first.reason, first.until) == (
            "num2words==0.5.15",
            "CVE fix",
            date(2026, 12, 31),
        )
        assert second.version is None and second.covers(canonicalize_name("other"), Version("9"))
        assert not first.covers(canonicalize_name("num2words"), Version("0.5.16"))
        assert first.expired(date(2027, 1, 1)) and not first.expired(date(2026, 12, 31))

    @pytest.mark.parametrize(
        ("spec", "reason", "until", "problem"),
        [
            ("demo==", "r", None, "NAME==VERSION"),
            ("demo==not a version", "r", None, "not a version"),
            ("demo", " ", None, "reason is required"),
            ("demo", "r", "tomorrow", "not a date"),
        ],
    )
    def test_malformed_exemptions_say_what_is_wrong(
        self, spec: str, reason: str, until: str | None, problem: str
    ) -> None:
        from safe_pip.policy.trust import parse_exemption

        with pytest.raises(ValueError, match=problem):
            parse_exemption(spec, reason, until, "x")

    def test_a_malformed_exemption_in_the_store_is_reported(self, tmp_path: Path) -> None:
        (tmp_path / "trust.json").write_text(
            json.dumps({"version": STORE_VERSION, "projects": {}, "allow_new": [{"name": 1}]})
        )
        with pytest.raises(TrustStoreError, match="allow_new"):
            TrustStore(tmp_path).exemptions()


class TestListings:
    def test_the_listing_of_an_installed_version_is_remembered_and_forgotten(
        self, tmp_path: Path
    ) -> None:
        from dataclasses import replace

        store = TrustStore(tmp_path)
        item = replace(_item("demo"), listed=("demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"))
        store.record([item])
        listing = store.load()[canonicalize_name("demo")].listed["1.0"]
        assert listing["files"] == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]
        assert store.forget("demo", Version("1.0"))
        assert store.load()[canonicalize_name("demo")].listed == {}
