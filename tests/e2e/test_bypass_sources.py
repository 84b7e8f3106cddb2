"""End to end: what a remote source may point at, and how fast an interrupt stops a stall.

A remote index page (PEP 691 JSON or PEP 503 HTML, or a remote find-links
page) that lists a ``file:`` URL made safe-pip install a file from the local disk, or read
any local file as a wheel's metadata, hand it to pip and send the names in it to the
sources. Only the user's own ``file:`` sources and local find-links may name local files;
from any other source such a URL is a source error, judged on the URL after it was joined
exactly as the fetching code joins it.

With a source that accepts connections and never answers, Ctrl-C or
SIGTERM must end safe-pip within a second, with status 130, no traceback and the
environment as it was, whether the stall is in resolution or in the download stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.e2e.conftest import wait_for
from tests.support.environments import snapshot
from tests.support.index import PackageIndex

WheelFactory = Callable[..., Path]

# A module that leaves a marker when it is imported: proof that the local file was installed.
_CANARY = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"


def _install(safe_pip: SafePip, venv: Venv, *args: str) -> subprocess.CompletedProcess[str]:
    return safe_pip("--python", str(venv.python), "install", "--retries", "0", *args)


def _serve_page(server: PackageIndex, project: str, content_type: str, body: str) -> None:
    """Make the index answer ``project``'s page with this body, as a hostile index would."""
    server.page_override[project] = (content_type, body.encode())


@pytest.fixture
def local_canary(tmp_path: Path, wheel: WheelFactory) -> tuple[Path, Path]:
    """``(wheel, marker)``: a wheel on the local disk, not on any index, whose module writes
    ``marker`` when imported."""
    marker = tmp_path / "canary-ran"
    path = wheel("evil", "1.0", files={"evil/__init__.py": _CANARY.format(marker=str(marker))})
    return path, marker


def _json_page(filename: str, url: str, sha256: str, **extra: object) -> str:
    entry = {"filename": filename, "url": url, "hashes": {"sha256": sha256}, **extra}
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "evil", "files": [entry]})


def _refused_as_source_error(
    result: subprocess.CompletedProcess[str], venv: Venv, marker: Path, source: str
) -> None:
    assert result.returncode == 3, result.stdout + result.stderr
    assert "local file" in result.stderr and source.rstrip("/") in result.stderr
    assert "Traceback" not in result.stderr
    assert venv.installed() == {}
    assert venv.run("import evil").returncode != 0
    assert not marker.exists()


class TestRemotePagesNameOnlyRemoteFiles:
    @pytest.mark.parametrize(
        "spell",
        [
            lambda path: path.as_uri(),
            lambda path: "FILE://" + str(path),
            lambda path: "file://localhost" + str(path),
            lambda path: " file:" + str(path),
        ],
        ids=["file-uri", "upper-case", "localhost-host", "leading-space"],
    )
    def test_a_json_page_listing_a_local_wheel_is_a_source_error(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        local_canary: tuple[Path, Path],
        spell: Callable[[Path], str],
    ) -> None:
        path, marker = local_canary
        server = index()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        _serve_page(
            server,
            "evil",
            "application/vnd.pypi.simple.v1+json",
            _json_page(path.name, spell(path), digest),
        )
        result = _install(safe_pip, venv, "-i", server.url, "evil")
        _refused_as_source_error(result, venv, marker, server.url)

    @pytest.mark.parametrize("base", [True, False], ids=["base-href", "absolute-href"])
    def test_an_html_page_listing_a_local_wheel_is_a_source_error(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        local_canary: tuple[Path, Path],
        base: bool,
    ) -> None:
        path, marker = local_canary
        server = index()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        # With <base>, the relative href only becomes a file: URL once it is joined.
        head = f'<base href="{path.parent.as_uri()}/">' if base else ""
        href = path.name if base else path.as_uri()
        body = f'<html><head>{head}</head><body><a href="{href}#sha256={digest}">x</a></body>'
        _serve_page(server, "evil", "text/html", body)
        result = _install(safe_pip, venv, "-i", server.url, "evil")
        _refused_as_source_error(result, venv, marker, server.url)

    def test_a_remote_find_links_page_listing_a_local_wheel_is_a_source_error(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        local_canary: tuple[Path, Path],
    ) -> None:
        path, marker = local_canary
        server = index()
        # No hash at all: a local find-links file would be hashed on the spot.
        _serve_page(server, "links", "text/html", f'<a href="{path.as_uri()}">evil</a>')
        links = server.url + "links/"
        result = _install(safe_pip, venv, "--no-index", "-f", links, "evil")
        _refused_as_source_error(result, venv, marker, links)

    def test_core_metadata_never_reads_a_local_file(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        tmp_path: Path,
    ) -> None:
        # The query makes '<url>.metadata' read the same local file: any file can be read
        # as metadata, and the names in it are sent to the sources as dependencies.
        secret = tmp_path / "secret.txt"
        secret.write_text(
            "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\nRequires-Dist: s3cret\n"
        )
        server = index()
        page = _json_page(
            "evil-1.0-py3-none-any.whl", secret.as_uri() + "?", "0" * 64, **{"core-metadata": True}
        )
        _serve_page(server, "evil", "application/vnd.pypi.simple.v1+json", page)
        result = _install(safe_pip, venv, "-i", server.url, "evil")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "local file" in result.stderr and server.url.rstrip("/") in result.stderr
        assert "Traceback" not in result.stderr
        assert not server.asked("s3cret")
        assert venv.installed() == {}


class TestLocalSourcesStillNameLocalFiles:
    def test_a_file_index_may_list_local_and_remote_files(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: WheelFactory,
        tmp_path: Path,
    ) -> None:
        local = wheel("alpha", "1.0", requires=["beta"])
        remote = index()
        remote_wheel = wheel("beta", "1.0")
        remote.add(remote_wheel)
        root = tmp_path / "file-index"
        for name, path, url in (
            ("alpha", local, local.as_uri()),
            ("beta", remote_wheel, remote.url.replace("/simple/", f"/files/{remote_wheel.name}")),
        ):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            (root / name).mkdir(parents=True)
            (root / name / "index.html").write_text(f'<a href="{url}#sha256={digest}">f</a>')
        result = _install(safe_pip, venv, "-i", root.as_uri(), "alpha")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}


# -- interrupts ----------------------------------------------------------------------------


class _SilentServer:
    """Accepts TCP connections on loopback and never answers (a stalled source)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self.connected = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/simple/"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)
            self.connected.set()

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[_SilentServer]:
    server = _SilentServer()
    yield server
    server.close()


@pytest.fixture
def stalled_download(
    index: Callable[..., PackageIndex], wheel: WheelFactory
) -> Iterator[PackageIndex]:
    """An index whose pages and metadata answer, and whose wheel downloads never do."""
    release = threading.Event()
    server = index(downloads_held=release)
    server.add(wheel("alpha", "1.0"))
    yield server
    release.set()


_INTERRUPTS = pytest.mark.parametrize(
    "interrupt",
    [
        lambda process: os.killpg(process.pid, signal.SIGINT),
        lambda process: process.send_signal(signal.SIGINT),
        lambda process: process.send_signal(signal.SIGTERM),
    ],
    ids=["ctrl-c-to-the-process-group", "sigint", "sigterm"],
)


def _stops_at_once(
    process: subprocess.Popen[str], interrupt: Callable[[subprocess.Popen[str]], None]
) -> str:
    interrupt(process)
    sent = time.monotonic()
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("safe-pip was still running 30 s after the interrupt")
    took = time.monotonic() - sent
    assert process.returncode == 130, err
    assert took < 1.0, f"safe-pip took {took:.2f} s to stop"
    assert "Operation cancelled by user" in err
    assert "Traceback" not in err
    return err


@_INTERRUPTS
def test_an_interrupt_stops_a_stalled_resolution_at_once(
    venv: Venv,
    silent: _SilentServer,
    launch: Callable[..., subprocess.Popen[str]],
    interrupt: Callable[[subprocess.Popen[str]], None],
) -> None:
    before = snapshot(venv.path)
    process = launch("--python", str(venv.python), "install", "-i", silent.url, "alpha")
    wait_for(silent.connected.is_set, process, "a connection to the stalled source")
    _stops_at_once(process, interrupt)
    assert snapshot(venv.path) == before


@_INTERRUPTS
def test_an_interrupt_stops_a_stalled_download_at_once(
    venv: Venv,
    stalled_download: PackageIndex,
    launch: Callable[..., subprocess.Popen[str]],
    interrupt: Callable[[subprocess.Popen[str]], None],
) -> None:
    before = snapshot(venv.path)
    process = launch("--python", str(venv.python), "install", "-i", stalled_download.url, "alpha")
    wait_for(
        lambda: any(path.endswith(".whl") for path in stalled_download.requests),
        process,
        "the download of the wheel",
    )
    _stops_at_once(process, interrupt)
    assert snapshot(venv.path) == before
