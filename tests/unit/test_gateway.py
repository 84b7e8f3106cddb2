from __future__ import annotations

import gc
import hashlib
import io
import json
import threading
import time
import weakref
import zipfile
from concurrent.futures import CancelledError
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from packaging.tags import parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import FirstSeenRefused, SourceError
from safe_pip.gateway.cache import FileCache
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.listener import LoopbackServer
from safe_pip.gateway.network import NetworkOptions
from safe_pip.gateway.selection import Compatibility, SourceSelector, filter_files
from safe_pip.gateway.served import ServedLedger
from safe_pip.gateway.server import BeforeDownload, Gateway, ServedFile
from safe_pip.gateway.sources import Upstream
from safe_pip.install.fetch import Fetcher
from safe_pip.models import DistKind, IndexFile, ProjectPage, SourceSpec
from tests.support.files import demo_wheel

SOURCE = SourceSpec("upstream", "https://idx.example/simple", username="u", password="hunter2")


def _wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
    return buffer.getvalue()


WHEEL = _wheel()
SHA = hashlib.sha256(WHEEL).hexdigest()
FILES = (
    demo_wheel(SHA, requires_python=">=3.9"),
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

    def test_listens_only_while_open_and_answers_only_behind_its_token(
        self, gateway: Gateway
    ) -> None:
        with gateway, httpx.Client() as client:
            index_url = gateway.index_url
            assert client.get(f"{index_url}demo/").status_code == HTTPStatus.OK
            host = index_url.split("/")[2]
            assert client.get(f"http://{host}/simple/demo/").status_code == 404
        with httpx.Client() as client, pytest.raises(httpx.ConnectError):
            client.get(f"{index_url}demo/")

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


class _BuggyUpstream(_Upstream):
    """A source whose page makes the reading code fail in a way no check foresaw."""

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        raise AttributeError("'list' object has no attribute 'get'")


def test_an_unexpected_error_is_a_recorded_failure_naming_project_and_source(
    tmp_path: Path,
) -> None:
    """Not a server traceback and an error page, which pip retries and then takes for a
    project no source knows: the command stops, naming what failed where."""
    upstream = _BuggyUpstream()
    gateway = Gateway(
        SourceSelector(upstream, [SOURCE], [], FilePolicy()), Fetcher(upstream, FileCache(tmp_path))
    )
    with gateway:
        reply = gateway.handle(f"/{_token(gateway)}/simple/Demo/")
        assert reply.status is HTTPStatus.BAD_GATEWAY
        assert gateway.failed.is_set()
        assert isinstance(gateway.failure, SourceError)
        message = str(gateway.failure)
        assert "'demo'" in message
        assert str(SOURCE) in message
        assert "AttributeError" in message
        assert "hunter2" not in message


def test_an_unexpected_error_serving_a_file_names_the_file_and_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = _Upstream()
    fetcher = Fetcher(upstream, FileCache(tmp_path))
    gateway = Gateway(SourceSelector(upstream, [SOURCE], [], FilePolicy()), fetcher)

    def broken(*_args: object) -> bytes:
        raise OSError(36, "File name too long")

    monkeypatch.setattr(fetcher, "metadata", broken)
    with gateway:
        assert gateway.project_json("demo") is not None
        reply = gateway.handle(f"/{_token(gateway)}/files/{SHA}/{FILES[0].filename}.metadata")
        assert reply.status is HTTPStatus.BAD_GATEWAY
        message = str(gateway.failure)
        assert FILES[0].filename in message
        assert str(SOURCE) in message
        assert "File name too long" in message


class _CountingUpstream(Upstream):
    """A source listing demo's wheel with its PEP 658 metadata file; it counts requests."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        super().__init__(
            httpx.Client(transport=httpx.MockTransport(self._answer)), NetworkOptions(retries=0)
        )

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if request.url.path == "/demo.whl":
            return httpx.Response(200, content=WHEEL)
        if request.url.path == "/demo.whl.metadata":
            return httpx.Response(200, content=b"Name: demo\nVersion: 1.0\n")
        return httpx.Response(404)

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        return ProjectPage(name, source, (demo_wheel(SHA, core_metadata=True),))


class TestLedger:
    def test_remembers_each_asked_project_once_in_order(self) -> None:
        ledger = ServedLedger()
        for name in ("b", "a", "b"):
            ledger.note_asked(canonicalize_name(name))
        assert ledger.asked == ("b", "a")

    def test_serves_only_listed_files_from_their_page_source(self) -> None:
        ledger = ServedLedger()
        page = ProjectPage(canonicalize_name("demo"), SOURCE, FILES)
        ledger.register(filter_files(page, FilePolicy()))
        assert ledger.file(SHA) == ServedFile(FILES[0], SOURCE)
        assert ledger.file("b" * 64) is None  # an sdist: withheld, so never servable


class TestBeforeDownload:
    def _gateway(self, tmp_path: Path, upstream: Upstream, check: BeforeDownload) -> Gateway:
        return Gateway(
            SourceSelector(upstream, [SOURCE], [], FilePolicy()),
            Fetcher(upstream, FileCache(tmp_path)),
            before_download=check,
        )

    def test_a_whole_file_is_reviewed_with_the_metadata_pip_was_served(
        self, tmp_path: Path
    ) -> None:
        upstream = _CountingUpstream()
        reviewed: list[tuple[str, bytes]] = []
        gateway = self._gateway(
            tmp_path, upstream, lambda served, data: reviewed.append((served.file.filename, data))
        )
        with gateway:
            token = _token(gateway)
            gateway.handle(f"/{token}/simple/demo/")
            gateway.handle(f"/{token}/files/{SHA}/demo-1.0-py3-none-any.whl.metadata")
            reply = gateway.handle(f"/{token}/files/{SHA}/demo-1.0-py3-none-any.whl")
        assert reply.status is HTTPStatus.OK
        assert reviewed == [("demo-1.0-py3-none-any.whl", b"Name: demo\nVersion: 1.0\n")]
        assert upstream.asked.count("/demo.whl.metadata") == 1  # not fetched again

    def test_a_refused_file_is_never_downloaded(self, tmp_path: Path) -> None:
        upstream = _CountingUpstream()

        def refuse(*_args: object) -> None:
            raise FirstSeenRefused("demo is first-seen")

        gateway = self._gateway(tmp_path, upstream, refuse)
        with gateway:
            token = _token(gateway)
            gateway.handle(f"/{token}/simple/demo/")
            reply = gateway.handle(f"/{token}/files/{SHA}/demo-1.0-py3-none-any.whl")
        assert reply.status is HTTPStatus.BAD_GATEWAY
        assert isinstance(gateway.failure, FirstSeenRefused)
        assert "/demo.whl" not in upstream.asked


def _wheel_requiring(name: str, *requires: str) -> bytes:
    buffer = io.BytesIO()
    lines = "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}-1.0.dist-info/METADATA", f"Name: {name}\nVersion: 1.0\n{lines}")
    return buffer.getvalue()


class _GraphUpstream(Upstream):
    """``app`` needs ``lib``, and ``win-only``/``extra-only`` only where pip would not ask."""

    WHEELS: ClassVar[dict[str, bytes]] = {
        "app": _wheel_requiring(
            "app", "lib>=1", 'win-only; sys_platform == "win32"', 'extra-only; extra == "x"'
        ),
        "lib": _wheel_requiring("lib", "broken"),
    }

    def __init__(self, *, delay: float = 0.0) -> None:
        def reply(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(".metadata"):
                return httpx.Response(404)
            return httpx.Response(200, content=self.WHEELS[request.url.path.strip("/")[:-4]])

        super().__init__(httpx.Client(transport=httpx.MockTransport(reply)), NetworkOptions())
        self.delay = delay
        self.asked: list[str] = []

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        self.asked.append(name)
        time.sleep(self.delay)
        if name == "broken":
            raise SourceError("broken: the source answered 503")
        if name not in self.WHEELS:
            return None
        data = self.WHEELS[name]
        wheel = IndexFile(
            f"{name}-1.0-py3-none-any.whl",
            f"https://files.example/{name}.whl",
            name,
            Version("1.0"),
            DistKind.WHEEL,
            hashlib.sha256(data).hexdigest(),
            tags=frozenset(parse_tag("py3-none-any")),
        )
        return ProjectPage(name, source, (wheel,))


def _graph_gateway(upstream: _GraphUpstream, tmp_path: Path, *, follow: bool = True) -> Gateway:
    policy = FilePolicy(compatibility=Compatibility.from_tags(["py3-none-any"], None))
    selector = SourceSelector(upstream, [SOURCE], [], policy)
    fetcher = Fetcher(upstream, FileCache(tmp_path))
    return Gateway(selector, fetcher, follow_dependencies=follow)


def _wait_until_asked(upstream: _GraphUpstream, name: str) -> None:
    deadline = time.monotonic() + 10
    while name not in upstream.asked:
        assert time.monotonic() < deadline, f"{name} was never prefetched: {upstream.asked}"
        time.sleep(0.01)


class TestDependencyPrefetch:
    def test_dependencies_pip_will_ask_for_are_asked_ahead(self, tmp_path: Path) -> None:
        upstream = _GraphUpstream()
        gateway = _graph_gateway(upstream, tmp_path)
        with gateway:
            gateway.handle(f"/{_token(gateway)}/simple/app/")
            # lib's own dependency shows the prefetch follows the graph, not just one level.
            assert gateway.wait_idle(10)
            assert "broken" in upstream.asked
            assert "lib" in gateway.selector.answers
            assert "win-only" not in upstream.asked
            assert "extra-only" not in upstream.asked

    def test_a_closed_gateway_leaves_nothing_to_the_garbage_collector(self, tmp_path: Path) -> None:
        # Pages of thousands of files must go when the command is done with them; left in
        # a reference cycle, collecting them took a tenth of a second at exit.
        upstream = _GraphUpstream()
        gateway = _graph_gateway(upstream, tmp_path)
        gc.disable()
        try:
            with gateway:
                gateway.handle(f"/{_token(gateway)}/simple/app/")
                _wait_until_asked(upstream, "broken")
            gone = weakref.ref(gateway)
            del gateway
            assert gone() is None
        finally:
            gc.enable()

    def test_no_dependency_is_asked_ahead_when_pip_will_not_follow_them(
        self, tmp_path: Path
    ) -> None:
        upstream = _GraphUpstream()
        gateway = _graph_gateway(upstream, tmp_path, follow=False)
        with gateway:
            token = _token(gateway)
            gateway.handle(f"/{token}/simple/app/")
            # pip reads app's metadata, which is what sets off the asking ahead.
            sha = hashlib.sha256(_GraphUpstream.WHEELS["app"]).hexdigest()
            metadata = gateway.handle(f"/{token}/files/{sha}/app-1.0-py3-none-any.whl.metadata")
            assert b"Requires-Dist: lib>=1" in metadata.body
            assert gateway.wait_idle(10)
            assert upstream.asked == ["app"]

    def test_a_prefetched_project_is_asked_of_its_sources_once(self, tmp_path: Path) -> None:
        upstream = _GraphUpstream(delay=0.2)
        gateway = _graph_gateway(upstream, tmp_path)
        with gateway:
            token = _token(gateway)
            gateway.handle(f"/{token}/simple/app/")
            _wait_until_asked(upstream, "lib")
            # pip's own request arrives while the prefetch is still waiting on the source.
            assert gateway.handle(f"/{token}/simple/lib/").status is HTTPStatus.OK
        assert upstream.asked.count("lib") == 1

    def test_a_failed_prefetch_fails_nothing_until_pip_asks(self, tmp_path: Path) -> None:
        upstream = _GraphUpstream()
        gateway = _graph_gateway(upstream, tmp_path)
        with gateway:
            token = _token(gateway)
            gateway.handle(f"/{token}/simple/app/")
            _wait_until_asked(upstream, "broken")
            gateway.selector.select(canonicalize_name("lib"))
            assert gateway.failure is None
            assert gateway.handle(f"/{token}/simple/broken/").status is HTTPStatus.BAD_GATEWAY
            assert isinstance(gateway.failure, SourceError)


class TestBrokenConnections:
    def test_a_client_hanging_up_prints_no_traceback(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        server = LoopbackServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        try:
            try:
                raise BrokenPipeError(32, "Broken pipe")
            except BrokenPipeError:
                server.handle_error(None, ("127.0.0.1", 1))
            assert capsys.readouterr().err == ""
            try:
                raise KeyError("a bug")
            except KeyError:
                server.handle_error(None, ("127.0.0.1", 1))
            assert "KeyError" in capsys.readouterr().err
        finally:
            server.server_close()


class _StalledUpstream(Upstream):
    """A source that accepted the question and never answers (until released)."""

    def __init__(self) -> None:
        super().__init__(httpx.Client(), NetworkOptions())
        self.asked = threading.Event()
        self.release = threading.Event()

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        self.asked.set()
        self.release.wait(30)
        return None


class TestInterrupted:
    """An interrupted command waits for no request in flight: a stalled source cannot
    hold Ctrl-C up."""

    @pytest.mark.parametrize("error", [KeyboardInterrupt, SourceError])
    def test_a_stopped_command_does_not_wait_for_a_stalled_source(
        self, tmp_path: Path, error: type[BaseException]
    ) -> None:
        upstream = _StalledUpstream()
        selector = SourceSelector(upstream, [SOURCE], [], FilePolicy())
        gateway = Gateway(selector, Fetcher(upstream, FileCache(tmp_path)))
        try:
            with pytest.raises(error), gateway:
                gateway.ask_ahead([canonicalize_name("slow")])
                assert upstream.asked.wait(10)
                started = time.monotonic()
                raise error
            assert time.monotonic() - started < 0.5
        finally:
            upstream.release.set()

    def test_a_finished_command_still_lets_its_prefetches_end(self, tmp_path: Path) -> None:
        upstream = _StalledUpstream()
        selector = SourceSelector(upstream, [SOURCE], [], FilePolicy())
        gateway = Gateway(selector, Fetcher(upstream, FileCache(tmp_path)))
        with gateway:
            gateway.ask_ahead([canonicalize_name("slow")])
            assert upstream.asked.wait(10)
            threading.Timer(0.2, upstream.release.set).start()
        assert upstream.release.is_set()

    def test_an_abandoned_request_prints_no_traceback(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        server = LoopbackServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        server.stopping = True
        try:
            try:
                raise CancelledError
            except CancelledError:
                server.handle_error(None, ("127.0.0.1", 1))
            assert capsys.readouterr().err == ""
        finally:
            server.server_close()


class TestWaitIdle:
    def test_it_waits_for_a_prefetch_still_under_way(self, tmp_path: Path) -> None:
        upstream = _StalledUpstream()
        selector = SourceSelector(upstream, [SOURCE], [], FilePolicy())
        gateway = Gateway(selector, Fetcher(upstream, FileCache(tmp_path)))
        with gateway:
            assert gateway.wait_idle(0)
            gateway.ask_ahead([canonicalize_name("slow")])
            assert upstream.asked.wait(10)
            assert not gateway.wait_idle(0.05)
            upstream.release.set()
            assert gateway.wait_idle(10)
