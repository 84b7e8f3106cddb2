"""Fixtures of the end-to-end tests: a real private index server, pypiserver on loopback.

pypiserver runs from its own environment, ``.venv-pypiserver``, which ``scripts/bootstrap``
installs from the hash-locked ``requirements/pypiserver.txt`` (``SAFE_PIP_TEST_PYPISERVER``
may name another ``pypi-server`` executable).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SafePip

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


@pytest.fixture
def launch(safe_pip: SafePip) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``safe-pip`` in the background; whatever still runs at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        started.append(safe_pip.start(*args))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def wait_for(
    reached: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 120
) -> None:
    """Wait until ``reached()``; fail the test if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not reached():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"safe-pip ended before {what}: {out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"safe-pip never reached {what}")
        time.sleep(0.01)
