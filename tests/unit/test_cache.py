from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from safe_pip.errors import HashMismatch
from safe_pip.gateway.cache import FileCache, sha256_file

DATA = b"payload" * 1000
SHA = hashlib.sha256(DATA).hexdigest()


class TestFileCache:
    def test_stores_verified_files_under_their_digest(self, tmp_path: Path) -> None:
        cache = FileCache(tmp_path)
        seen: list[int] = []
        path = cache.store(
            [DATA[:10], DATA[10:]], SHA, "x-1.0-py3-none-any.whl", label="x", on_chunk=seen.append
        )
        assert path.read_bytes() == DATA and sum(seen) == len(DATA)
        assert path.parent.name == SHA[2:] and path.name == "x-1.0-py3-none-any.whl"
        assert cache.lookup(SHA, path.name) == path

    def test_mismatch_keeps_nothing(self, tmp_path: Path) -> None:
        cache = FileCache(tmp_path)
        with pytest.raises(HashMismatch, match="Expected sha256"):
            cache.store([b"evil"], SHA, "x.whl", label="x 1.0")
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    def test_interrupted_download_keeps_nothing(self, tmp_path: Path) -> None:
        def chunks() -> Iterator[bytes]:
            yield DATA[:10]
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            FileCache(tmp_path).store(chunks(), SHA, "x.whl", label="x")
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    def test_a_download_abandoned_by_an_exit_is_swept_by_the_next_one(self, tmp_path: Path) -> None:
        # An interrupted command exits without waiting for its downloads, to end at once:
        # their partial files stay behind until the same file is stored again.
        cache = FileCache(tmp_path)
        directory = cache.path_for(SHA, "x.whl").parent
        directory.mkdir(parents=True)
        stale, fresh = directory / ".part-abandoned", directory / ".part-in-progress"
        stale.write_bytes(DATA[:10])
        fresh.write_bytes(DATA[:10])
        long_ago = time.time() - 7200
        os.utime(stale, (long_ago, long_ago))
        cache.store([DATA], SHA, "x.whl", label="x")
        assert not stale.exists()
        assert fresh.exists(), "another process may still be writing it"

    def test_a_corrupted_entry_is_dropped(self, tmp_path: Path) -> None:
        cache = FileCache(tmp_path)
        path = cache.store([DATA], SHA, "x.whl", label="x")
        path.write_bytes(b"tampered")
        assert cache.lookup(SHA, "x.whl") is None
        assert not path.exists()

    @pytest.mark.parametrize("name", ["../x.whl", ".hidden", "a/b.whl"])
    def test_file_names_must_be_plain(self, tmp_path: Path, name: str) -> None:
        with pytest.raises(ValueError, match="plain file name"):
            FileCache(tmp_path).path_for(SHA, name)

    def test_a_name_longer_than_file_systems_allow_is_refused(self, tmp_path: Path) -> None:
        """Not an OSError from deep inside a lookup: no file system stores such a name."""
        name = "demo-" + "1." * 200 + "1-py3-none-any.whl"
        with pytest.raises(ValueError, match="longer than 255 bytes"):
            FileCache(tmp_path).path_for(SHA, name)
        assert FileCache(tmp_path).path_for(SHA, "d" * 251 + ".whl").name == "d" * 251 + ".whl"

    def test_digest_must_be_sha256_hex(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="not a sha256"):
            FileCache(tmp_path).path_for("../../etc", "x.whl")


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert sha256_file(path) == SHA
