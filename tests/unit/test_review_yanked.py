"""The plan review's warning about yanked files: pip installs one only when it is pinned
exactly, and the user is told, with the publisher's reason."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.models import DistKind, Finding, IndexFile, Plan, PlannedDist, Severity, SourceSpec
from safe_pip.policy.review import review
from tests.support.files import index_file

PUBLIC = SourceSpec("pypi", "https://pypi.org/simple")


def _planned(file: IndexFile, *, yanked: bool = True) -> PlannedDist:
    return PlannedDist(
        name=file.project,
        version=file.version,
        kind=file.kind,
        requested=True,
        metadata={"name": file.project, "version": str(file.version)},
        file=file,
        source=PUBLIC,
        yanked=yanked,
    )


def _warning(label: str, reason: str) -> Finding:
    name, _, _version = label.rpartition("-")
    return Finding(
        canonicalize_name(name),
        Severity.WARNING,
        f"{label} is yanked by its publisher ({reason}); it is installed only because it was "
        f"pinned exactly.",
    )


class TestYankedFiles:
    def test_a_yanked_file_is_a_warning_with_its_reason(self) -> None:
        dist = _planned(index_file("demo", "1.2", yanked="broken metadata, use 1.3"))
        assert review(Plan((dist,))) == [_warning("demo-1.2", "broken metadata, use 1.3")]

    def test_an_empty_reason_says_none_was_given(self) -> None:
        dist = _planned(index_file("demo", "1.2", yanked=""))
        assert review(Plan((dist,))) == [_warning("demo-1.2", "no reason given")]

    def test_a_yanked_distribution_without_an_index_file_says_no_reason_was_given(self) -> None:
        # A direct URL or local file: the resolver knew it yanked, no page gave a reason.
        dist = PlannedDist(
            name=canonicalize_name("demo"),
            version=Version("1.2"),
            kind=DistKind.WHEEL,
            requested=True,
            metadata={"name": "demo", "version": "1.2"},
            local_path="/wheels/demo-1.2-py3-none-any.whl",
            yanked=True,
        )
        assert review(Plan((dist,))) == [_warning("demo-1.2", "no reason given")]

    def test_only_what_the_plan_installs_yanked_is_reported(self) -> None:
        # The page's mark alone does not make a finding: the plan says what pip chose.
        listed = _planned(index_file("listed", "1.0", yanked="old"), yanked=False)
        plain = _planned(index_file("plain", "1.0"), yanked=False)
        assert review(Plan((listed, plain))) == []

    def test_each_yanked_distribution_is_reported_in_plan_order(self) -> None:
        plan = Plan(
            (
                _planned(index_file("zeta", "2.0", yanked="security")),
                _planned(index_file("plain", "1.0"), yanked=False),
                _planned(index_file("alpha", "0.1", yanked="")),
            )
        )
        assert review(plan) == [
            _warning("zeta-2.0", "security"),
            _warning("alpha-0.1", "no reason given"),
        ]
