from __future__ import annotations

import contextlib
import hashlib
import zipfile
from pathlib import Path

import pytest

from safe_pip.errors import HashMismatch, PolicyDenied, UsageError
from safe_pip.models import NameSet
from safe_pip.policy.admission import admit, checked_wheel_line, local_projects, remote_wheel
from safe_pip.resolve.requirement_line import RequirementLine


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
            _lines("proj @ git+https://git.example/proj", "other @ file:///dist/x.tar.gz"),
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

    def test_a_requirement_too_long_for_a_file_name_is_read_as_one(self) -> None:
        """Not an OSError (name too long) from asking whether it is a file."""
        admit(_lines("alpha==" + "1" * 300), [], NameSet())

    def test_malformed_requirement_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match=r"Invalid requirement 'demo=1\.0'"):
            admit(_lines("demo=1.0"), [], NameSet())


class TestSourceArchivesByUrlOrPath:
    """Default-deny: whatever is not a wheel (by the URL's path) or a local project
    directory is a source build, allowed only for the project the line names."""

    @pytest.mark.parametrize(
        "text",
        [
            "beta @ https://x.example/beta-1.0.tar.gz?download=1",
            "beta @ https://x.example/beta-1.0.tar.gz#sha256=" + "0" * 64,
            "https://x.example/beta-1.0.tar.gz#egg=beta",
            "beta @ https://x.example/archive/v1.0.tar.gz",
            "beta @ https://x.example/beta-1.0.whl.tar.gz?x=.whl",
            "beta @ https://x.example/download?file=beta-1.0-py3-none-any.whl",
        ],
    )
    def test_named_source_needs_its_allowance(self, text: str) -> None:
        with pytest.raises(PolicyDenied, match="--allow-sdist beta"):
            admit(_lines(text), [], NameSet(["other"]))
        admit(_lines(text), [], NameSet(["beta"]))

    @pytest.mark.parametrize(
        "text", ["https://x.example/archive/v1.0.tar.gz", "https://x.example/get?id=3"]
    )
    def test_unnamed_source_asks_for_the_name(self, text: str) -> None:
        with pytest.raises(PolicyDenied, match="'NAME @ <url>'"):
            admit(_lines(text), [], NameSet(["beta"]))
        admit(_lines(text), [], NameSet([":all:"]))

    @pytest.mark.parametrize("spelling", ["archive.tar.gz", "./archive.tar.gz", "archive.zip"])
    def test_local_archive_without_a_version(
        self, spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / spelling.removeprefix("./")).write_bytes(b"")
        with pytest.raises(PolicyDenied, match="names no project"):
            admit(_lines(spelling), [], NameSet(["archive"]))

    def test_a_versioned_archive_name_is_only_a_suggestion(self) -> None:
        with pytest.raises(PolicyDenied) as caught:
            admit(_lines("./dist/other-1.0.tar.gz"), [], NameSet(["other"]))
        assert "'other @ file://" in str(caught.value)
        assert "--allow-sdist other" in str(caught.value)

    def test_wheels_and_local_projects_are_no_source_builds(self, tmp_path: Path) -> None:
        (tmp_path / "proj").mkdir()
        admit(
            _lines(
                "https://x.example/app-1.0-py3-none-any.whl?download=1",
                "app @ https://x.example/app-1.0-py3-none-any.whl#sha256=" + "0" * 64,
                str(tmp_path / "proj"),
                (tmp_path / "proj").as_uri(),
            ),
            [],
            NameSet(),
        )

    @pytest.mark.parametrize(
        "text", ["a" * 5000 + ".tar.gz", "./" + "a" * 5000, "a" * 5000 + ".whl"]
    )
    def test_a_name_too_long_for_a_file_is_no_crash(self, text: str) -> None:
        with contextlib.suppress(PolicyDenied):
            admit(_lines(text), [], NameSet())
        assert local_projects(_lines(text)) == frozenset()

    def test_local_projects_are_the_directories_named(self, tmp_path: Path) -> None:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        lines = [
            *_lines(str(tmp_path / "a"), "requests", "c @ https://x.example/c-1.0.tar.gz"),
            *_lines(str(tmp_path / "b"), editable=True),
        ]
        assert local_projects(lines) == {tmp_path / "a", tmp_path / "b"}


def _wheel(directory: Path, requires: tuple[str, ...] = ()) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "app-1.0-py3-none-any.whl"
    metadata = "Metadata-Version: 2.1\nName: app\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app-1.0.dist-info/METADATA", metadata)
    return path


class TestWheelsByUrl:
    """A wheel named by URL reaches pip only as its checked copy."""

    URL = "https://x.example/dl/app-1.0-py3-none-any.whl"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (URL, "app @ {uri}"),
            (URL + "?download=1; python_version > '3'", "app @ {uri} ; python_version > '3'"),
            (
                f"app[extra] @ {URL} ; python_version > '3'",
                'app[extra] @ {uri} ; python_version > "3"',
            ),
        ],
    )
    def test_the_line_names_the_copy(self, tmp_path: Path, text: str, expected: str) -> None:
        (line,) = _lines(text)
        assert remote_wheel(line) is not None
        copy = _wheel(tmp_path)
        checked = checked_wheel_line(line, copy, frozenset())
        assert checked.text == expected.format(uri=copy.as_uri())
        assert checked.origin == line.origin

    def test_other_lines_are_left_to_pip(self, tmp_path: Path) -> None:
        for text in ("app", "app @ https://x.example/app-1.0.tar.gz", str(_wheel(tmp_path))):
            assert remote_wheel(_lines(text)[0]) is None

    def test_a_required_url_nobody_gave_is_refused(self, tmp_path: Path) -> None:
        copy = _wheel(tmp_path, ("helper @ https://elsewhere.example/helper-1.0.tar.gz",))
        with pytest.raises(PolicyDenied, match=f"{self.URL} .* requires a direct URL"):
            checked_wheel_line(_lines(self.URL)[0], copy, frozenset())

    def test_the_fragment_hash_is_checked(self, tmp_path: Path) -> None:
        copy = _wheel(tmp_path)
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        checked_wheel_line(_lines(f"{self.URL}#sha256={digest}")[0], copy, frozenset())
        with pytest.raises(HashMismatch, match="does not match the sha256"):
            checked_wheel_line(_lines(f"{self.URL}#sha256={'0' * 64}")[0], copy, frozenset())
