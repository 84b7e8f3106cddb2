from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import SourceError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.selection import SourceSelector, filter_files
from safe_pip.models import DistKind, DropReason, IndexFile, NameSet, Pin, ProjectPage, SourceSpec

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRIVATE = SourceSpec("private", "https://private.example/simple")
PUBLIC = SourceSpec("public", "https://public.example/simple")


def _file(name: str, version: str, kind: DistKind = DistKind.WHEEL, **extra: Any) -> IndexFile:
    suffix = "-py3-none-any.whl" if kind is DistKind.WHEEL else ".tar.gz"
    fields: dict[str, Any] = {"sha256": "a" * 64, **extra}
    return IndexFile(
        f"{name}-{version}{suffix}",
        f"https://f/{name}",
        canonicalize_name(name),
        Version(version),
        kind,
        **fields,
    )


class TestFilterFiles:
    def test_withholds_sdists_hashless_and_too_new(self) -> None:
        page = ProjectPage(
            canonicalize_name("p"),
            PUBLIC,
            (
                _file("p", "1.0"),
                _file("p", "1.1", DistKind.SDIST),
                _file("p", "1.2", sha256=None),
                _file("p", "1.3", upload_time=NOW),
                _file("p", "0.9", upload_time=NOW - timedelta(days=30)),
            ),
        )
        served = filter_files(page, FilePolicy(cutoff=NOW - timedelta(days=7)))
        assert [str(f.version) for f in served.served] == ["1.0", "0.9"]
        assert {(str(d.file.version), d.reason) for d in served.dropped} == {
            ("1.1", DropReason.SDIST),
            ("1.2", DropReason.NO_SHA256),
            ("1.3", DropReason.TOO_NEW),
        }

    def test_allowed_sdists_are_served(self) -> None:
        page = ProjectPage(canonicalize_name("p"), PUBLIC, (_file("p", "1.1", DistKind.SDIST),))
        served = filter_files(page, FilePolicy(allow_sdist=NameSet(["P"])))
        assert len(served.served) == 1

    def test_hashless_sdist_stays_withheld_even_when_allowed(self) -> None:
        page = ProjectPage(
            canonicalize_name("p"), PUBLIC, (_file("p", "1.1", DistKind.SDIST, sha256=None),)
        )
        served = filter_files(page, FilePolicy(allow_sdist=NameSet([":all:"])))
        assert served.served == () and served.dropped[0].reason is DropReason.NO_SHA256


class _FakeUpstream:
    """Answers from a table; records every (source, name) asked."""

    def __init__(self, known: dict[tuple[str, str], tuple[IndexFile, ...] | Exception]) -> None:
        self.known = known
        self.asked: list[tuple[str, str]] = []

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        self.asked.append((source.name, name))
        answer = self.known.get((source.name, name))
        if isinstance(answer, Exception):
            raise answer
        return None if answer is None else ProjectPage(name, source, answer)


def _selector(upstream: _FakeUpstream, pins: tuple[Pin, ...] = ()) -> SourceSelector:
    return SourceSelector(upstream, [PRIVATE, PUBLIC], pins, FilePolicy())


class TestSourceSelector:
    def test_first_source_that_knows_the_name_wins(self) -> None:
        upstream = _FakeUpstream(
            {
                ("private", "corp"): (_file("corp", "1.0"),),
                ("public", "corp"): (_file("corp", "99.0"),),
            }
        )
        served = _selector(upstream).select(canonicalize_name("corp"))
        assert served is not None and served.source is PRIVATE
        assert upstream.asked == [("private", "corp")]

    def test_unknown_everywhere(self) -> None:
        upstream = _FakeUpstream({})
        assert _selector(upstream).select(canonicalize_name("ghost")) is None
        assert upstream.asked == [("private", "ghost"), ("public", "ghost")]

    def test_answers_are_cached_per_command(self) -> None:
        upstream = _FakeUpstream({("public", "x"): (_file("x", "1.0"),)})
        selector = _selector(upstream)
        selector.select(canonicalize_name("x"))
        selector.select(canonicalize_name("x"))
        assert upstream.asked.count(("public", "x")) == 1

    def test_a_failing_source_is_not_skipped(self) -> None:
        upstream = _FakeUpstream(
            {("private", "corp"): SourceError("boom"), ("public", "corp"): (_file("corp", "99.0"),)}
        )
        with pytest.raises(SourceError):
            _selector(upstream).select(canonicalize_name("corp"))
        assert ("public", "corp") not in upstream.asked

    def test_pins_restrict_to_one_source(self) -> None:
        pinned = SourceSpec("corp", "https://corp.example/simple")
        upstream = _FakeUpstream({("public", "corp-tool"): (_file("corp-tool", "1.0"),)})
        selector = _selector(upstream, (Pin("Corp_*", pinned),))
        assert selector.select(canonicalize_name("corp.tool")) is None
        assert upstream.asked == [("corp", "corp-tool")]
        assert selector.candidates(canonicalize_name("other")) == (PRIVATE, PUBLIC)


class TestCooldownExemptions:
    def test_an_exemption_lets_its_young_release_through_and_no_other(self) -> None:
        from safe_pip.models import Exemption

        young = _file("p", "2.0", upload_time=NOW - timedelta(hours=1))
        younger = _file("p", "2.1", upload_time=NOW - timedelta(minutes=5))
        page = ProjectPage(canonicalize_name("p"), PUBLIC, (young, younger))
        exemption = Exemption(canonicalize_name("p"), Version("2.0"), "urgent fix")
        policy = FilePolicy(cutoff=NOW - timedelta(days=7), exemptions=(exemption,))
        served = filter_files(page, policy)
        assert served.served == (young,)
        assert [d.file for d in served.dropped] == [younger]

    def test_files_without_upload_time_are_kept_under_the_cooldown(self) -> None:
        timeless = _file("p", "1.0")
        page = ProjectPage(canonicalize_name("p"), PUBLIC, (timeless,))
        served = filter_files(page, FilePolicy(cutoff=NOW - timedelta(days=7)))
        assert served.served == (timeless,)
