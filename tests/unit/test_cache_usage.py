from __future__ import annotations

import os
from pathlib import Path

import pytest

from safe_pip.cache_usage import CachePart, Removed, SafePipCache, cache_directory
from safe_pip.errors import SafePipError

WHEEL = b"w" * 1000
REPORT = b"{}" * 50
INDEX = b"i" * 300
CODE = b"c" * 70
PAGE = b"p" * 40


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with one file in each part of the cache, and the state that is no cache."""
    home = tmp_path / "home"
    cache = home / "cache"
    _write(cache / "files" / "sha256" / "ab" / "cdef" / "x-1.0-py3-none-any.whl", WHEEL)
    _write(cache / "files" / "sha256" / "12" / "3456" / "y-2.0-py3-none-any.whl", WHEEL)
    _write(cache / "resolutions" / "key.json", REPORT)
    _write(cache / "pages" / "entry", PAGE)
    _write(home / "advisories" / "source.index", INDEX)
    _write(home / "advisories" / "source.json", REPORT)
    _write(cache / "bytecode" / "3.11" / "ab" / "entry", CODE)
    for name in ("trust.json", "audit.log", "bytecode.key", "pages.key", "settings.toml"):
        _write(home / name, b"state")
    return home


def _by_name(parts: list[CachePart]) -> dict[str, tuple[int, int]]:
    return {part.name: (part.entries, part.size) for part in parts}


def _files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


class TestCacheDirectory:
    def test_the_flag_else_the_home_else_none(self, tmp_path: Path) -> None:
        assert cache_directory(None, tmp_path, disabled=False) == tmp_path / "cache"
        assert cache_directory(str(tmp_path / "c"), tmp_path, disabled=False) == tmp_path / "c"
        assert cache_directory("~/c", tmp_path, disabled=False) == Path("~/c").expanduser()
        assert cache_directory(str(tmp_path / "c"), tmp_path, disabled=True) is None


class TestParts:
    def test_each_part_counts_its_files_and_bytes(self, home: Path) -> None:
        cache = SafePipCache(home / "cache", home)
        parts = cache.parts()
        assert [part.name for part in parts] == [
            "downloads",
            "remembered resolutions",
            "index pages",
            "advisories",
            "bytecode store",
        ]
        assert _by_name(parts) == {
            "downloads": (2, 2 * len(WHEEL)),
            "remembered resolutions": (1, len(REPORT)),
            "index pages": (1, len(PAGE)),
            "advisories": (2, len(INDEX) + len(REPORT)),
            "bytecode store": (1, len(CODE)),
        }
        assert parts[3].directory == home / "advisories"

    def test_an_empty_cache_is_all_zero(self, tmp_path: Path) -> None:
        parts = SafePipCache(tmp_path / "cache", tmp_path).parts()
        assert {part.entries for part in parts} == {0} and {part.size for part in parts} == {0}

    def test_a_link_is_counted_as_itself_not_its_target(self, home: Path, tmp_path: Path) -> None:
        big = _write(tmp_path / "outside" / "big", b"b" * 10_000)
        link = home / "cache" / "resolutions" / "link"
        link.symlink_to(big)
        (home / "cache" / "files" / "dir-link").symlink_to(big.parent, target_is_directory=True)
        parts = _by_name(SafePipCache(home / "cache", home).parts())
        assert parts["remembered resolutions"] == (2, len(REPORT) + link.lstat().st_size)
        assert parts["downloads"][0] == 3 and parts["downloads"][1] < 10_000

    def test_a_part_that_cannot_be_read_is_a_clear_error(
        self, home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refused(path: Path) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(os, "scandir", refused)
        with pytest.raises(SafePipError, match=r"Cannot read \S*files in safe-pip's cache"):
            SafePipCache(home / "cache", home).parts()


class TestPurge:
    def test_removes_every_part_and_nothing_else(self, home: Path) -> None:
        cache = SafePipCache(home / "cache", home)
        removed = cache.purge()
        total = 2 * len(WHEEL) + 2 * len(REPORT) + len(INDEX) + len(CODE) + len(PAGE)
        assert removed == Removed(7, total)
        assert [path.name for path in _files_under(home)] == [
            "audit.log",
            "bytecode.key",
            "pages.key",
            "settings.toml",
            "trust.json",
        ]
        assert {part.entries for part in cache.parts()} == {0}
        assert cache.purge() == Removed(0, 0)

    def test_never_follows_a_link_out_of_the_cache(self, home: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        kept = _write(outside / "keep", b"mine")
        (home / "cache" / "files" / "sha256" / "link").symlink_to(outside)
        (home / "cache" / "resolutions" / "file-link").symlink_to(kept)
        (home / "advisories").rename(tmp_path / "advisories-elsewhere")
        (home / "advisories").symlink_to(tmp_path / "advisories-elsewhere")
        SafePipCache(home / "cache", home).purge()
        assert kept.read_bytes() == b"mine"
        assert len(_files_under(tmp_path / "advisories-elsewhere")) == 2
        assert not os.path.lexists(home / "advisories")
        assert not (home / "cache" / "files").exists()

    def test_a_store_that_is_a_link_is_removed_as_a_link(self, home: Path, tmp_path: Path) -> None:
        store = home / "cache" / "bytecode"
        store.rename(tmp_path / "store-elsewhere")
        store.symlink_to(tmp_path / "store-elsewhere")
        cache = SafePipCache(home / "cache", home)
        assert _by_name(cache.parts())["bytecode store"] == (1, store.lstat().st_size)
        cache.purge()
        assert len(_files_under(tmp_path / "store-elsewhere")) == 1
        assert not os.path.lexists(store)

    def test_a_cache_directory_that_is_a_link_is_emptied_but_kept(
        self, home: Path, tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "elsewhere"
        (home / "cache").rename(elsewhere)
        (home / "cache").symlink_to(elsewhere, target_is_directory=True)
        SafePipCache(home / "cache", home).purge()
        assert (home / "cache").is_symlink() and elsewhere.is_dir()
        assert _files_under(elsewhere) == []

    def test_a_file_that_cannot_be_removed_is_a_clear_error(
        self, home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        unlink = Path.unlink

        def refused(path: Path, missing_ok: bool = False) -> None:
            if path.name == "key.json":
                raise PermissionError(13, "Permission denied", str(path))
            unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(Path, "unlink", refused)
        with pytest.raises(SafePipError, match=r"Cannot remove \S*key.json from safe-pip's"):
            SafePipCache(home / "cache", home).purge()
        assert (home / "cache" / "resolutions" / "key.json").exists()
