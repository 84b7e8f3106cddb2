"""The bytecode store's main-process side: its secret key, its size, emptying it, and
bringing it under its limit, least recently used first."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from safe_pip.install.bytecode_store import DEFAULT_LIMIT, EVICT_EVERY, BytecodeStore
from safe_pip.secret_key import KEY_SIZE


@pytest.fixture
def store(tmp_path: Path) -> BytecodeStore:
    return BytecodeStore(tmp_path / "cache", tmp_path / "home")


def _entry(store: BytecodeStore, name: str, size: int, used: int) -> Path:
    """An entry of ``size`` bytes last used at ``used`` (seconds since the epoch)."""
    path = store.root / "a70d0d0a" / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(size))
    os.utime(path, (used, used))
    return path


class TestKey:
    def test_made_once_secret_and_kept(self, store: BytecodeStore, tmp_path: Path) -> None:
        key = store.key
        path = tmp_path / "home" / "bytecode.key"
        assert len(key) == KEY_SIZE
        assert path.read_bytes() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert store.key == key
        assert BytecodeStore(tmp_path / "elsewhere", tmp_path / "home").key == key
        assert [entry.name for entry in path.parent.iterdir()] == ["bytecode.key"]

    def test_each_home_has_its_own(self, tmp_path: Path) -> None:
        one = BytecodeStore(tmp_path / "cache", tmp_path / "one").key
        assert BytecodeStore(tmp_path / "cache", tmp_path / "two").key != one

    def test_a_key_another_install_made_meanwhile_is_the_one_used(
        self, store: BytecodeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "home" / "bytecode.key"
        theirs = BytecodeStore(tmp_path / "cache", tmp_path / "home").key
        real_read = Path.read_bytes
        reads: list[Path] = []

        def not_yet_there(self: Path) -> bytes:
            # The first read misses the key: the other install makes it just after.
            reads.append(self)
            if self == path and len(reads) == 1:
                raise FileNotFoundError(self)
            return real_read(self)

        monkeypatch.setattr(Path, "read_bytes", not_yet_there)
        assert store.key == theirs
        assert len(reads) == 2
        assert real_read(path) == theirs

    @pytest.mark.parametrize("content", [b"", b"short", bytes(KEY_SIZE + 1)])
    def test_a_damaged_key_is_replaced(
        self, store: BytecodeStore, tmp_path: Path, content: bytes
    ) -> None:
        path = tmp_path / "home" / "bytecode.key"
        path.parent.mkdir()
        path.write_bytes(content)
        key = store.key
        assert len(key) == KEY_SIZE
        assert path.read_bytes() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_home_that_cannot_hold_it_is_an_error(self, tmp_path: Path) -> None:
        (tmp_path / "home").write_text("not a directory")
        with pytest.raises(OSError):
            _ = BytecodeStore(tmp_path / "cache", tmp_path / "home").key


class TestSize:
    def test_an_absent_store_is_empty(self, store: BytecodeStore, tmp_path: Path) -> None:
        assert store.root == tmp_path / "cache" / "bytecode"
        assert store.usage() == (0, 0)
        assert store.purge() == 0
        assert store.evict(0) == 0

    def test_usage_counts_entries_and_bytes(self, store: BytecodeStore) -> None:
        _entry(store, "aa01", 100, 1)
        _entry(store, "aa02", 20, 2)
        _entry(store, "bb01", 3, 3)
        assert store.usage() == (3, 123)

    def test_purge_empties_it(self, store: BytecodeStore) -> None:
        _entry(store, "aa01", 100, 1)
        _entry(store, "bb01", 20, 2)
        assert store.purge() == 120
        assert store.usage() == (0, 0)
        assert list(store.root.iterdir()) == []


class TestEvict:
    def test_least_recently_used_go_first_until_under_the_limit(self, store: BytecodeStore) -> None:
        newest = _entry(store, "aa01", 100, 4_000)
        oldest = _entry(store, "bb01", 100, 1_000)
        middle = _entry(store, "cc01", 100, 3_000)
        older = _entry(store, "aa02", 100, 2_000)
        assert store.evict(250) == 200
        assert not oldest.exists()
        assert not older.exists()
        assert middle.exists()
        assert newest.exists()
        assert store.usage() == (2, 200)

    def test_a_store_under_the_limit_is_left_alone(self, store: BytecodeStore) -> None:
        _entry(store, "aa01", 100, 1)
        _entry(store, "bb01", 100, 2)
        assert store.evict(200) == 0
        assert store.usage() == (2, 200)

    def test_after_installs_it_trims_at_most_once_a_day(self, store: BytecodeStore) -> None:
        _entry(store, "aa01", 100, 1)
        made = store.root.stat().st_mtime
        assert store.evict_if_due(0, now=made + EVICT_EVERY - 1) == 0
        assert store.evict_if_due(0, now=made + EVICT_EVERY) == 100
        _entry(store, "bb01", 100, 2)
        assert store.evict_if_due(0, now=made + 2 * EVICT_EVERY - 1) == 0
        assert store.usage() == (1, 100)
        assert store.evict_if_due(0, now=made + 2 * EVICT_EVERY) == 100
        assert store.usage() == (0, 0)

    def test_an_absent_store_is_not_trimmed(self, store: BytecodeStore) -> None:
        assert store.evict_if_due(0) == 0
        assert not store.root.exists()

    def test_the_default_limit_is_a_gibibyte(self, store: BytecodeStore) -> None:
        assert DEFAULT_LIMIT == 1 << 30
        _entry(store, "aa01", 100, 1)
        assert store.evict() == 0
