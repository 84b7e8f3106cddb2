"""First-seen review: facts and warnings, the approval decision, remembered hashes."""

from __future__ import annotations

import dataclasses
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
from safe_pip.policy.review import ProjectFacts, decide, refusal_message, trust_review
from safe_pip.policy.trust import How, TrustedProject
from safe_pip.policy.trust_warnings import Suspicion, WarningKind
from safe_pip.policy.updates import check_remembered, remembered_mismatches
from tests.support.files import index_file

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
    return index_file(name, version, kind, upload_time=NOW - timedelta(days=days_old), size=1234)


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
        assert kinds == [
            WarningKind.TYPOSQUAT,
            WarningKind.PLACEHOLDER,  # 1234 bytes: almost empty
            WarningKind.NEW_PROJECT,
            WarningKind.NEW_RELEASE,
        ]
        assert "requests" in facts.warnings[0].message
        assert facts.suspicious and facts.impostor

    def test_a_source_change_is_flagged(self) -> None:
        dist = _dist(_file("corp-lib", "1.0", 100), source=PUBLIC)
        trusted = {dist.name: _known("corp-lib", CORP)}
        (facts,) = trust_review(Plan((dist,)), trusted, {}, NOW, _no_typos)
        assert facts.source_changed
        assert facts.warnings[0].kind is WarningKind.SOURCE_CHANGED
        assert "corp" in facts.warnings[0].message and "pypi" in facts.warnings[0].message


def _review(name: str, metadata: dict[str, Any] | None = None, size: int = 80_000) -> ProjectFacts:
    file = dataclasses.replace(_file(name, "1.0", 400), size=size)
    (facts,) = trust_review(Plan((_dist(file, metadata=metadata),)), {}, {}, NOW)
    return facts


class TestImpostorWarnings:
    def test_a_typosquat_suggests_the_real_project(self) -> None:
        (warning,) = _review("reqeusts").warnings
        assert warning.kind is WarningKind.TYPOSQUAT and warning.intended == "requests"
        assert warning.message.endswith("did you mean requests? safe-pip install requests")

    def test_an_affix_and_a_typo_together(self) -> None:
        (warning,) = _review("pyreqests").warnings
        assert "is 'requests' misspelt, with 'py' added before it" in warning.message

    def test_a_borrowed_repository_is_starjacking(self) -> None:
        metadata = {"summary": "HTTP", "home_page": "https://github.com/psf/requests"}
        (warning,) = _review("fast-http-client", metadata).warnings
        assert warning.kind is WarningKind.STARJACKING and warning.intended == "requests"
        assert "github.com/psf/requests, the repository of 'requests'" in warning.message
        assert "did you mean requests? safe-pip install requests" in warning.message

    def test_a_command_name_is_slopsquatting(self) -> None:
        (warning,) = _review("huggingface-cli").warnings
        assert warning.kind is WarningKind.SLOPSQUATTING
        assert "'huggingface-cli' is a command of 'huggingface-hub'" in warning.message
        assert warning.message.endswith(
            "did you mean huggingface-hub? safe-pip install huggingface-hub"
        )

    def test_an_almost_empty_slopsquat_is_also_a_placeholder(self) -> None:
        kinds = [warning.kind for warning in _review("huggingface-cli", size=1_200).warnings]
        assert kinds == [WarningKind.SLOPSQUATTING, WarningKind.PLACEHOLDER]

    @pytest.mark.parametrize(
        ("name", "repository"),
        [
            ("pytest-mpi", "https://github.com/aragilar/pytest-mpi"),  # pytest-mpl's neighbour
            ("cchardet", "https://github.com/PyYoshi/cChardet"),  # chardet's
            ("markdown2", "https://github.com/trentm/python-markdown2"),  # markdown's
            ("botocore", "https://github.com/boto/botocore"),  # boto3's
        ],
    )
    def test_honest_look_alikes_are_not_warned(self, name: str, repository: str) -> None:
        facts = _review(name, {"summary": "S", "project_url": [f"Source, {repository}"]}, 900)
        assert facts.warnings == ()

    def test_refusal_says_what_to_install_instead(self) -> None:
        refused = [_review("reqeusts"), _review("huggingface-cli")]
        message = refusal_message(refused, NOW, asked=False)
        assert "Did you mean requests, huggingface-hub? " in message
        assert "safe-pip install requests huggingface-hub" in message
        assert "--trust :all: and hash pins do not approve it" in message
        assert "--trust reqeusts,huggingface-cli" in message


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

    def test_an_impostor_needs_its_own_name(self) -> None:
        facts = (_review("huggingface-cli"),)
        sha = {canonicalize_name("huggingface-cli"): frozenset({facts[0].sha256})}
        for flagged, settings, pins in [
            (NameSet([":all:"]), NameSet(), {}),
            (NameSet(), NameSet([":all:"]), {}),
            (NameSet(), NameSet(), sha),
            (NameSet(["huggingface-hub"]), NameSet(), {}),
        ]:
            (approval,) = decide(facts, flagged=flagged, settings=settings, pins=pins)
            assert approval.how is None
        named = NameSet(["huggingface-cli"])
        assert decide(facts, flagged=named, settings=NameSet(), pins={})[0].how is How.FLAG
        assert decide(facts, flagged=NameSet(), settings=named, pins={})[0].how is How.SETTINGS

    def test_all_never_covers_a_warning_but_the_name_does(self) -> None:
        # --trust :all: approves plain first-seen projects only, never a warning.
        file = _file("quintessential-widgetry", "1.0", 2)
        facts = trust_review(Plan((_dist(file),)), {}, {}, NOW)
        assert facts[0].suspicious and not facts[0].impostor
        (approval,) = decide(facts, flagged=NameSet([":all:"]), settings=NameSet(), pins={})
        assert approval.how is None
        named = NameSet(["quintessential-widgetry"])
        assert decide(facts, flagged=named, settings=NameSet(), pins={})[0].how is How.FLAG

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
