"""First-seen review: facts and warnings, the approval decision, remembered hashes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import HashMismatch
from safe_pip.models import (
    DistKind,
    IndexFile,
    NameSet,
    Plan,
    PlannedDist,
    ProjectPage,
    ServedProject,
    SourceSpec,
)
from safe_pip.review import (
    ProjectFacts,
    Suspicion,
    WarningKind,
    check_remembered,
    decide,
    refusal_message,
    remembered_mismatches,
    trust_review,
)
from safe_pip.trust import How, TrustedProject

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PUBLIC = SourceSpec("pypi", "https://pypi.org/simple")
CORP = SourceSpec("corp", "https://corp.example/simple")


@dataclass(frozen=True)
class _Suspicion:
    name: str
    intended: str
    reason: str


def _no_typos(names: Collection[NormalizedName]) -> Mapping[NormalizedName, Suspicion]:
    return {}


def _typos(names: Collection[NormalizedName]) -> Mapping[NormalizedName, Suspicion]:
    return {n: _Suspicion(n, "requests", "two letters swapped") for n in names if n == "reqeusts"}


def _file(name: str, version: str, days_old: float, kind: DistKind = DistKind.WHEEL) -> IndexFile:
    suffix = "-py3-none-any.whl" if kind is DistKind.WHEEL else ".tar.gz"
    return IndexFile(
        filename=f"{name}-{version}{suffix}",
        url=f"https://files.example/{name}-{version}{suffix}",
        project=canonicalize_name(name),
        version=Version(version),
        kind=kind,
        sha256=(name + version).encode().hex().ljust(64, "0")[:64],
        upload_time=NOW - timedelta(days=days_old),
        size=1234,
    )


def _dist(
    file: IndexFile, source: SourceSpec = PUBLIC, metadata: dict[str, Any] | None = None
) -> PlannedDist:
    return PlannedDist(
        name=file.project,
        version=file.version,
        kind=file.kind,
        requested=True,
        metadata=metadata or {"summary": "Demo", "home_page": "https://demo.example"},
        file=file,
        source=source,
    )


def _served(*files: IndexFile, source: SourceSpec = PUBLIC) -> ServedProject:
    page = ProjectPage(files[0].project, source, tuple(files))
    return ServedProject(page, tuple(files), ())


def _known(
    name: str, source: SourceSpec = PUBLIC, files: Mapping[str, Mapping[str, str]] | None = None
) -> TrustedProject:
    return TrustedProject(
        canonicalize_name(name), source.name, source.url, NOW, How.PROMPT, files or {}
    )


class TestFacts:
    def test_first_seen_projects_with_all_their_facts(self) -> None:
        old, new = _file("demo", "0.1", 400), _file("demo", "2.0", 100)
        dist = _dist(new, metadata={"summary": "S", "project_url": ["Source, https://src"]})
        (facts,) = trust_review(Plan((dist,)), {}, {dist.name: _served(old, new)}, NOW, _no_typos)
        assert (facts.name, facts.version, facts.source, facts.wheel) == (
            "demo",
            Version("2.0"),
            PUBLIC,
            True,
        )
        assert facts.released == new.upload_time
        assert facts.first_released == old.upload_time
        assert (facts.summary, facts.home_page, facts.size) == ("S", "https://src", 1234)
        assert facts.warnings == ()
        assert not facts.suspicious

    def test_approved_projects_and_local_paths_need_nothing(self) -> None:
        known = _dist(_file("known", "1.0", 100))
        local = PlannedDist(
            canonicalize_name("local"), Version("1"), DistKind.WHEEL, True, {}, local_path="/x"
        )
        plan = Plan((known, local))
        assert trust_review(plan, {known.name: _known("known")}, {}, NOW, _no_typos) == ()

    def test_young_project_and_release_and_typosquat_are_flagged(self) -> None:
        file = _file("reqeusts", "1.0", 2)
        dist = _dist(file)
        (facts,) = trust_review(Plan((dist,)), {}, {dist.name: _served(file)}, NOW, _typos)
        kinds = [w.kind for w in facts.warnings]
        assert kinds == [WarningKind.TYPOSQUAT, WarningKind.NEW_PROJECT, WarningKind.NEW_RELEASE]
        assert "requests" in facts.warnings[0].message
        assert facts.suspicious

    def test_a_source_change_is_flagged(self) -> None:
        dist = _dist(_file("corp-lib", "1.0", 100), source=PUBLIC)
        trusted = {dist.name: _known("corp-lib", CORP)}
        (facts,) = trust_review(Plan((dist,)), trusted, {}, NOW, _no_typos)
        assert facts.source_changed
        assert facts.warnings[0].kind is WarningKind.SOURCE_CHANGED
        assert "corp" in facts.warnings[0].message and "pypi" in facts.warnings[0].message


class TestDecide:
    def _facts(
        self, name: str = "demo", trusted: Mapping[NormalizedName, TrustedProject] | None = None
    ) -> tuple[ProjectFacts, ...]:
        dist = _dist(_file(name, "1.0", 100))
        return trust_review(Plan((dist,)), trusted or {}, {}, NOW, _no_typos)

    @pytest.mark.parametrize(
        ("flagged", "settings", "pins", "how"),
        [
            (NameSet(["demo"]), NameSet(), {}, How.FLAG),
            (NameSet([":all:"]), NameSet(), {}, How.FLAG),
            (NameSet(), NameSet(["Demo"]), {}, How.SETTINGS),
            (NameSet(), NameSet([":all:"]), {}, How.SETTINGS),
            (NameSet(), NameSet(["other"]), {}, None),
            (NameSet(), NameSet(), {}, None),
        ],
    )
    def test_routes(
        self, flagged: NameSet, settings: NameSet, pins: dict[Any, Any], how: How | None
    ) -> None:
        (approval,) = decide(self._facts(), flagged=flagged, settings=settings, pins=pins)
        assert approval.how is how

    def test_a_matching_hash_pin_approves(self) -> None:
        facts = self._facts()
        pins = {canonicalize_name("demo"): frozenset({facts[0].sha256})}
        (approval,) = decide(facts, flagged=NameSet(), settings=NameSet(), pins=pins)
        assert approval.how is How.HASH_PIN

    def test_a_hash_pin_of_another_file_does_not(self) -> None:
        pins = {canonicalize_name("demo"): frozenset({"f" * 64})}
        (approval,) = decide(self._facts(), flagged=NameSet(), settings=NameSet(), pins=pins)
        assert approval.how is None

    def test_a_source_change_needs_the_name_in_trust(self) -> None:
        facts = self._facts("lib", {canonicalize_name("lib"): _known("lib", CORP)})
        sha = {canonicalize_name("lib"): frozenset({facts[0].sha256})}
        for flagged, settings, pins in [
            (NameSet([":all:"]), NameSet(), {}),
            (NameSet(), NameSet(["lib"]), {}),
            (NameSet(), NameSet(), sha),
        ]:
            (approval,) = decide(facts, flagged=flagged, settings=settings, pins=pins)
            assert approval.how is None
        (approval,) = decide(facts, flagged=NameSet(["lib"]), settings=NameSet(), pins={})
        assert approval.how is How.FLAG


class TestRemembered:
    def test_a_changed_file_is_refused_with_the_forget_hint(self) -> None:
        dist = _dist(_file("demo", "1.0", 100))
        trusted = {dist.name: _known("demo", files={"1.0": {dist.filename: "0" * 64}})}
        with pytest.raises(HashMismatch) as caught:
            check_remembered(remembered_mismatches(Plan((dist,)), trusted))
        assert "safe-pip trust forget demo==1.0" in str(caught.value)
        assert "re-uploaded or substituted" in str(caught.value)

    def test_the_same_file_or_another_version_passes(self) -> None:
        dist = _dist(_file("demo", "1.0", 100))
        same = {dist.name: _known("demo", files={"1.0": {dist.filename: dist.sha256 or ""}})}
        other = {dist.name: _known("demo", files={"0.9": {dist.filename: "0" * 64}})}
        check_remembered(remembered_mismatches(Plan((dist,)), same))
        check_remembered(remembered_mismatches(Plan((dist,)), other))


class TestRefusalMessage:
    def test_names_every_project_and_every_way_to_approve(self) -> None:
        plan = Plan((_dist(_file("one", "1.0", 100)), _dist(_file("two", "1.0", 100))))
        message = refusal_message(trust_review(plan, {}, {}, NOW, _no_typos), NOW, asked=False)
        assert "one 1.0 from pypi" in message and "two 1.0 from pypi" in message
        assert "--trust one,two" in message
        assert 'trusted = ["one", "two"]' in message
        assert "safe-pip trust add one two" in message
