"""Inspection: one wheel per refusal reason, each refused with that reason named."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safe_pip import inspection
from safe_pip.errors import PolicyDenied, UnsafeWheel
from safe_pip.inspection import WheelEntry, check_direct_urls, inspect_wheel
from safe_pip.models import DistKind, IndexFile, Plan, PlannedDist
from safe_pip.wheels import url_key
from tests.support.dists import record_line
from tests.support.environments import planned

WheelFactory = Callable[..., Path]


def refusal(wheel: Path, dist: PlannedDist | None = None, **kwargs: Any) -> str:
    with pytest.raises(UnsafeWheel) as caught:
        inspect_wheel(dist or planned(wheel), wheel, **kwargs)
    message = str(caught.value)
    assert wheel.name in message
    assert "Nothing was installed" in message
    return message


def _change(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data

    return mutate


def _drop(member: str) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        del members[member]

    return mutate


_PLATLIB = b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n"


def _rewrite(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    """Change a member and write a RECORD that agrees, so only the change is judged."""

    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data
        record = next(p for p in members if p.endswith(".dist-info/RECORD"))
        rows = [record_line(p, d) for p, d in members.items() if p != record]
        members[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()

    return mutate


def _md5_record(members: dict[str, bytes]) -> None:
    def row(path: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.md5(data).digest()).rstrip(b"=").decode()  # noqa: S324
        return f"{path},md5={digest},{len(data)}"

    record = "alpha-1.0.dist-info/RECORD"
    rows = [row(p, d) for p, d in members.items() if p != record]
    members[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()


def _encrypt_first_member(path: Path) -> None:
    """Set the "encrypted" flag of the central directory's first entry."""
    data = bytearray(path.read_bytes())
    first = data.index(b"PK\x01\x02")
    data[first + 8] |= 0x1
    path.write_bytes(bytes(data))


def _point_second_member_at_first(path: Path) -> None:
    """Make the central directory's second entry reuse the first entry's data."""
    data = bytearray(path.read_bytes())
    first = data.index(b"PK\x01\x02")
    second = data.index(b"PK\x01\x02", first + 4)
    data[second + 42 : second + 46] = data[first + 42 : first + 46]
    path.write_bytes(bytes(data))


class TestInspectWheel:
    def test_a_valid_wheel_lists_every_file_the_installer_writes(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            files={
                "alpha/__init__.py": "",
                "alpha/__pycache__/x.cpython-311.pyc": b"ignored by installer",
                "alpha-1.0.data/scripts/tool": "#!python\n",
                "alpha-1.0.data/data/share/alpha.txt": "data",
            },
            entry_points={"alpha-cli": "alpha:main"},
        )
        info = inspect_wheel(planned(path), path)
        assert info.dist_info == "alpha-1.0.dist-info"
        assert set(info.entries) == {
            WheelEntry("scripts", "alpha-cli"),
            WheelEntry("purelib", "alpha/__init__.py", "alpha/__init__.py"),
            WheelEntry("scripts", "tool", "alpha-1.0.data/scripts/tool"),
            WheelEntry("data", "share/alpha.txt", "alpha-1.0.data/data/share/alpha.txt"),
            WheelEntry("purelib", "alpha-1.0.dist-info/METADATA", "alpha-1.0.dist-info/METADATA"),
            WheelEntry("purelib", "alpha-1.0.dist-info/WHEEL", "alpha-1.0.dist-info/WHEEL"),
            WheelEntry(
                "purelib",
                "alpha-1.0.dist-info/entry_points.txt",
                "alpha-1.0.dist-info/entry_points.txt",
            ),
            WheelEntry("purelib", "alpha-1.0.dist-info/RECORD"),
        }

    def test_windows_scripts_are_launchers(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", entry_points={"alpha-cli": "alpha:main"})
        info = inspect_wheel(planned(path), path, script_kind="win-amd64")
        assert WheelEntry("scripts", "alpha-cli.exe") in info.entries

    def test_pth_files_with_import_lines_are_marked(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            files={
                "alpha.pth": "# a comment\nimport os; os.system('x')\n",
                "bom.pth": b"\xef\xbb\xbfimport\tsys\n",
                "paths.pth": "/opt/extra\nimportant_dir\n",
            },
        )
        info = inspect_wheel(planned(path), path)
        runs_code = {entry.path: entry.runs_code for entry in info.entries}
        assert runs_code["alpha.pth"] is True
        assert runs_code["bom.pth"] is True
        assert runs_code["paths.pth"] is False

    def test_platlib_wheels_go_to_platlib(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", mutate=_rewrite("alpha-1.0.dist-info/WHEEL", _PLATLIB))
        info = inspect_wheel(planned(path), path)
        assert WheelEntry("platlib", "alpha/__init__.py", "alpha/__init__.py") in info.entries

    @pytest.mark.parametrize(
        ("spec", "reason"),
        [
            ({"dist_info": "other-1.0.dist-info"}, "does not match the file name"),
            ({"metadata_name": "other"}, "METADATA says other 1.0"),
            ({"metadata_version": "9.0"}, "METADATA says alpha 9.0"),
            ({"record": False}, "Unable to retrieve `RECORD`"),
            (
                {"mutate": _change("alpha/extra.py", b"x = 1\n")},
                "alpha/extra.py is not mentioned in RECORD",
            ),
            (
                {
                    "files": {"alpha/__init__.py": "a = 1\n"},
                    "mutate": _change("alpha/__init__.py", b"b = 2\n"),
                },
                "hash / size of alpha/__init__.py didn't match RECORD",
            ),
            (
                {
                    "files": {"alpha/__init__.py": "a = 1\n"},
                    "mutate": _change("alpha/__init__.py", b"a = 1 # longer\n"),
                },
                "hash / size of alpha/__init__.py didn't match RECORD",
            ),
            ({"mutate": _md5_record}, "with md5, which is too weak"),
            ({"files": {"/tmp/evil.py": ""}}, "'/tmp/evil.py' is an absolute path"),
            ({"files": {"C:/evil.py": ""}}, "is an absolute path"),
            ({"files": {"../evil.py": ""}}, "'../evil.py' contains '..'"),
            (
                {"files": {"../site-packages-evil/evil.py": ""}},
                "'../site-packages-evil/evil.py' contains '..'",
            ),
            ({"files": {"alpha\\evil.py": ""}}, "contains a backslash"),
            ({"files": {"alpha-1.0.data/evil/x.py": ""}}, "not in a known .data scheme"),
            ({"files": {"alpha-1.0.data/purelib": ""}}, "not in a known .data scheme"),
            (
                {"files": {"alpha-1.0.data/purelib/beta-1.0.dist-info/METADATA": "Name: beta"}},
                "would create metadata of another project (beta-1.0.dist-info)",
            ),
            (
                {"files": {"alpha-1.0.dist-info/INSTALLER": "pip\n"}},
                "is a file the installer writes itself",
            ),
            (
                {"entry_points": {"../../bin/evil": "alpha:main"}},
                "console script name '../../bin/evil' is not a plain file name",
            ),
            ({"entry_points": {"..": "alpha:main"}}, "console script name '..'"),
            ({"entry_points": {"a\\b": "alpha:main"}}, "console script name 'a\\\\b'"),
            ({"entry_points": {"broken": "not a target"}}, "entry_points.txt cannot be read"),
            (
                {"appended": [("alpha/__init__.py", b"print('second copy')\n")]},
                "duplicate archive member 'alpha/__init__.py'",
            ),
            (
                {"symlinks": {"alpha/passwd": "/etc/passwd"}},
                "'alpha/passwd' is a symbolic link",
            ),
            ({"files": {"alpha/bomb.bin": b"\0" * (65 << 20)}}, "'alpha/bomb.bin' expands"),
            ({"prefix": b"#!/bin/sh\necho polyglot\n"}, "bytes before 'alpha/__init__.py'"),
            (
                {"mutate": _drop("alpha-1.0.dist-info/WHEEL")},
                "alpha-1.0.dist-info/WHEEL is missing",
            ),
            (
                {"mutate": _rewrite("alpha-1.0.dist-info/WHEEL", b"Wheel-Version: 2.0\n")},
                "unsupported Wheel-Version '2.0'",
            ),
            ({"mutate": _drop("alpha-1.0.dist-info/METADATA")}, "METADATA is missing"),
            (
                {"requires": ["evil @ https://example.invalid/evil-1.0.tar.gz"]},
                "requires 'evil @ https://example.invalid/evil-1.0.tar.gz', a direct URL",
            ),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_refused(self, wheel: WheelFactory, spec: dict[str, Any], reason: str) -> None:
        path = wheel("alpha", "1.0", **spec)
        assert reason in refusal(path)

    def test_metadata_differing_from_what_pip_resolved_with(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", requires=["beta>=2"], requires_python=">=3.8")
        message = refusal(path, planned(path, ["beta>=1"], ">=3.8"))
        assert "requires-dist differs from the metadata pip resolved with" in message
        message = refusal(path, planned(path, ["beta>=2"], ">=3.12"))
        assert "requires-python differs" in message

    def test_whitespace_and_order_of_requirements_do_not_matter(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", requires=["gamma", "beta >=1"])
        inspect_wheel(planned(path, ["beta   >=1", "gamma"]), path)

    def test_file_name_must_match_the_plan(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0")
        dist = planned(path)
        other = PlannedDist(
            name=dist.name,
            version=dist.version.__class__("2.0"),
            kind=dist.kind,
            requested=True,
            metadata={"name": "alpha", "version": "2.0"},
            local_path=dist.local_path,
        )
        assert "file name says alpha 1.0, the plan says alpha 2.0" in refusal(path, other)

    def test_approved_direct_url_requirements_pass(self, wheel: WheelFactory) -> None:
        url = "https://example.invalid/evil-1.0-py3-none-any.whl"
        path = wheel("alpha", "1.0", requires=[f"evil @ {url}"])
        inspect_wheel(planned(path, [f"evil @ {url}"]), path, approved_urls={url_key(url)})

    def test_overlapping_members_are_refused_before_they_are_read(
        self, wheel: WheelFactory
    ) -> None:
        path = wheel("alpha", "1.0")
        _point_second_member_at_first(path)
        assert "overlaps the member before it" in refusal(path)

    def test_encrypted_members_are_refused_before_they_are_read(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0")
        _encrypt_first_member(path)
        assert "'alpha/__init__.py' is encrypted" in refusal(path)

    def test_not_a_zip_archive(self, tmp_path: Path) -> None:
        path = tmp_path / "alpha-1.0-py3-none-any.whl"
        path.write_bytes(b"not a zip")
        assert "not a readable zip archive" in refusal(path)

    def test_every_problem_is_listed(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            metadata_name="other",
            files={"../evil.py": "", "alpha/__init__.py": ""},
            entry_points={"a/b": "alpha:main"},
        )
        message = refusal(path)
        assert "METADATA says other" in message
        assert "contains '..'" in message
        assert "'a/b' is not a plain file name" in message


def _direct(url: str) -> PlannedDist:
    file = IndexFile(
        filename="evil-1.0-py3-none-any.whl",
        url=url,
        project=planned(Path("evil-1.0-py3-none-any.whl")).name,
        version=planned(Path("evil-1.0-py3-none-any.whl")).version,
        kind=DistKind.WHEEL,
        sha256="0" * 64,
    )
    dist = planned(Path("evil-1.0-py3-none-any.whl"))
    return PlannedDist(
        name=dist.name,
        version=dist.version,
        kind=DistKind.WHEEL,
        requested=False,
        metadata=dist.metadata,
        file=file,
    )


class TestCheckDirectUrls:
    def test_a_url_no_requirement_names_is_refused(self) -> None:
        plan = Plan((_direct("https://evil.invalid/evil-1.0-py3-none-any.whl"),))
        with pytest.raises(PolicyDenied) as caught:
            check_direct_urls(plan, frozenset())
        assert "evil-1.0 from https://evil.invalid/evil-1.0-py3-none-any.whl" in str(caught.value)
        assert "'NAME @ URL'" in str(caught.value)

    def test_a_url_the_user_gave_passes(self) -> None:
        url = "https://user:secret@evil.invalid/evil-1.0-py3-none-any.whl"
        plan = Plan((_direct("https://evil.invalid/evil-1.0-py3-none-any.whl"),))
        check_direct_urls(plan, frozenset({url_key(url + "#sha256=abc")}))

    def test_distributions_from_sources_are_not_direct(self, wheel: WheelFactory) -> None:
        check_direct_urls(Plan((planned(wheel("alpha", "1.0")),)), frozenset())


class TestExpansion:
    def test_megabytes_of_zeros_are_not_a_bomb(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", files={"alpha/zeros.pb": b"\0" * (3 << 20)})
        inspect_wheel(planned(path), path)

    def test_many_members_that_together_expand_too_far_are_a_bomb(
        self, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(inspection, "_BIG_ARCHIVE", 8 << 20)
        files = {f"alpha/bomb{n}.bin": b"\0" * (3 << 20) for n in range(3)}
        path = wheel("alpha", "1.0", files=files)
        assert "archive expands to 94" in refusal(path)
