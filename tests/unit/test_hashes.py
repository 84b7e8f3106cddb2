from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import HashMismatch
from safe_pip.models import DistKind, PlannedDist
from safe_pip.policy.hashes import (
    HashPin,
    approving_digests,
    check_pins,
    file_digests,
    pins_by_project,
)
from safe_pip.resolve.requirement_line import RequirementLine

DATA = b"wheel bytes"
SHA = hashlib.sha256(DATA).hexdigest()
OTHER = "sha256:" + "0" * 64
LINUX = {"sys_platform": "linux", "python_version": "3.11"}


def _dist(tmp_path: Path) -> tuple[PlannedDist, dict[NormalizedName, Path]]:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(DATA)
    dist = PlannedDist(canonicalize_name("demo"), Version("1.0"), DistKind.WHEEL, True, {})
    return dist, {dist.name: path}


def _line(text: str, *hashes: str, constraint: bool = False) -> RequirementLine:
    return RequirementLine(text, "-r r.txt (line 1)", hashes=hashes, constraint=constraint)


class TestApprovingDigests:
    def test_exact_pins_with_hashes_only(self) -> None:
        lines = [
            RequirementLine("demo==1.0", "r.txt", hashes=("sha256:aa", "sha512:bb")),
            RequirementLine("loose>=1", "r.txt", hashes=("sha256:cc",)),
            RequirementLine("wild==1.*", "r.txt", hashes=("sha256:dd",)),
            RequirementLine("nohash==1", "r.txt"),
            RequirementLine("con==1", "c.txt", hashes=("sha256:ee",), constraint=True),
        ]
        assert approving_digests(pins_by_project(lines, LINUX)) == {"demo": frozenset({"aa"})}


class TestPinsByProject:
    def test_groups_requirements_and_constraints_by_project(self) -> None:
        pins = pins_by_project(
            [
                _line("Demo==1.0", f"sha256:{SHA}"),
                _line("demo==1.0", OTHER, constraint=True),
                _line("other==2.0"),
            ],
            LINUX,
        )
        assert list(pins) == ["demo"]
        assert [pin.hashes for pin in pins[canonicalize_name("demo")]] == [
            (f"sha256:{SHA}",),
            (OTHER,),
        ]

    def test_lines_whose_markers_do_not_apply_pin_nothing(self) -> None:
        pins = pins_by_project([_line('demo==1.0; sys_platform == "win32"', OTHER)], LINUX)
        assert pins == {}

    def test_a_url_line_pins_the_project_its_file_name_names(self) -> None:
        line = _line("https://files.example/demo-1.0-py3-none-any.whl", OTHER)
        assert list(pins_by_project([line], LINUX)) == ["demo"]


class TestCheckPins:
    def test_any_hash_of_a_line_may_match(self, tmp_path: Path) -> None:
        dist, files = _dist(tmp_path)
        pin = HashPin("demo==1.0", "here", (OTHER, f"sha256:{SHA}"))
        check_pins(files, [dist], {dist.name: (pin,)})

    def test_every_line_must_allow_the_file(self, tmp_path: Path) -> None:
        dist, files = _dist(tmp_path)
        pins = (
            HashPin("demo==1.0", "-r r.txt (line 1)", (OTHER, f"sha256:{SHA}")),
            HashPin("demo==1.0", "-c c.txt (line 3)", (OTHER,)),
        )
        with pytest.raises(HashMismatch) as caught:
            check_pins(files, [dist], {dist.name: pins})
        text = str(caught.value)
        assert "demo==1.0 from demo-1.0-py3-none-any.whl (from -c c.txt (line 3))" in text
        assert f"Got        {SHA}" in text
        assert "-r r.txt (line 1)" not in text

    def test_unpinned_projects_are_not_checked(self, tmp_path: Path) -> None:
        dist, files = _dist(tmp_path)
        check_pins(files, [dist], {})

    def test_digests_of_several_algorithms_in_one_pass(self, tmp_path: Path) -> None:
        _, files = _dist(tmp_path)
        digests = file_digests(next(iter(files.values())), ["sha512", "sha256"])
        assert digests == {"sha256": SHA, "sha512": hashlib.sha512(DATA).hexdigest()}
