from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import HashMismatch, NetworkError
from safe_pip.gateway.cache import FileCache
from safe_pip.gateway.network import NetworkOptions
from safe_pip.gateway.sources import Upstream
from safe_pip.install.download import Downloader
from safe_pip.install.fetch import Fetcher
from safe_pip.install.metadata import MetadataReader
from safe_pip.models import DistKind, IndexFile, PlannedDist, SourceSpec
from safe_pip.policy.hashes import HashPin
from tests.support.files import demo_wheel


def _wheel_bytes(metadata: bytes = b"Name: demo\nVersion: 1.0\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", metadata)
    return buffer.getvalue()


WHEEL = _wheel_bytes()
SHA = hashlib.sha256(WHEEL).hexdigest()


def _file(sha256: str = SHA, **extra: object) -> IndexFile:
    return demo_wheel(sha256, **extra)


class _Server:
    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.hits: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hits.append(request.url.path)
        return self.routes.get(request.url.path, httpx.Response(404))


def _fetcher(
    tmp_path: Path, server: Callable[[httpx.Request], httpx.Response], retries: int = 0
) -> Fetcher:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return Fetcher(
        Upstream(client, NetworkOptions(retries=0)), FileCache(tmp_path), retries=retries
    )


class TestMaterialize:
    def test_downloads_once(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        fetcher = _fetcher(tmp_path, server)
        first = fetcher.materialize(_file(), None)
        second = fetcher.materialize(_file(), None)
        assert first == second and first.read_bytes() == WHEEL
        assert server.hits == ["/demo.whl"]

    def test_wrong_bytes_are_refused(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=b"not the wheel")})
        with pytest.raises(HashMismatch):
            _fetcher(tmp_path, server).materialize(_file(), None)

    def test_no_sha256_no_download(self, tmp_path: Path) -> None:
        server = _Server({})
        with pytest.raises(HashMismatch, match="no sha256"):
            _fetcher(tmp_path, server).materialize(dataclasses.replace(_file(), sha256=None), None)
        assert server.hits == []

    def test_failed_downloads_are_retried(self, tmp_path: Path) -> None:
        answers = iter([httpx.Response(500), httpx.Response(200, content=WHEEL)])
        fetcher = _fetcher(tmp_path, lambda r: next(answers), retries=1)
        assert fetcher.materialize(_file(), None).read_bytes() == WHEEL

    def test_gives_up_after_retries(self, tmp_path: Path) -> None:
        with pytest.raises(NetworkError, match="HTTP 500"):
            _fetcher(tmp_path, _Server({"/demo.whl": httpx.Response(500)}), retries=2).materialize(
                _file(), None
            )


class TestMetadata:
    def test_prefers_the_cached_wheel(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        fetcher = _fetcher(tmp_path, server)
        fetcher.materialize(_file(), None)
        assert fetcher.metadata(_file(), None) == b"Name: demo\nVersion: 1.0\n"
        assert server.hits == ["/demo.whl"]

    def test_pep658_file_verified_against_its_hash(self, tmp_path: Path) -> None:
        metadata = b"Name: demo\nVersion: 1.0\n"
        server = _Server({"/demo.whl.metadata": httpx.Response(200, content=metadata)})
        good = _file(core_metadata=True, core_metadata_sha256=hashlib.sha256(metadata).hexdigest())
        assert _fetcher(tmp_path, server).metadata(good, None) == metadata
        bad = _file(core_metadata=True, core_metadata_sha256="0" * 64)
        with pytest.raises(HashMismatch, match="metadata file"):
            _fetcher(tmp_path, server).metadata(bad, None)

    def test_falls_back_to_the_whole_wheel(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        listed = _file(core_metadata=True)
        assert _fetcher(tmp_path, server).metadata(listed, None).startswith(b"Name: demo")
        assert server.hits == ["/demo.whl.metadata", "/demo.whl"]

    def test_asks_for_no_metadata_file_the_source_does_not_list(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        assert _fetcher(tmp_path, server).metadata(_file(), None).startswith(b"Name: demo")
        assert server.hits == ["/demo.whl"]


class _Files:
    """A source of file bytes with no HTTP behind it: the fetch stage needs no more."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.read: list[str] = []

    @contextmanager
    def open_stream(self, source: SourceSpec | None, url: str) -> Iterator[Iterator[bytes]]:
        self.read.append(url)
        yield iter([self.files[url]])

    def read_optional(self, source: SourceSpec | None, url: str) -> bytes | None:
        self.read.append(url)
        return self.files.get(url)


class TestAnyFileReader:
    def test_verifies_what_any_reader_gives(self, tmp_path: Path) -> None:
        files = _Files({_file().url: WHEEL})
        fetcher = Fetcher(files, FileCache(tmp_path), retries=0)
        assert fetcher.materialize(_file(), None).read_bytes() == WHEEL
        with pytest.raises(HashMismatch):
            Fetcher(_Files({_file().url: b"other"}), FileCache(tmp_path / "b")).materialize(
                _file(), None
            )

    def test_metadata_file_comes_through_the_reader(self, tmp_path: Path) -> None:
        metadata = b"Name: demo\nVersion: 1.0\n"
        listed = _file(core_metadata=True)
        files = _Files({f"{listed.url}.metadata": metadata})
        assert Fetcher(files, FileCache(tmp_path)).metadata(listed, None) == metadata
        assert files.read == [f"{listed.url}.metadata"]


class TestPieces:
    def test_the_downloader_keeps_what_it_verified(self, tmp_path: Path) -> None:
        files = _Files({_file().url: WHEEL})
        downloader = Downloader(files, FileCache(tmp_path), retries=0)
        assert downloader.materialize(_file(), None).read_bytes() == WHEEL
        assert downloader.materialize(_file(), None).read_bytes() == WHEEL
        assert files.read == [_file().url]

    def test_the_metadata_reader_downloads_the_wheel_through_its_downloader(
        self, tmp_path: Path
    ) -> None:
        files = _Files({_file().url: WHEEL})
        cache = FileCache(tmp_path)
        reader = MetadataReader(files, cache, Downloader(files, cache, retries=0))
        assert reader.metadata(_file(), None) == b"Name: demo\nVersion: 1.0\n"
        assert cache.lookup(SHA, _file().filename) is not None


class TestFetchAll:
    def test_fetches_every_planned_file(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        dist = PlannedDist(
            canonicalize_name("demo"), Version("1.0"), DistKind.WHEEL, True, {}, file=_file()
        )
        local = tmp_path / "local-2.0-py3-none-any.whl"
        local.write_bytes(WHEEL + b"x")
        other = PlannedDist(
            canonicalize_name("local"),
            Version("2.0"),
            DistKind.WHEEL,
            True,
            {},
            local_path=str(local),
            local_sha256=hashlib.sha256(WHEEL + b"x").hexdigest(),
        )
        paths = _fetcher(tmp_path / "cache", server).fetch_all([dist, other])
        assert paths[dist.name].read_bytes() == WHEEL
        assert paths[other.name].read_bytes() == WHEEL + b"x"
        assert paths[other.name] != local


class TestUserPins:
    def _dist(self) -> PlannedDist:
        return PlannedDist(
            canonicalize_name("demo"), Version("1.0"), DistKind.WHEEL, True, {}, file=_file()
        )

    def _pins(self, *hashes: str) -> dict[NormalizedName, tuple[HashPin, ...]]:
        return {canonicalize_name("demo"): (HashPin("demo==1.0", "-r r.txt (line 1)", hashes),)}

    def test_a_cached_file_is_checked_against_the_pins_too(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        fetcher = _fetcher(tmp_path, server)
        fetcher.fetch_all([self._dist()], pins=self._pins(f"sha256:{SHA}"))
        with pytest.raises(HashMismatch, match=r"Expected sha256 0{64}\n\s+Got\s+" + SHA):
            fetcher.fetch_all([self._dist()], pins=self._pins("sha256:" + "0" * 64))
        assert server.hits == ["/demo.whl"]

    def test_a_pin_of_another_algorithm_is_checked_on_the_bytes(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(200, content=WHEEL)})
        sha512 = hashlib.sha512(WHEEL).hexdigest()
        paths = _fetcher(tmp_path, server).fetch_all(
            [self._dist()], pins=self._pins("sha384:" + "1" * 96, f"sha512:{sha512}")
        )
        assert paths[canonicalize_name("demo")].read_bytes() == WHEEL


class TestFetchUrl:
    def test_stored_under_the_sha256_of_what_arrived(self, tmp_path: Path) -> None:
        answers = iter([httpx.Response(500), httpx.Response(200, content=WHEEL)])
        fetcher = _fetcher(tmp_path / "cache", lambda r: next(answers), retries=1)
        path = fetcher.fetch_url("https://files.example/demo.whl", "demo.whl", "demo")
        assert path.read_bytes() == WHEEL
        assert path == FileCache(tmp_path / "cache").path_for(SHA, "demo.whl")

    def test_gives_up_after_retries(self, tmp_path: Path) -> None:
        server = _Server({"/demo.whl": httpx.Response(500)})
        with pytest.raises(NetworkError, match="HTTP 500"):
            _fetcher(tmp_path, server, retries=1).fetch_url(
                "https://files.example/demo.whl", "demo.whl", "demo"
            )
        assert server.hits == ["/demo.whl", "/demo.whl"]
