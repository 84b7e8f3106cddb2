"""Shared fixtures: a scrubbed environment, wheel/sdist factories, loopback indexes, venvs,
and a runner for the installed ``safe-pip`` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.dists import WheelSpec, build_sdist, build_wheel
from tests.support.index import PackageIndex

# A loopback port nothing listens on: a test that forgets -i fails fast instead of
# reaching the internet.
DEAD_INDEX = "http://127.0.0.1:9/simple/"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-network", action="store_true", help="also run tests that use the real PyPI"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="uses the real PyPI; run with --run-network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _scrubbed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the machine's pip configuration or safe-pip state."""
    for key in list(os.environ):
        if key.startswith(("PIP_", "SAFE_PIP_")) or key in ("VIRTUAL_ENV", "CI", "NETRC"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("SAFE_PIP_HOME", str(tmp_path / "safe-pip-home"))


@dataclass
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        major, minor = sys.version_info[:2]
        return self.path / "lib" / f"python{major}.{minor}" / "site-packages"

    def installed(self) -> dict[str, str]:
        """``{dist-info name: version}`` of everything in site-packages."""
        found = {}
        for entry in self.site_packages.glob("*.dist-info"):
            name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
            found[name.lower().replace("_", "-")] = version
        return found

    def run(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, check=False, timeout=60
        )


def make_venv(path: Path) -> Venv:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60
    )
    return Venv(path)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[str]]:
    """Every process started while the test runs."""
    processes: list[subprocess.Popen[str]] = []
    real = subprocess.Popen

    def recording(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        process = real(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", recording)
    return processes


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    """A fresh virtual environment without pip."""
    return make_venv(tmp_path / "venv")


@pytest.fixture
def wheel(tmp_path: Path) -> Callable[..., Path]:
    """``wheel(name, version, **WheelSpec fields)`` builds a wheel under tmp_path/dists."""

    def build(name: str, version: str, **kwargs: Any) -> Path:
        return build_wheel(tmp_path / "dists", WheelSpec(name, version, **kwargs))

    return build


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    """Where marker build backends record that they ran."""
    return tmp_path / "markers"


@pytest.fixture
def sdist(tmp_path: Path, markers: Path) -> Callable[..., Path]:
    """``sdist(name, version, requires=(), build_requires=())`` builds a marker sdist."""

    def build(
        name: str, version: str, requires: Sequence[str] = (), build_requires: Sequence[str] = ()
    ) -> Path:
        return build_sdist(tmp_path / "dists", name, version, markers, requires, build_requires)

    return build


@pytest.fixture
def index() -> Iterator[Callable[..., PackageIndex]]:
    """``index(flavour="json"|"html", pep658=True, auth=None)`` starts a loopback index."""
    started: list[PackageIndex] = []

    def start(**kwargs: Any) -> PackageIndex:
        server = PackageIndex(**kwargs).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def _safe_pip_command() -> list[str]:
    script = Path(sys.executable).parent / "safe-pip"
    if script.exists():
        return [str(script)]
    found = shutil.which("safe-pip")
    if found is None:
        pytest.fail("the safe-pip command is not installed in the test environment")
    return [found]


@dataclass
class SafePip:
    """Runs the installed ``safe-pip`` command with an isolated home and no pip config.

    Every first-seen project is approved (``SAFE_PIP_TRUST=:all:``) unless ``trust_all`` is
    off: the commands run without a terminal, where first-seen projects are refused.
    """

    home: Path
    cwd: Path
    trust_all: bool = True

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PIP_", "SAFE_PIP_")) and key not in ("VIRTUAL_ENV", "CI")
        }
        env.update(
            {
                "HOME": str(self.home / "user"),
                "SAFE_PIP_HOME": str(self.home / "safe-pip-home"),
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_INDEX_URL": DEAD_INDEX,
                "NO_COLOR": "1",
            }
        )
        if self.trust_all:
            env["SAFE_PIP_TRUST"] = ":all:"
        env.update(extra or {})
        return env

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_safe_pip_command(), *args],
            cwd=self.cwd,
            env=self.env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def audit_log(self) -> list[dict[str, str]]:
        """The audit log's entries, oldest first (none before a command wrote one)."""
        path = self.home / "safe-pip-home" / "audit.log"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start the command in its own session (so a test can signal its process group)."""
        return subprocess.Popen(
            [*_safe_pip_command(), *args],
            cwd=self.cwd,
            env=self.env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def install(
    safe_pip: SafePip,
    venv: Venv,
    served: PackageIndex,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``safe-pip --python VENV install -i SERVED ARGS...``: the command most tests run."""
    return safe_pip("--python", str(venv.python), "install", "-i", served.url, *args, env=env)


def install_trusted(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, *args: str
) -> subprocess.CompletedProcess[str]:
    """:func:`install` with ``--trust :all:`` on the command line: only the checks of the
    files themselves stand in the way."""
    return install(safe_pip, venv, served, "--trust", ":all:", *args)


@pytest.fixture
def safe_pip(tmp_path: Path) -> SafePip:
    (tmp_path / "home" / "user").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    return SafePip(tmp_path / "home", work)
