"""End to end against a real private index server: pypiserver, started on loopback.

pypiserver runs from its own environment, ``.venv-pypiserver``, which ``scripts/bootstrap``
installs from the hash-locked ``requirements/pypiserver.txt`` (``SAFE_PIP_TEST_PYPISERVER``
may name another ``pypi-server`` executable).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SafePip, Venv
from tests.support.index import PackageIndex

ROOT = Path(__file__).resolve().parents[2]


def _pypiserver_command() -> str:
    configured = os.environ.get("SAFE_PIP_TEST_PYPISERVER")
    candidate = (
        Path(configured) if configured else ROOT / ".venv-pypiserver" / "bin" / "pypi-server"
    )
    if not candidate.exists():
        pytest.fail(f"pypiserver is not installed at {candidate}; run scripts/bootstrap")
    return str(candidate)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PypiServer:
    directory: Path
    url: str

    def add(self, path: Path) -> None:
        shutil.copy(path, self.directory / path.name)


@pytest.fixture
def pypiserver(tmp_path: Path) -> Iterator[Callable[..., PypiServer]]:
    """``pypiserver(fallback=None)`` starts a server; ``fallback`` enables its redirect."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(fallback: str | None = None) -> PypiServer:
        directory = tmp_path / f"pypiserver-{len(processes)}"
        directory.mkdir()
        port = _free_port()
        command = [
            _pypiserver_command(),
            "run",
            "-p",
            str(port),
            "-i",
            "127.0.0.1",
            "-a",
            ".",
            "-P",
            ".",
            "--hash-algo",
            "sha256",
            "--log-stream",
            "none",
        ]
        command += ["--fallback-url", fallback] if fallback else ["--disable-fallback"]
        processes.append(subprocess.Popen([*command, str(directory)]))
        url = f"http://127.0.0.1:{port}/simple/"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("pypiserver did not start")
                time.sleep(0.1)
        return PypiServer(directory, url)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_private_server_wins_a_name_collision(
    safe_pip: SafePip,
    venv: Venv,
    pypiserver: Callable[..., PypiServer],
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
) -> None:
    private = pypiserver()
    private.add(wheel("corp-internal", "1.0"))
    public = index()
    public.add(wheel("corp-internal", "99.0"))
    public.add(wheel("public-lib", "2.0"))
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        public.url,
        "--extra-index-url",
        private.url,
        "corp-internal",
        "public-lib",
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"corp-internal": "1.0", "public-lib": "2.0"}
    assert not public.asked("corp-internal")


def test_server_redirecting_unknown_names_is_an_error(
    safe_pip: SafePip,
    venv: Venv,
    pypiserver: Callable[..., PypiServer],
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
) -> None:
    public = index()
    public.add(wheel("public-lib", "2.0"))
    # Without --disable-fallback pypiserver redirects names it lacks to another index;
    # here that index is a second loopback server, so nothing leaves the machine.
    private = pypiserver(fallback=public.url)
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        public.url,
        "--extra-index-url",
        private.url,
        "public-lib",
    )
    assert result.returncode == 1
    assert "redirected" in result.stderr and "--disable-fallback" in result.stderr
    assert private.url.split("/simple")[0].split("//")[1] in result.stderr
    assert not public.asked("public-lib")
    assert venv.installed() == {}
