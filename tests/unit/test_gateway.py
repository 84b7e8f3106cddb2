from __future__ import annotations

import hashlib
import io
import json
import zipfile
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.cache import FileCache
from safe_pip.errors import SourceError
from safe_pip.fetch import Fetcher
from safe_pip.gateway import Gateway
from safe_pip.models import DistKind, IndexFile, ProjectPage, SourceSpec
from safe_pip.network import NetworkOptions
from safe_pip.selection import FilePolicy, SourceSelector
from safe_pip.sources import Upstream

SOURCE = SourceSpec("upstream", "https://idx.example/simple", username="u", password="hunter2")


def _wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
    return buffer.getvalue()


WHEEL = _wheel()
SHA = hashlib.sha256(WHEEL).hexdigest()
FILES = (
    IndexFile(
        "demo-1.0-py3-none-any.whl",
        "https://files.example/demo.whl",
        canonicalize_name("demo"),
        Version("1.0"),
        DistKind.WHEEL,
        SHA,
        requires_python=">=3.9",
    ),
    IndexFile(
        "demo-1.1.tar.gz",
        "https://files.example/demo.tar.gz",
        canonicalize_name("demo"),
        Version("1.1"),
        DistKind.SDIST,
        "b" * 64,
    ),
)


class _Upstream(Upstream):
    def __init__(self, fail: bool = False) -> None:
        client = httpx.Client(
            transport=httpx.MockTransport(
                lambda r: (
                    httpx.Response(200, content=WHEEL)
                    if r.url.path == "/demo.whl"
                    else httpx.Response(404)
                )
            )
        )
        super().__init__(client, NetworkOptions(retries=0))
        self.fail = fail

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        if self.fail:
            raise SourceError("upstream exploded")
        return ProjectPage(name, source, FILES) if name == "demo" else None


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    upstream = _Upstream()
    selector = SourceSelector(upstream, [SOURCE], [], FilePolicy())
    return Gateway(selector, Fetcher(upstream, FileCache(tmp_path)))


def _token(gateway: Gateway) -> str:
    return gateway.base_url.rsplit("/", 1)[1]


class TestRouting:
    def test_listens_on_loopback_with_a_secret_path(self, gateway: Gateway) -> None:
        with gateway:
            assert gateway.index_url.startswith("http://127.0.0.1:")
            assert len(_token(gateway)) >= 32
            assert gateway.handle("/simple/demo/").status is HTTPStatus.NOT_FOUND
            assert gateway.handle("/wrong-token/simple/demo/").status is HTTPStatus.NOT_FOUND

    def test_project_page_is_pep691_with_only_policy_files(self, gateway: Gateway) -> None:
        with gateway:
            reply = gateway.handle(f"/{_token(gateway)}/simple/Demo/")
            assert reply.status is HTTPStatus.OK
            assert reply.content_type == "application/vnd.pypi.simple.v1+json"
            page = json.loads(reply.body)
            (entry,) = page["files"]
            assert entry["filename"] == "demo-1.0-py3-none-any.whl"
            assert entry["url"] == f"{gateway.base_url}/files/{SHA}/demo-1.0-py3-none-any.whl"
            assert entry["hashes"] == {"sha256": SHA}
            assert entry["core-metadata"] is True and entry["requires-python"] == ">=3.9"
            assert (
                "hunter2" not in reply.body.decode() and "files.example" not in reply.body.decode()
            )

    def test_unknown_project_is_404(self, gateway: Gateway) -> None:
        with gateway:
            assert (
                gateway.handle(f"/{_token(gateway)}/simple/ghost/").status is HTTPStatus.NOT_FOUND
            )

    def test_serves_only_listed_files_verified(self, gateway: Gateway) -> None:
        with gateway:
            token = _token(gateway)
            assert (
                gateway.handle(f"/{token}/files/{'b' * 64}/demo-1.1.tar.gz").status
                is HTTPStatus.NOT_FOUND
            )
            gateway.handle(f"/{token}/simple/demo/")
            reply = gateway.handle(f"/{token}/files/{SHA}/demo-1.0-py3-none-any.whl")
            assert reply.path is not None and reply.path.read_bytes() == WHEEL
            metadata = gateway.handle(f"/{token}/files/{SHA}/demo-1.0-py3-none-any.whl.metadata")
            assert metadata.body.startswith(b"Name: demo")

    def test_over_http(self, gateway: Gateway) -> None:
        with gateway:
            response = httpx.get(gateway.index_url + "demo/")
            assert response.status_code == 200
            url = response.json()["files"][0]["url"]
            assert httpx.get(url).content == WHEEL
            assert gateway.lookup_url(url) is not None

    def test_stops_listening_after_the_command(self, gateway: Gateway) -> None:
        with gateway:
            url = gateway.index_url
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)


def test_an_upstream_failure_is_recorded_as_fatal(tmp_path: Path) -> None:
    upstream = _Upstream(fail=True)
    gateway = Gateway(
        SourceSelector(upstream, [SOURCE], [], FilePolicy()), Fetcher(upstream, FileCache(tmp_path))
    )
    with gateway:
        reply = gateway.handle(f"/{_token(gateway)}/simple/demo/")
        assert reply.status is HTTPStatus.BAD_GATEWAY
        assert gateway.failed.is_set()
        assert isinstance(gateway.failure, SourceError)
