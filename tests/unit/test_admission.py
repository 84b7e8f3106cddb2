from __future__ import annotations

import pytest

from safe_pip.admission import admit
from safe_pip.errors import PolicyDenied, UsageError
from safe_pip.models import NameSet
from safe_pip.requirements import RequirementLine


def _lines(*texts: str, editable: bool = False) -> list[RequirementLine]:
    return [RequirementLine(text, "command line", editable=editable) for text in texts]


class TestAdmit:
    def test_plain_requirements_pass(self) -> None:
        admit(
            _lines(
                "requests>=2",
                "demo[extra]==1.0 ; python_version > '3'",
                "https://x.example/demo-1.0-py3-none-any.whl",
            ),
            [],
            NameSet(),
        )

    def test_every_refusal_is_listed_with_its_flag(self) -> None:
        with pytest.raises(PolicyDenied) as caught:
            admit(
                _lines("proj @ git+https://git.example/proj", "./dist/other-1.0.tar.gz"),
                ["third"],
                NameSet(),
            )
        message = str(caught.value)
        assert "--allow-sdist proj" in message
        assert "--allow-sdist other" in message
        assert "--no-binary third" in message and "--allow-sdist third" in message

    def test_allowance_admits_git_and_archives(self) -> None:
        admit(
            _lines("proj @ git+https://git.example/proj", "./dist/other-1.0.tar.gz"),
            ["proj"],
            NameSet(["proj", "other"]),
        )

    def test_remote_editables_are_refused(self) -> None:
        with pytest.raises(PolicyDenied, match="only from local paths"):
            admit(_lines("https://x.example/proj.tar.gz", editable=True), [], NameSet([":all:"]))

    def test_no_binary_all_needs_allow_all(self) -> None:
        with pytest.raises(PolicyDenied, match="--allow-sdist :all:"):
            admit([], [":all:"], NameSet(["a"]))
        admit([], [":all:", ":none:"], NameSet([":all:"]))

    def test_malformed_requirement_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match=r"Invalid requirement 'demo=1\.0'"):
            admit(_lines("demo=1.0"), [], NameSet())
