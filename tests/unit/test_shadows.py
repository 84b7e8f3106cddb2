"""Shadowed names, mirror groups and the explanation of an unmet requirement."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import AmbiguousSource, SourceError, UsageError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.selection import SourceSelector
from safe_pip.gateway.shadows import (
    Elsewhere,
    Exposure,
    ambiguity_message,
    exposure,
    group_of,
    judge,
    merge_pages,
    pin_lines,
    shadow_questions,
    source_notes,
    unmet_explanation,
)
from safe_pip.models import (
    DistKind,
    IndexFile,
    Pin,
    Plan,
    PlannedDist,
    ProjectPage,
    Shadow,
    SourceKind,
    SourceMarks,
    SourceSpec,
)
from safe_pip.policy.audit import shadow_events
from safe_pip.settings.files import load_file_settings
from safe_pip.settings.sources import build_pins, build_sources

PYPI = SourceSpec("pypi", "https://pypi.org/simple")
CORP = SourceSpec("corp", "https://corp.example/simple")
MARKED = SourceSpec("corp", "https://corp.example/simple", marks=SourceMarks(private=True))
LOCAL = SourceSpec("/srv/wheels", "/srv/wheels", SourceKind.FIND_LINKS)
NAME = canonicalize_name("corp-tools")


def _file(name: str, version: str, url: str = "") -> IndexFile:
    return IndexFile(
        f"{name}-{version}-py3-none-any.whl",
        url or f"https://f/{name}-{version}",
        canonicalize_name(name),
        Version(version),
        DistKind.WHEEL,
        "a" * 64,
    )


class TestExposure:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            (PYPI, Exposure.PUBLIC),
            (SourceSpec("x", "https://files.pythonhosted.org/x"), Exposure.PUBLIC),
            (CORP, Exposure.PRIVATE),
            (MARKED, Exposure.PRIVATE),
            (
                SourceSpec("c", "https://c.example/", marks=SourceMarks(private=False)),
                Exposure.PUBLIC,
            ),
            (
                SourceSpec("p", "https://pypi.org/simple", marks=SourceMarks(private=True)),
                Exposure.PRIVATE,
            ),
            (LOCAL, Exposure.LOCAL),
            (SourceSpec("f", "file:///srv/index"), Exposure.LOCAL),
            (
                SourceSpec("m", "file:///srv/m", marks=SourceMarks(mirror_of="pypi")),
                Exposure.PUBLIC,
            ),
        ],
    )
    def test_who_can_publish(self, source: SourceSpec, expected: Exposure) -> None:
        assert exposure(source, [PYPI, CORP]) is expected


class TestShadowQuestions:
    def test_a_public_answer_is_checked_with_every_private_source(self) -> None:
        assert shadow_questions(PYPI, [PYPI, CORP, LOCAL], [PYPI]) == (CORP,)

    def test_a_private_source_already_asked_is_not_asked_again(self) -> None:
        assert shadow_questions(PYPI, [CORP, PYPI], [CORP, PYPI]) == ()

    def test_an_unmarked_private_answer_never_goes_to_the_public_index(self) -> None:
        assert shadow_questions(CORP, [CORP, PYPI], [CORP]) == ()

    def test_a_marked_private_answer_is_checked_with_the_public_index(self) -> None:
        assert shadow_questions(MARKED, [MARKED, PYPI], [MARKED]) == (PYPI,)

    def test_check_public_shadows_can_be_turned_off_and_on(self) -> None:
        off = SourceSpec("c", "https://c.example/", marks=SourceMarks(True, None, False))
        on = SourceSpec("c", "https://c.example/", marks=SourceMarks(None, None, True))
        assert shadow_questions(off, [off, PYPI], [off]) == ()
        assert shadow_questions(on, [on, PYPI], [on]) == (PYPI,)

    def test_a_local_answer_is_not_checked(self) -> None:
        assert shadow_questions(LOCAL, [LOCAL, CORP, PYPI], [LOCAL]) == ()


class TestJudge:
    def test_private_and_public_is_ambiguous_and_an_alarm(self) -> None:
        shadow = judge(NAME, PYPI, [CORP], [PYPI, CORP], pinned=False)
        assert shadow is not None and shadow.ambiguous and shadow.alarm

    def test_a_pin_settles_it_and_the_alarm_stays(self) -> None:
        shadow = judge(NAME, CORP, [PYPI], [PYPI, CORP], pinned=True)
        assert shadow is not None and not shadow.ambiguous and shadow.alarm

    def test_a_pin_to_the_public_index_is_no_alarm(self) -> None:
        shadow = judge(NAME, PYPI, [CORP], [PYPI, CORP], pinned=True)
        assert shadow is not None and not shadow.alarm

    def test_one_source_is_no_shadow(self) -> None:
        assert judge(NAME, PYPI, [], [PYPI, CORP], pinned=False) is None


class TestMessages:
    def test_refusal_names_both_sources_and_the_lines_that_pin_each(self) -> None:
        shadow = Shadow(NAME, PYPI, (CORP,), pinned=False, alarm=True)
        text = ambiguity_message(shadow, [PYPI, CORP])
        assert text.startswith("corp-tools is on pypi (https://pypi.org/simple) and on corp")
        assert 'under [tool.safe-pip.pins]: "corp-tools" = "corp"' in text
        assert 'under [tool.safe-pip.pins]: "corp-tools" = "pypi"' in text
        assert "ALARM" in text and "dependency confusion" in text

    def test_an_unnamed_source_gets_a_name_in_the_line(self) -> None:
        unnamed = SourceSpec("https://repo.corp.example/simple", "https://repo.corp.example/simple")
        assert pin_lines(NAME, unnamed) == (
            'under [tool.safe-pip.sources]: repo = "https://repo.corp.example/simple", and '
            'under [tool.safe-pip.pins]: "corp-tools" = "repo"'
        )

    def test_audit_records_the_alarm_and_the_refusal(self) -> None:
        shadow = Shadow(NAME, PYPI, (CORP,), pinned=False, alarm=True)
        events = shadow_events(shadow, [PYPI, CORP])
        assert [e.decision.value for e in events] == ["shadowed", "refused"]
        assert all("corp" in (e.how or "") for e in events)


class TestGroups:
    MIRROR = SourceSpec("cache", "file:///srv/cache", marks=SourceMarks(mirror_of="pypi"))

    def test_a_mirror_joins_the_source_it_mirrors(self) -> None:
        sources = [self.MIRROR, CORP, PYPI]
        assert group_of(PYPI, sources) == (self.MIRROR, PYPI)
        assert group_of(self.MIRROR, sources) == (self.MIRROR, PYPI)
        assert group_of(CORP, sources) == (CORP,)

    def test_merged_page_has_every_version_each_from_its_member(self) -> None:
        local = ProjectPage(NAME, self.MIRROR, (_file("corp-tools", "1.0", "file:///srv/c/a"),))
        remote = ProjectPage(NAME, PYPI, (_file("corp-tools", "1.0"), _file("corp-tools", "2.0")))
        merged = merge_pages(PYPI, NAME, [local, remote])
        assert merged is not None and merged.source is PYPI
        assert [str(f.version) for f in merged.files] == ["1.0", "2.0"]
        assert merged.source_of(merged.files[0]) is self.MIRROR
        assert merged.source_of(merged.files[1]) is PYPI
        assert merge_pages(PYPI, NAME, []) is None


class TestUnmetExplanation:
    def test_names_the_serving_source_the_one_that_has_it_and_the_fix(self) -> None:
        text = unmet_explanation(
            canonicalize_name("idna"),
            SpecifierSet("==3.10"),
            LOCAL,
            [Version("3.20")],
            [Elsewhere(PYPI, (Version("3.10"), Version("3.11")))],
        )
        assert text.startswith("idna: served by /srv/wheels, which has 3.20;")
        assert "pypi (https://pypi.org/simple) has idna==3.10: 3.10" in text
        assert 'under [tool.safe-pip.pins]: "idna" = "pypi"' in text
        assert 'mirror-of = "pypi"' in text

    def test_says_which_source_was_not_asked(self) -> None:
        text = unmet_explanation(
            NAME, SpecifierSet("==2"), CORP, [Version("1")], [Elsewhere(PYPI, None)]
        )
        assert "pypi (https://pypi.org/simple) was not asked" in text

    def test_nothing_to_say_when_no_other_source_would_help(self) -> None:
        assert (
            unmet_explanation(
                NAME, SpecifierSet("==2"), PYPI, [Version("1")], [Elsewhere(CORP, ())]
            )
            == ""
        )


_Known = Mapping[tuple[str, str], tuple[IndexFile, ...] | Exception]


class _Upstream:
    def __init__(self, known: _Known, together: tuple[str, ...] = ()) -> None:
        """:param together: sources that must be asked at once (each waits for the rest)."""
        self.known = known
        self.asked: list[tuple[str, str]] = []
        self.together = together
        self.barrier = threading.Barrier(len(together) or 1, timeout=5)

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        self.asked.append((source.name, name))
        if source.name in self.together:
            self.barrier.wait()  # BrokenBarrierError: they were asked one after another
        answer = self.known.get((source.name, name))
        if isinstance(answer, Exception):
            raise answer
        return None if answer is None else ProjectPage(name, source, answer)


def _selector(
    upstream: _Upstream,
    sources: list[SourceSpec],
    pins: tuple[Pin, ...] = (),
    *,
    on_shadow: Callable[[Shadow], None] | None = None,
    chosen: Mapping[NormalizedName, str] | None = None,
) -> SourceSelector:
    return SourceSelector(upstream, sources, pins, FilePolicy(), on_shadow, chosen)


class TestSelector:
    SQUATTED: _Known = {  # noqa: RUF012
        ("pypi", NAME): (_file("corp-tools", "99.0"),),
        ("corp", NAME): (_file("corp-tools", "1.0"),),
    }

    def test_public_first_layout_refuses_the_shadowed_name(self) -> None:
        seen: list[Shadow] = []
        selector = _selector(_Upstream(self.SQUATTED), [PYPI, CORP], on_shadow=seen.append)
        with pytest.raises(AmbiguousSource) as refused:
            selector.select(NAME)
        assert refused.value.exit_code == 3
        assert [s.name for s in seen] == [NAME] and seen[0].alarm
        with pytest.raises(AmbiguousSource):
            selector.select(NAME)  # remembered: pip's retry is refused again, not re-asked
        assert len(seen) == 1

    def test_a_pin_serves_its_source(self) -> None:
        selector = _selector(_Upstream(self.SQUATTED), [PYPI, CORP], (Pin("corp-*", CORP),))
        served = selector.select(NAME)
        assert served is not None and served.source == CORP

    def test_an_approval_from_a_source_means_that_source(self) -> None:
        selector = _selector(
            _Upstream(self.SQUATTED), [PYPI, CORP], chosen={NAME: "https://corp.example/simple"}
        )
        served = selector.select(NAME)
        assert served is not None and served.source == CORP
        assert selector.shadows[NAME].alarm

    def test_a_choice_made_now_serves_that_source(self) -> None:
        selector = _selector(_Upstream(self.SQUATTED), [PYPI, CORP])
        with pytest.raises(AmbiguousSource) as refused:
            selector.select(NAME)
        assert refused.value.shadow is not None
        selector.choose(NAME, CORP)
        served = selector.select(NAME)
        assert served is not None and served.source == CORP

    def test_a_failing_private_source_is_not_taken_for_ignorance(self) -> None:
        upstream = _Upstream(
            {("pypi", NAME): (_file("corp-tools", "99.0"),), ("corp", NAME): SourceError("down")}
        )
        with pytest.raises(SourceError):
            _selector(upstream, [PYPI, CORP]).select(NAME)

    def test_private_first_unmarked_never_asks_the_public_index(self) -> None:
        upstream = _Upstream(self.SQUATTED)
        served = _selector(upstream, [CORP, PYPI]).select(NAME)
        assert served is not None and served.source == CORP
        assert upstream.asked == [("corp", NAME)]

    def test_mirror_group_members_are_asked_at_once_and_merged(self) -> None:
        mirror = SourceSpec("cache", "https://cache.example/", marks=SourceMarks(mirror_of="pypi"))
        upstream = _Upstream(
            {
                ("cache", "idna"): (_file("idna", "3.2"),),
                ("pypi", "idna"): (_file("idna", "3.10"),),
            },
            together=("cache", "pypi"),
        )
        served = _selector(upstream, [mirror, CORP, PYPI]).select(canonicalize_name("idna"))
        assert served is not None and served.source == PYPI
        assert sorted(str(f.version) for f in served.served) == ["3.10", "3.2"]
        # the group answered before CORP was reached; then CORP was asked for shadows
        assert ("corp", "idna") in upstream.asked

    def test_public_first_asks_the_private_sources_at_the_same_time(self) -> None:
        upstream = _Upstream(
            {("pypi", "rich"): (_file("rich", "13.0"),)}, together=("pypi", "corp")
        )
        served = _selector(upstream, [PYPI, CORP]).select(canonicalize_name("rich"))
        assert served is not None and served.source == PYPI


class TestSettings:
    def test_sources_table_marks_and_groups(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            "[tool.safe-pip.sources]\n"
            'corp = { url = "https://corp.example/simple", private = true }\n'
            'cache = { url = "file:///srv/cache", mirror-of = "pypi" }\n'
            'plain = "https://plain.example/simple"\n'
            "[tool.safe-pip.pins]\n"
            '"corp-*" = "corp"\n'
            'requests = "pypi"\n',
            encoding="utf-8",
        )
        files = load_file_settings(tmp_path, tmp_path / "home", {})
        sources = build_sources(
            index_url=None,
            extra_index_urls=["https://corp.example/simple"],
            find_links=[],
            no_index=False,
            named=files.sources,
            marks=files.source_marks,
        )
        assert [s.name for s in sources] == ["corp", "pypi", "cache"]
        assert sources[0].marks.private is True
        assert sources[1].marks.group == ("file:///srv/cache",)
        pins = build_pins(files.pins, files.sources, files.source_marks)
        assert [p.source.name for p in pins] == ["corp", "pypi"]

    @pytest.mark.parametrize(
        "entry",
        [
            "{ private = true }",
            '{ url = "https://x", private = "yes" }',
            '{ url = "https://x", private = true, public = true }',
            '{ url = "https://x", colour = "red" }',
        ],
    )
    def test_malformed_source_tables_are_usage_errors(self, tmp_path: Path, entry: str) -> None:
        (tmp_path / "pyproject.toml").write_text(
            f"[tool.safe-pip.sources]\nx = {entry}\n", encoding="utf-8"
        )
        with pytest.raises(UsageError, match=r"sources\.x"):
            load_file_settings(tmp_path, tmp_path / "home", {})


class TestSourceNotes:
    def test_projects_not_from_the_index_or_its_mirrors_are_noted(self) -> None:
        mirror = SourceSpec("cache", "file:///srv/cache", marks=SourceMarks(mirror_of="pypi"))
        sources = [LOCAL, CORP, PYPI, mirror]

        def dist(name: str, source: SourceSpec) -> PlannedDist:
            return PlannedDist(
                canonicalize_name(name), Version("1"), DistKind.WHEEL, True, {}, source=source
            )

        plan = Plan((dist("a", LOCAL), dist("b", CORP), dist("c", PYPI), dist("d", mirror)))
        notes = source_notes(plan, sources, [canonicalize_name("b")])
        assert [(n.project, n.message) for n in notes] == [
            ("a", "from /srv/wheels, not the index pypi (it ranks above the index)"),
            ("b", f"from {CORP}, not the index pypi (a pin in the settings)"),
        ]
