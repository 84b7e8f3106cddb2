from __future__ import annotations

import dataclasses
import importlib.util
import json
import stat
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest
from packaging.utils import canonicalize_name

from safe_pip.policy.edit_distance import buckets, distance, near
from safe_pip.policy.typosquat import Suspicion, check_name, check_names

ROOT = Path(__file__).resolve().parents[2]
REFRESH = ROOT / "scripts" / "refresh_top_packages.py"


def packaged_names() -> list[str]:
    data = resources.files("safe_pip").joinpath("data", "top-pypi-packages.txt")
    return data.read_text(encoding="utf-8").splitlines()


def described_projects() -> list[str]:
    """The projects of the impostor check's reference data, as shipped (in rank order)."""
    data = resources.files("safe_pip").joinpath("data", "top-projects.json")
    projects: dict[str, object] = json.loads(data.read_text(encoding="utf-8"))["projects"]
    return list(projects)


def intended(name: str) -> str | None:
    found = check_name(name)
    return None if found is None else found.intended


def one_edit_variants(word: str) -> set[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {left + right[1:] for left, right in cuts if right}
        | {left + right[1] + right[0] + right[2:] for left, right in cuts if len(right) > 1}
        | {left + c + right[1:] for left, right in cuts if right for c in letters}
        | {left + c + right for left, right in cuts for c in letters}
    ) - {word}


class TestPackagedList:
    def test_holds_canonical_names_once_each(self) -> None:
        names = packaged_names()
        assert len(names) > 10_000
        assert all(canonicalize_name(name) == name for name in names)
        assert len(set(names)) == len(names)

    def test_begins_with_the_projects_the_reference_data_describes_in_rank_order(self) -> None:
        # The refresh script reads the first names of this list to describe them: both
        # files come from one ranking, so one reordered or dropped name shows here.
        described = described_projects()
        assert len(described) >= 1000
        assert packaged_names()[: len(described)] == described

    def test_is_loaded_on_first_use_not_at_import(self) -> None:
        code = (
            "import safe_pip.policy.typosquat as t; print(t._index.cache_info().currsize); "
            "t.check_name('reqeusts'); t.check_names(['djnago']); "
            "print(t._index.cache_info().currsize, t._index.cache_info().misses)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == ["0", "1", "1"]


class TestTopNames:
    # Near neighbours that are each popular in their own right.
    @pytest.mark.parametrize(
        "name",
        [
            "requests",
            "urllib3",
            "boto",
            "boto3",
            "attr",
            "attrs",
            "jwt",
            "pyjwt",
            "spark",
            "pyspark",
            "dateutils",
            "python-dateutil",
            "beautifulsoup",
            "beautifulsoup4",
            "pytest-cov",
            "pytest-mock",
            "six",
            "pip",
        ],
    )
    def test_a_listed_name_is_never_suspicious(self, name: str) -> None:
        assert name in packaged_names()
        assert check_name(name) is None

    @pytest.mark.parametrize(
        "spelling", ["Python_DateUtil", "PyYAML", "Requests", "typing.extensions"]
    )
    def test_any_spelling_of_a_listed_name_is_that_name(self, spelling: str) -> None:
        assert check_name(spelling) is None


class TestUnrelatedNames:
    @pytest.mark.parametrize(
        "name", ["my-totally-own-thing", "quintessential-widgetry", "zxqv-orchard-telemetry"]
    )
    def test_are_not_suspicious(self, name: str) -> None:
        assert check_name(name) is None


class TestSeparators:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("req-uests", "requests"), ("beautiful-soup4", "beautifulsoup4"), ("s-ix", "six")],
    )
    def test_moved_or_added_separators_are_suspicious(self, name: str, expected: str) -> None:
        found = check_name(name)
        assert found == Suspicion(
            name=canonicalize_name(name),
            intended=canonicalize_name(expected),
            reason=f"differs from '{expected}' only in separators",
        )

    def test_apply_only_to_the_most_popular(self) -> None:
        # Genuine pairs exist further down the list: googleads and google-ads.
        assert {"googleads", "google-ads"} <= set(packaged_names()[200:5000])
        assert check_name("url-path") is None  # urlpath is ranked beyond 12,000


class TestDigits:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("requests2", "requests"), ("requests-2", "requests"), ("urllib4", "urllib3")],
    )
    def test_added_or_changed_digits_are_suspicious(self, name: str, expected: str) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (
            expected,
            f"differs from '{expected}' only in digits",
        )

    def test_apply_only_to_popular_projects(self) -> None:
        assert "linkml-runtime" in packaged_names()[5000:]
        assert check_name("linkml-runtime2") is None

    def test_fewer_digits_name_an_older_edition_not_a_squat(self) -> None:
        assert "boto" in packaged_names()  # boto3 is the newer boto
        names = packaged_names()
        assert names.index("requests") < 100
        assert check_name("requests") is None
        assert intended("requests3") == "requests"


class TestLookAlikes:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("rnatplotlib", "matplotlib"),  # rn for m
            ("nurnpy", "numpy"),
            ("djang0", "django"),  # 0 for o
            ("co1orama", "colorama"),  # 1 for l
            ("urIlib3", "urllib3"),  # I for l
            ("tvvine", "twine"),  # vv for w
        ],
    )
    def test_look_alike_characters_are_suspicious(self, name: str, expected: str) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (
            expected,
            f"uses look-alike characters for '{expected}'",
        )


class TestAffixes:
    @pytest.mark.parametrize(
        ("name", "expected", "reason"),
        [
            ("python-requests", "requests", "with 'python' added before it"),
            ("requests-py", "requests", "with 'py' added after it"),
            ("pyrequests", "requests", "with 'py' added before it"),
            ("requests-python", "requests", "with 'python' added after it"),
            ("python3-flask", "flask", "with 'python3' added before it"),
            ("python-yaml", "pyyaml", "with another 'py' or 'python' affix"),
        ],
    )
    def test_added_or_exchanged_python_affixes_are_suspicious(
        self, name: str, expected: str, reason: str
    ) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (expected, f"is '{expected}' {reason}")

    @pytest.mark.parametrize(
        ("name", "popular"), [("dotenv", "python-dotenv"), ("arrow", "pyarrow")]
    )
    def test_a_dropped_affix_is_another_project(self, name: str, popular: str) -> None:
        # The popular project is the one with the affix; the bare name is older or other.
        assert check_name(name) is None
        assert name in packaged_names() and popular in packaged_names()

    def test_apply_only_to_popular_projects(self) -> None:
        assert "linkml-runtime" in packaged_names()[5000:]
        assert check_name("python-linkml-runtime") is None

    @pytest.mark.parametrize(
        ("name", "expected", "affix"),
        [
            ("pyreqests", "requests", "'py' added before it"),
            ("reqests-py", "requests", "'py' added after it"),
            ("python-reqeusts", "requests", "'python' added before it"),
        ],
    )
    def test_an_affix_and_a_typo_together_are_suspicious(
        self, name: str, expected: str, affix: str
    ) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (
            expected,
            f"is '{expected}' misspelt, with {affix}",
        )


class TestWordOrder:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("dateutil-python", "python-dateutil"), ("toolbelt-requests", "requests-toolbelt")],
    )
    def test_swapped_words_are_suspicious(self, name: str, expected: str) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (
            expected,
            f"has the words of '{expected}' in another order",
        )


class TestEditDistance:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("reqeusts", "requests"),  # transposition
            ("requets", "requests"),  # deletion
            ("requestss", "requests"),  # insertion
            ("requezts", "requests"),  # substitution
            ("djnago", "django"),
            ("colourama", "colorama"),
            ("typing-extension", "typing-extensions"),
        ],
    )
    def test_one_edit_from_a_popular_name_is_suspicious(self, name: str, expected: str) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (expected, f"one letter away from '{expected}'")

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("requesxt", "requests"), ("botoceor", "botocore"), ("reqsts", "requests")],
    )
    def test_two_edits_from_a_popular_long_name_are_suspicious(
        self, name: str, expected: str
    ) -> None:
        found = check_name(name)
        assert found is not None
        assert (found.intended, found.reason) == (expected, f"two letters away from '{expected}'")

    def test_every_single_edit_of_a_popular_name_is_caught(self) -> None:
        listed = set(packaged_names())
        variants = one_edit_variants("requests") - listed
        assert len(variants) > 400
        missed = sorted(name for name in variants if check_name(name) is None)
        assert missed == []

    def test_every_double_deletion_of_a_popular_long_name_is_caught(self) -> None:
        # Past the first two letters: a new start makes another name (niquests, quests).
        word = "charsetnormalizer"
        variants = {
            word[:i] + word[i + 1 : j] + word[j + 1 :]
            for i in range(2, len(word))
            for j in range(i + 1, len(word))
        } - set(packaged_names())
        assert {name: intended(name) for name in variants} == dict.fromkeys(
            variants, "charset-normalizer"
        )

    @pytest.mark.parametrize("name", ["siz", "sxi", "pyp"])
    def test_names_of_four_letters_or_fewer_attract_no_edit_matches(self, name: str) -> None:
        assert check_name(name) is None

    def test_one_edit_applies_only_to_popular_projects(self) -> None:
        assert "python-nmap" in packaged_names()[5000:]
        assert check_name("pytxon-nmap") is None

    def test_two_edits_apply_only_to_the_most_popular(self) -> None:
        # Further down, two edits make other projects' names (frozendict, frozenlist).
        assert "beautifulsoup4" in packaged_names()[10:200]
        assert check_name("beatifulsop4") is None

    def test_two_edits_apply_only_to_long_names(self) -> None:
        assert packaged_names().index("urllib3") < 10
        assert check_name("urlb3") is None  # urllib3 has seven letters

    @pytest.mark.parametrize(
        ("name", "popular"),
        [
            ("pytest-mpi", "pytest-mpl"),  # i for l: different letters, lower-cased
            ("cchardet", "chardet"),  # a letter added at the start: an accelerated edition
            ("tomli", "toml"),  # a letter added at the end of a short name
            ("markdown2", "markdown"),  # a digit: an edition
            ("mypy-boto3-ecs", "mypy-boto3-ec2"),  # another short word of one family
            ("tomli-w", "tomli"),  # a one-letter word added
            ("jiwer", "jiter"),  # a letter changed in a name outside the top 100
        ],
    )
    def test_honest_look_alike_pairs_do_not_warn(self, name: str, popular: str) -> None:
        from safe_pip.policy.typosquat import resembles_other

        assert popular in packaged_names()
        assert resembles_other(name) is None

    @pytest.mark.parametrize("name", ["arequests", "equests", "requestsx"])
    def test_any_slip_of_a_favourite_is_suspicious(self, name: str) -> None:
        assert intended(name) == "requests"


class TestNearNames:
    """The search for names within one or two edits, on its own."""

    NAMES = ("requests", "requesters", "request", "requests2", "reqeusts", "urllib3", "django")

    @pytest.mark.parametrize(
        ("left", "right", "expected"),
        [
            ("requests", "requests", 0),
            ("requests", "reqeusts", 1),  # a swap is one edit, not two
            ("requests", "requets", 1),
            ("requests", "requesxt", 2),
            ("requests", "django", 3),  # beyond the limit: the limit plus one
        ],
    )
    def test_distance(self, left: str, right: str, expected: int) -> None:
        assert distance(left, right, 2) == expected

    @pytest.mark.parametrize("edits", [1, 2])
    def test_near_finds_exactly_the_names_that_many_edits_away(self, edits: int) -> None:
        by_length = buckets(self.NAMES, shortest=5, two_edit_top=len(self.NAMES))
        found = set(near(by_length, self.NAMES, "requests", edits, 5))
        expected = {
            rank
            for rank, name in enumerate(self.NAMES)
            if len(name) >= 5 and distance("requests", name, edits) == edits
        }
        assert found == expected and found

    def test_two_edits_search_only_the_most_popular_names(self) -> None:
        by_length = buckets(self.NAMES, shortest=5, two_edit_top=1)
        assert set(near(by_length, self.NAMES, "reqsts", 2, 5)) == {0}
        by_length = buckets(self.NAMES, shortest=5, two_edit_top=0)
        assert set(near(by_length, self.NAMES, "reqsts", 2, 5)) == set()


class TestIntendedProject:
    def test_the_most_downloaded_of_equally_close_matches_is_named(self) -> None:
        names = packaged_names()
        assert names.index("pyyaml") < names.index("pyaml") < names.index("oyaml")
        assert intended("yyaml") == "pyyaml"  # one edit from each of the three

    def test_a_closer_resemblance_beats_popularity(self) -> None:
        # Only an affix away from yarl, one letter away from the more popular pyyaml.
        assert intended("pyyarl") == "yarl"


class TestCheckNames:
    def test_returns_only_the_suspicious_names_by_canonical_name(self) -> None:
        found = check_names(["requests", "Req_Uests", "my-totally-own-thing", "djnago"])
        assert sorted(found) == ["djnago", "req-uests"]
        assert found[canonicalize_name("req-uests")].intended == "requests"

    def test_each_name_is_reported_once(self) -> None:
        found = check_names(["reqeusts", "REQEUSTS", "Reqeusts"])
        assert list(found) == ["reqeusts"]

    def test_nothing_to_check_finds_nothing(self) -> None:
        assert check_names([]) == {}


class TestSuspicion:
    def test_is_immutable(self) -> None:
        found = check_name("reqeusts")
        assert found is not None
        for field in dataclasses.fields(found):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(found, field.name, canonicalize_name("numpy"))
        assert found.intended == "requests"


class TestRefreshScript:
    def refresh(self, source: Path, output: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REFRESH), str(source), "--output", str(output)],
            capture_output=True,
            text=True,
        )

    @pytest.mark.parametrize(
        ("filename", "content"),
        [
            (
                "top.json",
                json.dumps(
                    {
                        "last_update": "2026-01-01 00:00:00",
                        "rows": [
                            {"download_count": 30, "project": "Boto3"},
                            {"download_count": 20, "project": "python_dateutil"},
                            {"download_count": 15, "project": "boto3"},
                            {"download_count": 10, "project": "zope.interface"},
                        ],
                    }
                ),
            ),
            (
                "top.csv",
                "download_count,project\n30,Boto3\n20,python_dateutil\n15,boto3\n10,zope.interface\n",
            ),
            ("top.txt", "Boto3\npython_dateutil\n\nboto3\nzope.interface\n"),
        ],
    )
    def test_writes_canonical_names_once_each_in_rank_order(
        self, tmp_path: Path, filename: str, content: str
    ) -> None:
        source = tmp_path / filename
        source.write_text(content, encoding="utf-8")
        output = tmp_path / "data" / "top-pypi-packages.txt"
        result = self.refresh(source, output)
        assert result.returncode == 0, result.stderr
        assert output.read_text(encoding="utf-8") == "boto3\npython-dateutil\nzope-interface\n"
        assert [path.name for path in output.parent.iterdir()] == [output.name]
        assert stat.S_IMODE(output.stat().st_mode) == 0o644

    def test_round_trips_its_own_output(self, tmp_path: Path) -> None:
        first, second = tmp_path / "first.txt", tmp_path / "second.txt"
        source = tmp_path / "top.txt"
        source.write_text("Requests\nurllib3\nNumPy\n", encoding="utf-8")
        assert self.refresh(source, first).returncode == 0
        assert self.refresh(first, second).returncode == 0
        assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
        assert first.read_text(encoding="utf-8") == "requests\nurllib3\nnumpy\n"

    def test_an_empty_source_leaves_the_list_alone(self, tmp_path: Path) -> None:
        source, output = tmp_path / "empty.txt", tmp_path / "top.txt"
        source.write_text("\n", encoding="utf-8")
        output.write_text("requests\n", encoding="utf-8")
        result = self.refresh(source, output)
        assert result.returncode == 2
        assert "lists no projects" in result.stderr
        assert output.read_text(encoding="utf-8") == "requests\n"


class TestAccuracy:
    """scripts/typosquat_accuracy.py: the figures the README quotes stay true."""

    def script(self) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            "typosquat_accuracy", ROOT / "scripts" / "typosquat_accuracy.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def test_fewer_than_one_in_two_hundred_genuine_names_warned(self) -> None:
        alarms = list(self.script().genuine_alarms(5000))
        assert len(alarms) < 25, alarms

    def test_nine_in_ten_known_typosquats_caught(self) -> None:
        script = self.script()
        listed = set(packaged_names())
        known = [(name, target) for name, target in script.malicious_names() if target in listed]
        assert len(known) >= 90
        missed = [name for name, _ in known if script.catch(name) is None]
        assert len(missed) <= len(known) // 10, missed
