"""Each member is checked against RECORD on the reading that writes it: a wheel whose bytes
disagree is refused and nothing of it stays; inspection does not read the members twice."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from installer.records import Hash, RecordEntry

from safe_pip.errors import UnsafeWheel
from safe_pip.install.wheel_source import CheckedMember
from tests.support.dists import record_line
from tests.support.environments import fake_environment, install, snapshot

WheelFactory = Callable[..., Path]
SHEBANG_SCRIPT = b"#!python\nprint('hello')\n"
DATA_SCRIPT = "alpha-1.0.data/scripts/alpha-tool"


def _change(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data

    return mutate


@pytest.mark.parametrize(
    ("spec", "member"),
    [
        (
            {
                "files": {"alpha/__init__.py": "a = 1\n"},
                "mutate": _change("alpha/__init__.py", b"b = 2\n"),
            },
            "alpha/__init__.py",
        ),
        (
            {
                "files": {"alpha/__init__.py": "a = 1\n"},
                "mutate": _change("alpha/__init__.py", b"a = 1 # longer\n"),
            },
            "alpha/__init__.py",
        ),
        (
            # The last member installer writes: its check runs after the loop asks for more.
            {
                "mutate": _change(
                    "alpha-1.0.dist-info/WHEEL",
                    b"Wheel-Version: 1.0\nGenerator: other\nRoot-Is-Purelib: true\n"
                    b"Tag: py3-none-any\n",
                )
            },
            "alpha-1.0.dist-info/WHEEL",
        ),
        (
            # installer rewrites the #!python line, after reading back to the start.
            {
                "files": {"alpha/__init__.py": "", DATA_SCRIPT: SHEBANG_SCRIPT},
                "mutate": _change(DATA_SCRIPT, SHEBANG_SCRIPT + b"import evil\n"),
            },
            DATA_SCRIPT,
        ),
        (
            {
                "files": {"alpha/__init__.py": "", DATA_SCRIPT: b"#!/bin/sh\necho hi\n"},
                "mutate": _change(DATA_SCRIPT, b"#!/bin/sh\necho evil\n"),
            },
            DATA_SCRIPT,
        ),
    ],
    ids=["hash", "size", "last-member", "rewritten-script", "plain-script"],
)
def test_a_member_that_disagrees_with_record_is_refused_and_nothing_stays(
    tmp_path: Path, wheel: WheelFactory, spec: dict[str, Any], member: str
) -> None:
    env = fake_environment(tmp_path)
    before = snapshot(env[0].prefix)
    with pytest.raises(UnsafeWheel) as refused:
        install(*env, wheel("alpha", "1.0", **spec))
    message = str(refused.value)
    assert "alpha 1.0 (alpha-1.0-py3-none-any.whl) failed inspection" in message
    assert f"hash / size of {member} didn't match RECORD" in message
    assert message.endswith("Nothing was installed.")
    assert snapshot(env[0].prefix) == before


def test_a_wheel_that_agrees_with_record_is_installed_as_shipped(
    tmp_path: Path, wheel: WheelFactory
) -> None:
    env = fake_environment(tmp_path)
    files = {"alpha/__init__.py": "a = 1\n", DATA_SCRIPT: SHEBANG_SCRIPT}
    install(*env, wheel("alpha", "1.0", files=files))
    site = Path(env[1].paths["purelib"])
    assert (site / "alpha" / "__init__.py").read_text() == "a = 1\n"
    script = (Path(env[1].paths["scripts"]) / "alpha-tool").read_bytes()
    assert script == f"#!{sys.executable}\n".encode() + b"print('hello')\n"


def test_bytecode_shipped_in_pycache_is_skipped_unread_not_refused(
    tmp_path: Path, wheel: WheelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    env = fake_environment(tmp_path)
    shipped = "alpha/__pycache__/stale.cpython-311.pyc"
    install(*env, wheel("alpha", "1.0", files={"alpha/__init__.py": "", shipped: b"x"}))
    assert f"Skip installing {shipped}" in caplog.text
    assert not (Path(env[1].paths["purelib"]) / shipped).exists()


def test_inspection_leaves_the_members_bytes_to_the_install(
    tmp_path: Path, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[str] = []

    def validate_stream(entry: RecordEntry, stream: io.BufferedReader) -> bool:
        read_back.append(entry.path)
        return True

    monkeypatch.setattr(RecordEntry, "validate_stream", validate_stream)
    install(*fake_environment(tmp_path), wheel("alpha", "1.0"))
    assert read_back == []


def _checked(data: bytes) -> tuple[CheckedMember, int]:
    row = record_line("m", data).split(",")
    entry = RecordEntry.from_elements(*row)
    assert isinstance(entry.hash_, Hash)
    return CheckedMember(io.BytesIO(data), entry.hash_), len(data)


def test_a_member_read_whole_matches_and_one_read_in_part_does_not() -> None:
    whole, size = _checked(b"abcdef")
    assert whole.read(3) + whole.read() == b"abcdef"
    assert whole.matches(size)
    part, size = _checked(b"abcdef")
    assert part.read(3) == b"abc"
    assert not part.matches(size)


def test_reading_again_from_the_start_hashes_again_and_no_other_seek_is_allowed() -> None:
    member, size = _checked(b"#!python\nrest\n")
    assert member.read(8) == b"#!python"
    member.seek(0)
    assert member.readline() == b"#!python\n"
    assert member.tell() == len(b"#!python\n")
    member.read()
    assert member.matches(size)
    with pytest.raises(io.UnsupportedOperation):
        member.seek(3)


def test_a_member_never_read_was_never_written_and_is_not_judged() -> None:
    member, size = _checked(b"abc")
    assert member.matches(size)
