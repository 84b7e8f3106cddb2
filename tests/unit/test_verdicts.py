"""Inspection verdicts: a wheel whose every member was read and found as RECORD says is not
read again, and nobody without safe-pip's key can make inspection skip a wheel."""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from safe_pip.errors import UnsafeWheel
from safe_pip.install import verdicts
from safe_pip.install.bytecode_store import BytecodeStore
from safe_pip.install.dist_info import record_problems
from safe_pip.install.inspection import inspect_wheel
from safe_pip.install.verdicts import Verdicts
from tests.support.dists import WheelSpec, build_wheel
from tests.support.environments import planned

MODULE = "alpha/__init__.py"


@pytest.fixture
def store(tmp_path: Path) -> BytecodeStore:
    return BytecodeStore(tmp_path / "cache", tmp_path / "home")


@pytest.fixture
def memo(store: BytecodeStore) -> Verdicts:
    return Verdicts(store)


@pytest.fixture
def read_in_full(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The wheels whose every member inspection read against RECORD."""
    read: list[Path] = []

    def counted(archive: zipfile.ZipFile, dist_info: str, path: Path) -> Iterator[str]:
        read.append(path)
        return record_problems(archive, dist_info, path)

    monkeypatch.setattr("safe_pip.install.inspection.record_problems", counted)
    return read


def _honest(directory: Path) -> Path:
    return build_wheel(directory, WheelSpec("alpha", "1.0", files={MODULE: "value = 1\n"}))


def _tampered(directory: Path) -> Path:
    """The same file name, a module changed after RECORD was written: a swapped download."""
    spec = WheelSpec(
        "alpha",
        "1.0",
        files={MODULE: "value = 1\n"},
        mutate=lambda members: members.update({MODULE: b"import os; os.system('id')\n"}),
    )
    return build_wheel(directory, spec)


def _inspect(wheel: Path, memo: Verdicts | None) -> None:
    inspect_wheel(planned(wheel), wheel, verdicts=memo)


def _digest(wheel: Path) -> str:
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_wheel_that_passed_is_not_read_again(
    memo: Verdicts, read_in_full: list[Path], tmp_path: Path
) -> None:
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, memo)
    _inspect(wheel, memo)
    assert read_in_full == [wheel]


def test_without_verdicts_every_inspection_reads_it_all(
    read_in_full: list[Path], tmp_path: Path
) -> None:
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, None)
    _inspect(wheel, None)
    assert read_in_full == [wheel, wheel]


def test_the_same_bytes_under_another_name_are_read_again(
    memo: Verdicts, read_in_full: list[Path], tmp_path: Path
) -> None:
    # installer reads the .dist-info directory's name from the file name: a verdict is for
    # the name as well as the bytes.
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, memo)
    renamed = tmp_path / "renamed" / "alpha-1.0-py2.py3-none-any.whl"
    renamed.parent.mkdir()
    renamed.write_bytes(wheel.read_bytes())
    _inspect(renamed, memo)
    assert read_in_full == [wheel, renamed]


def test_a_tampered_wheel_of_the_same_name_is_read_and_refused(
    memo: Verdicts, read_in_full: list[Path], tmp_path: Path
) -> None:
    _inspect(_honest(tmp_path / "first"), memo)
    tampered = _tampered(tmp_path / "second")
    with pytest.raises(UnsafeWheel, match="RECORD"):
        _inspect(tampered, memo)
    assert read_in_full[-1] == tampered


def test_a_refused_wheel_is_not_remembered(memo: Verdicts, tmp_path: Path) -> None:
    tampered = _tampered(tmp_path / "dists")
    for _ in range(2):
        with pytest.raises(UnsafeWheel, match="RECORD"):
            _inspect(tampered, memo)
    assert not memo.passed(tampered.name, _digest(tampered))


def test_a_verdict_signed_with_another_key_is_not_trusted(memo: Verdicts, tmp_path: Path) -> None:
    # Whoever can write the cache (but not safe-pip's home) signs with a key of their own.
    tampered = _tampered(tmp_path / "dists")
    forger = Verdicts(BytecodeStore(tmp_path / "cache", tmp_path / "forger"))
    forger.remember(tampered.name, _digest(tampered))
    assert forger.passed(tampered.name, _digest(tampered))
    with pytest.raises(UnsafeWheel, match="RECORD"):
        _inspect(tampered, memo)


def test_a_verdict_named_by_the_plain_digest_is_not_trusted(
    memo: Verdicts, store: BytecodeStore, tmp_path: Path
) -> None:
    tampered = _tampered(tmp_path / "dists")
    digest = _digest(tampered)
    honest = _honest(tmp_path / "honest")
    memo.remember(honest.name, _digest(honest))
    (entry,) = [path for path in store.root.rglob("*") if path.is_file()]
    planted = entry.parent / digest
    planted.touch()
    (entry.parent.parent / digest[:2]).mkdir(exist_ok=True)
    (entry.parent.parent / digest[:2] / digest).touch()
    with pytest.raises(UnsafeWheel, match="RECORD"):
        _inspect(tampered, memo)


def test_a_stricter_check_reads_every_wheel_again(
    memo: Verdicts, read_in_full: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, memo)
    monkeypatch.setattr(verdicts, "CHECK_VERSION", verdicts.CHECK_VERSION + 1)
    _inspect(wheel, memo)
    assert read_in_full == [wheel, wheel]


def test_a_home_that_cannot_hold_a_key_only_costs_time(
    read_in_full: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "home").write_text("a file where the home should be")
    memo = Verdicts(BytecodeStore(tmp_path / "cache", tmp_path / "home"))
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, memo)
    _inspect(wheel, memo)
    assert read_in_full == [wheel, wheel]


def test_verdicts_are_kept_counted_and_purged_with_the_bytecode(
    memo: Verdicts, store: BytecodeStore, read_in_full: list[Path], tmp_path: Path
) -> None:
    wheel = _honest(tmp_path / "dists")
    _inspect(wheel, memo)
    assert store.usage()[0] == 1
    store.purge()
    _inspect(wheel, memo)
    assert read_in_full == [wheel, wheel]


def test_a_verdict_used_counts_as_recently_used(memo: Verdicts, store: BytecodeStore) -> None:
    digest = "ab" * 32
    memo.remember("alpha-1.0-py3-none-any.whl", digest)
    (entry,) = [path for path in store.root.rglob("*") if path.is_file()]
    os.utime(entry, (1_000_000, 1_000_000))
    assert memo.passed("alpha-1.0-py3-none-any.whl", digest)
    assert entry.stat().st_mtime > 1_000_000


def test_a_verdict_in_a_store_that_cannot_be_written_still_counts(
    memo: Verdicts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a bytecode entry is: a cache mounted read-only is used all the same.
    digest = "cd" * 32
    memo.remember("alpha-1.0-py3-none-any.whl", digest)

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "utime", read_only)
    assert memo.passed("alpha-1.0-py3-none-any.whl", digest)
    assert not memo.passed("alpha-1.0-py3-none-any.whl", "ef" * 32)
