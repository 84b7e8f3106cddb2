"""Updates as security events (DESIGN invariant 9): the cooldown's notes and refusal, exemptions,
replaced releases, and the update warnings of the review."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import FirstSeenRefused
from safe_pip.gateway.cooldown import FilePolicy, ago, cooldown_refusal
from safe_pip.gateway.selection import filter_files
from safe_pip.models import (
    DistKind,
    Exemption,
    IndexFile,
    NameSet,
    Plan,
    PlannedDist,
    ProjectPage,
    ServedProject,
    Severity,
    SourceSpec,
)
from safe_pip.policy.approval import TrustCheck
from safe_pip.policy.audit import AuditLog
from safe_pip.policy.impostors import Impostor
from safe_pip.policy.review import ProjectFacts, decide, refusal_message, trust_review
from safe_pip.policy.trust import How, TrustedProject, TrustStore
from safe_pip.policy.trust_warnings import Suspicion, WarningKind
from safe_pip.policy.update_approval import review_updates
from safe_pip.policy.update_review import (
    WheelProfile,
    compare_profiles,
    profile_wheel,
    update_changes,
)
from safe_pip.policy.updates import (
    cooldown_notes,
    exemptions_used,
    replaced_message,
    replaced_releases,
)
from safe_pip.settings.options import Settings
from tests.support.dists import WheelSpec, build_wheel
from tests.support.files import index_file

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PYPI = SourceSpec("pypi", "https://pypi.org/simple")
COOLDOWN = FilePolicy(cutoff=NOW - timedelta(days=7), min_release_age=7)


def _file(
    name: str,
    version: str,
    age: timedelta | None,
    kind: DistKind = DistKind.WHEEL,
    tag: str = "py3-none-any",
) -> IndexFile:
    return index_file(name, version, kind, tag, upload_time=None if age is None else NOW - age)


def _dist(file: IndexFile) -> PlannedDist:
    return PlannedDist(file.project, file.version, file.kind, True, {}, file=file, source=PYPI)


def _served(policy: FilePolicy, *files: IndexFile) -> ServedProject:
    return filter_files(ProjectPage(files[0].project, PYPI, files), policy)


def _known(name: str, files: dict[str, dict[str, str]], **listed: list[str]) -> TrustedProject:
    return TrustedProject(
        canonicalize_name(name),
        "pypi",
        PYPI.url,
        NOW - timedelta(days=100),
        How.PROMPT,
        files,
        {
            version.replace("_", "."): {"at": "2026-06-01T00:00:00Z", "files": names}
            for version, names in listed.items()
        },
    )


class TestCooldownNotes:
    def test_the_plan_says_what_was_held_back_and_the_flag_that_takes_it(self) -> None:
        old = _file("num2words", "0.5.14", timedelta(days=90))
        poisoned = _file("num2words", "0.5.15", timedelta(hours=1))
        served = _served(COOLDOWN, old, poisoned)
        (note,) = cooldown_notes(Plan((_dist(old),)), {old.project: served}, COOLDOWN, NOW)
        assert note.severity is Severity.NOTE
        assert note.message.startswith(
            "num2words 0.5.15 (uploaded 1 h ago) held back by the 7-day cooldown; "
            "installing 0.5.14; "
        )
        assert "--trust num2words==0.5.15" in note.message
        assert "safe-pip trust allow-new num2words==0.5.15" in note.message

    def test_held_back_with_nothing_planned_and_prereleases_ignored(self) -> None:
        old = _file("p", "1.0", timedelta(days=90))
        pre = _file("p", "3.0rc1", timedelta(hours=2))
        new = _file("p", "2.0", timedelta(days=2))
        served = _served(COOLDOWN, old, pre, new)
        (note,) = cooldown_notes(Plan(()), {old.project: served}, COOLDOWN, NOW)
        assert "p 2.0 (uploaded 2 days ago)" in note.message
        assert "nothing newer installed" in note.message

    def test_exemptions_used_expired_and_missing_upload_times_are_said(self) -> None:
        young = _file("urgent", "2.0", timedelta(hours=3))
        timeless = _file("local", "1.0", None)
        exemption = Exemption(canonicalize_name("urgent"), Version("2.0"), "CVE fix")
        expired = Exemption(canonicalize_name("local"), None, "old", NOW.date() - timedelta(1))
        policy = FilePolicy(
            cutoff=COOLDOWN.cutoff, min_release_age=7, exemptions=(exemption,), expired=(expired,)
        )
        plan = Plan((_dist(young), _dist(timeless)))
        answers = {
            young.project: _served(policy, young),
            timeless.project: _served(policy, timeless),
        }
        messages = [note.message for note in cooldown_notes(plan, answers, policy, NOW)]
        assert messages == [
            "urgent 2.0 (uploaded 3 h ago) let through the 7-day cooldown by the exemption "
            'urgent==2.0 (reason: "CVE fix"; trust store)',
            f'the exemption local (reason: "old"; until {expired.until}; trust store) expired; '
            f"it no longer applies",
            "pypi gives no upload times, so the 7-day cooldown could not apply to local 1.0",
        ]
        assert exemptions_used(plan, policy) == [(plan.dists[0], exemption)]

    def test_one_note_per_source_without_upload_times(self) -> None:
        local = [_file("one", "1.0", None), _file("two", "2.0", None)]
        dated = _file("three", "3.0", timedelta(days=90))
        plan = Plan((*map(_dist, local), _dist(dated)))
        (note,) = cooldown_notes(plan, {}, COOLDOWN, NOW)
        assert note.project == "one"
        assert note.message == (
            "pypi gives no upload times, so the 7-day cooldown could not apply to one 1.0, two 2.0"
        )

    def test_no_cooldown_no_notes(self) -> None:
        young = _file("p", "2.0", timedelta(hours=1))
        served = _served(FilePolicy(), young)
        assert (
            cooldown_notes(Plan((_dist(young),)), {young.project: served}, FilePolicy(), NOW) == []
        )

    def test_the_refusal_of_an_exact_pin_names_the_flag(self) -> None:
        old = _file("num2words", "0.5.14", timedelta(days=90))
        poisoned = _file("num2words", "0.5.15", timedelta(minutes=50))
        text = cooldown_refusal([_served(COOLDOWN, old, poisoned)], COOLDOWN, NOW)
        assert "num2words: 0.5.15 (uploaded 50 min ago) held back by the 7-day cooldown" in text
        assert "--trust num2words==0.5.15" in text and "nothing was installed" in text

    def test_ago_in_words(self) -> None:
        assert ago(None, NOW) == "upload time unknown"
        assert ago(NOW - timedelta(days=3), NOW) == "uploaded 3 days ago"


class TestReplacedReleases:
    def test_a_remembered_file_gone_and_a_file_added_later_are_alarms(self) -> None:
        original = _file("widget", "1.0", timedelta(days=60))
        replacement = _file("widget", "1.0", timedelta(hours=5), tag="py2.py3-none-any")
        known = _known(
            "widget",
            {"1.0": {original.filename: original.sha256 or ""}},
            **{"1_0": [original.filename]},
        )
        served = _served(FilePolicy(), replacement)
        (found,) = replaced_releases(
            Plan((_dist(replacement),)), {known.name: known}, {known.name: served}
        )
        assert found.gone == (original.filename,)
        assert found.added == (replacement,)
        text = replaced_message([found], NOW)
        assert f"{original.filename}: installed before, no longer listed" in text
        assert f"{replacement.filename}: new, uploaded 5 h ago" in text
        assert "safe-pip trust forget widget==1.0" in text

    def test_an_added_file_beside_the_remembered_one_is_an_alarm_too(self) -> None:
        original = _file("widget", "1.0", timedelta(days=60))
        added = _file("widget", "1.0", timedelta(hours=5), tag="py2.py3-none-any")
        known = _known("widget", {"1.0": {original.filename: "x"}}, **{"1_0": [original.filename]})
        served = _served(FilePolicy(), original, added)
        (found,) = replaced_releases(
            Plan((_dist(original),)), {known.name: known}, {known.name: served}
        )
        assert (found.gone, found.added) == ((), (added,))

    def test_unchanged_releases_new_versions_and_old_stores_pass(self) -> None:
        original = _file("widget", "1.0", timedelta(days=60))
        newer = _file("widget", "2.0", timedelta(days=10))
        served = _served(FilePolicy(), original, newer)
        listed = _known("widget", {"1.0": {original.filename: "x"}}, **{"1_0": [original.filename]})
        unlisted = _known("widget", {"1.0": {original.filename: "x"}})
        for known in (listed, unlisted):
            plan = Plan((_dist(original),))
            assert replaced_releases(plan, {known.name: known}, {known.name: served}) == []
        plan = Plan((_dist(newer),))
        assert replaced_releases(plan, {listed.name: listed}, {listed.name: served}) == []


def _no_typos(names: Collection[NormalizedName]) -> Mapping[NormalizedName, Suspicion]:
    return {}


def _no_impostors(
    dists: Sequence[PlannedDist], suspicions: Mapping[NormalizedName, Suspicion]
) -> Mapping[NormalizedName, Sequence[Impostor]]:
    return {}


def _review(plan: Plan, known: TrustedProject, served: ServedProject) -> tuple[ProjectFacts, ...]:
    return trust_review(
        plan,
        {known.name: known},
        {known.name: served},
        NOW,
        _no_typos,
        _no_impostors,
    )


class TestUpdateReview:
    def test_a_dormant_project_waking_up_needs_its_name(self) -> None:
        old = _file("ctx", "0.1.2", timedelta(days=8 * 365))
        woke = _file("ctx", "0.2.2", timedelta(days=10))
        known = _known("ctx", {"0.1.2": {old.filename: "x"}})
        (facts,) = _review(Plan((_dist(woke),)), known, _served(FilePolicy(), old, woke))
        assert [w.kind for w in facts.warnings] == [WarningKind.DORMANT]
        assert "first release in 8.0 years" in facts.warnings[0].message
        assert facts.update_of == Version("0.1.2")
        for flagged, settings in [(NameSet([":all:"]), NameSet()), (NameSet(), NameSet(["ctx"]))]:
            (approval,) = decide((facts,), flagged=flagged, settings=settings, pins={})
            assert approval.how is None
        (named,) = decide((facts,), flagged=NameSet(["ctx"]), settings=NameSet(), pins={})
        assert named.how is How.FLAG
        text = refusal_message([facts], NOW, asked=False)
        assert "--trust ctx==0.2.2" in text and "ctx 0.1.2 -> 0.2.2" in text

    def test_a_new_release_of_a_build_allowed_project_needs_approval(self) -> None:
        old = _file("builder", "1.0", timedelta(days=100), DistKind.SDIST)
        new = _file("builder", "2.0", timedelta(days=20), DistKind.SDIST)
        known = _known("builder", {"1.0": {old.filename: "x"}})
        (facts,) = _review(Plan((_dist(new),)), known, _served(FilePolicy(), old, new))
        assert [w.kind for w in facts.warnings] == [WarningKind.BUILD_UPDATE]
        assert "builds were approved for 1.0 only" in facts.warnings[0].message

    def test_a_plain_update_and_a_reinstall_need_nothing(self) -> None:
        old = _file("lib", "1.0", timedelta(days=100))
        new = _file("lib", "1.1", timedelta(days=20))
        known = _known("lib", {"1.0": {old.filename: "x"}})
        served = _served(FilePolicy(), old, new)
        assert _review(Plan((_dist(new),)), known, served) == ()
        assert _review(Plan((_dist(old),)), known, served) == ()

    def test_a_first_seen_dormant_project_is_not_approved_by_all(self) -> None:
        old = _file("sleepy", "1.0", timedelta(days=3 * 365))
        woke = _file("sleepy", "1.1", timedelta(days=9))
        (facts,) = trust_review(
            Plan((_dist(woke),)),
            {},
            {woke.project: _served(FilePolicy(), old, woke)},
            NOW,
            _no_typos,
            _no_impostors,
        )
        assert WarningKind.DORMANT in [w.kind for w in facts.warnings]
        (approval,) = decide((facts,), flagged=NameSet([":all:"]), settings=NameSet(), pins={})
        assert approval.how is None

    def test_a_wake_up_that_has_stood_for_a_month_is_history(self) -> None:
        old = _file("itsdangerous", "2.1.2", timedelta(days=3 * 365))
        woke = _file("itsdangerous", "2.2.0", timedelta(days=30))
        known = _known("itsdangerous", {"2.1.2": {old.filename: "x"}})
        served = _served(FilePolicy(), old, woke)
        assert _review(Plan((_dist(woke),)), known, served) == ()
        (facts,) = trust_review(
            Plan((_dist(woke),)), {}, {woke.project: served}, NOW, _no_typos, _no_impostors
        )
        assert facts.warnings == ()


def _wheel(tmp_path: Path, version: str, **fields: Any) -> Path:
    return build_wheel(tmp_path / version, WheelSpec("lib", version, **fields))


class TestWheelProfile:
    def test_a_profile_reads_what_runs_from_the_listing_and_metadata(self, tmp_path: Path) -> None:
        path = _wheel(
            tmp_path,
            "1.0",
            requires=["Requests>=2", "typing_extensions; python_version<'3.12'"],
            entry_points={"lib-cli": "lib:main"},
            files={
                "lib/__init__.py": "",
                "lib/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
                "helper.py": "",
                "lib-init.pth": "import lib\n",
            },
            extra_metadata=["Project-URL: Source Code, https://github.com/lib/lib"],
        )
        profile = profile_wheel(path)
        assert profile.requires == {"requests", "typing-extensions"}
        assert profile.scripts == {"console_scripts:lib-cli"}
        assert profile.entry_groups == {"console_scripts"}
        assert profile.top_level == {"lib", "helper", "lib-init.pth"}
        assert profile.native == {"lib/_speedups.so"}
        assert profile.hooks == {"lib-init.pth"}
        assert profile.urls == {"source-code": "https://github.com/lib/lib"}
        assert WheelProfile.from_record(profile.to_record()) == profile

    def test_scripts_are_read_as_the_installer_reads_them(self, tmp_path: Path) -> None:
        # configparser, and so pypa/installer, takes "[console_scripts] x" for the section
        # header: the script it installs must not slip past the update review.
        text = "[console_scripts] x\npip = lib:main\n[lib.plugins]\nextra = lib:plugin\n"
        path = _wheel(
            tmp_path,
            "1.1",
            files={"lib/__init__.py": "", "lib-1.1.dist-info/entry_points.txt": text},
        )
        profile = profile_wheel(path)
        assert profile.scripts == {"console_scripts:pip"}
        assert "lib.plugins" in profile.entry_groups

    def test_a_poisoned_update_shows_every_material_change(self, tmp_path: Path) -> None:
        old = profile_wheel(
            _wheel(tmp_path, "1.0", requires=["six"], extra_metadata=["Home-page: https://a"])
        )
        new = profile_wheel(
            _wheel(
                tmp_path,
                "1.1",
                requires=["evil-helper"],
                entry_points={"pip": "lib:main"},
                files={"lib/__init__.py": "", "lib/miner.so": b"x" * 3_000_000, "z.pth": "x"},
                extra_metadata=["Home-page: https://b"],
            )
        )
        changes = compare_profiles(Version("1.0"), old, new)
        assert [change.split(":")[0].split(" from")[0] for change in changes.material] == [
            "new dependencies",
            "new console scripts",
            "new entry-point groups",
            "new top-level packages or modules",
            "native libraries added",
            "startup hooks added",
            "size jumped",
            "home-page changed",
        ]
        assert changes.other == ("dependencies removed: six",)

    def test_a_plain_update_changes_nothing_that_runs(self, tmp_path: Path) -> None:
        old = profile_wheel(_wheel(tmp_path, "1.0", requires=["six"]))
        new = profile_wheel(_wheel(tmp_path, "1.1", requires=["six"]))
        assert compare_profiles(Version("1.0"), old, new).material == ()

    def test_compared_with_the_newest_earlier_release_remembered(self, tmp_path: Path) -> None:
        old = profile_wheel(_wheel(tmp_path, "1.0"))
        newer = profile_wheel(_wheel(tmp_path, "1.5", requires=["six"]))
        known = replace(
            _known("lib", {"1.0": {}, "1.5": {}}),
            profiles={"1.0": old.to_record(), "1.5": newer.to_record(), "junk": {}},
        )
        new = profile_wheel(_wheel(tmp_path, "2.0", requires=["six"]))
        changes = update_changes(known, Version("2.0"), new)
        assert changes is not None and changes.previous == Version("1.5")
        assert changes.material == ()
        assert update_changes(known, Version("1.5"), new) is None
        assert update_changes(None, Version("2.0"), new) is None


class _Answers:
    """A prompter that answers from a table and records what it was shown."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.shown: list[ProjectFacts] = []

    def approve(self, pending: Sequence[ProjectFacts]) -> Mapping[NormalizedName, bool]:
        self.shown += pending
        return {item.name: self.answer for item in pending}

    def confirm_vulnerable(self, matches: Sequence[object]) -> bool:
        return False


class TestReviewUpdates:
    def _check(self, tmp_path: Path, old_profile: WheelProfile) -> TrustCheck:
        known = replace(
            _known("lib", {"1.0": {"lib-1.0-py3-none-any.whl": "x"}}),
            profiles={"1.0": old_profile.to_record()},
        )
        home = tmp_path / "home"
        return TrustCheck(TrustStore(home), AuditLog(home), (), NOW, trusted={known.name: known})

    def _update(self, tmp_path: Path) -> tuple[Plan, dict[NormalizedName, Path]]:
        path = _wheel(tmp_path, "2.0", requires=["evil"], entry_points={"ls": "lib:main"})
        dist = _dist(_file("lib", "2.0", timedelta(days=9)))
        return Plan((dist,)), {dist.name: path}

    def test_unattended_a_material_update_is_refused_naming_the_flag(self, tmp_path: Path) -> None:
        check = self._check(tmp_path, profile_wheel(_wheel(tmp_path, "1.0")))
        plan, files = self._update(tmp_path)
        settings = Settings(home=tmp_path / "home", cache_dir=None, sources=(PYPI,))
        with pytest.raises(FirstSeenRefused) as refused:
            review_updates(check, plan, files, settings, None)
        assert "new dependencies: evil" in str(refused.value)
        assert "--trust lib==2.0" in str(refused.value)

    def test_on_a_terminal_it_is_asked_and_the_yes_recorded(self, tmp_path: Path) -> None:
        check = self._check(tmp_path, profile_wheel(_wheel(tmp_path, "1.0")))
        plan, files = self._update(tmp_path)
        settings = Settings(
            home=tmp_path / "home", cache_dir=None, sources=(PYPI,), unattended=False
        )
        yes = _Answers(True)
        approved, _ = review_updates(check, plan, files, settings, yes)
        assert [item.update_of for item in yes.shown] == [Version("1.0")]
        assert [a.how for a in approved.approvals] == [How.PROMPT]
        assert approved.profiles[canonicalize_name("lib")]["requires"] == ["evil"]
        with pytest.raises(FirstSeenRefused, match="You refused"):
            review_updates(check, plan, files, settings, _Answers(False))

    def test_named_in_trust_it_goes_through_with_a_warning(self, tmp_path: Path) -> None:
        check = self._check(tmp_path, profile_wheel(_wheel(tmp_path, "1.0")))
        plan, files = self._update(tmp_path)
        named = NameSet(["lib"])
        settings = Settings(
            home=tmp_path / "home", cache_dir=None, sources=(PYPI,), trust_flags=named
        )
        approved, (note,) = review_updates(check, plan, files, settings, None)
        assert [a.how for a in approved.approvals] == [How.FLAG]
        assert note.severity is Severity.WARNING and "new dependencies: evil" in note.message
