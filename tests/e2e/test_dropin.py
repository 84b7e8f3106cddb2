"""End to end: outside a virtual environment safe-pip works on the Python the user means
(the first python3 on PATH), says which, and never breaks the environment it runs from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

from safe_pip.install.installed import own_dependencies
from tests.conftest import SafePip, Venv, make_venv
from tests.support.index import PackageIndex


def _path_first(directory: Path) -> dict[str, str]:
    return {"PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    server = index()
    server.add(wheel("beta", "1.0"))
    server.add(wheel("rich", "12.0.0"))
    return server


class TestTargetOutsideAVenv:
    def test_the_first_python3_on_path_is_the_target(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        env = _path_first(venv.path / "bin")
        planned = safe_pip("install", "--dry-run", "-i", served.url, "beta", env=env)
        assert planned.returncode == 0, planned.stderr
        assert f"Target: {venv.path / 'bin' / 'python3'} (the first python3 on PATH)" in (
            planned.stdout
        )
        result = safe_pip("install", "-i", served.url, "beta", env=env)
        assert result.returncode == 0, result.stderr
        assert "the first python3 on PATH" in result.stdout
        assert venv.installed() == {"beta": "1.0"}
        # Pass-through commands follow the same choice.
        listed = safe_pip("list", "--format=freeze", env=env)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == ["beta==1.0"]

    def test_an_active_venv_still_wins(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, tmp_path: Path
    ) -> None:
        other = make_venv(tmp_path / "other")
        env = {**_path_first(other.path / "bin"), "VIRTUAL_ENV": str(venv.path)}
        result = safe_pip("install", "-i", served.url, "beta", env=env)
        assert result.returncode == 0, result.stderr
        assert "Target:" not in result.stdout  # the active venv is what the user means
        assert venv.installed() == {"beta": "1.0"} and other.installed() == {}

    def test_the_target_line_names_the_interpreter_installed_into(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, tmp_path: Path
    ) -> None:
        # pip's configuration is read from the target's environment, so cannot choose it:
        # a `python` setting there must not change the interpreter the plan names.
        other = make_venv(tmp_path / "other")
        env = {**_path_first(venv.path / "bin"), "PIP_PYTHON": str(other.path)}
        result = safe_pip("install", "-i", served.url, "beta", env=env)
        assert result.returncode == 0, result.stderr
        assert f"Target: {venv.path / 'bin' / 'python3'} (the first python3 on PATH)" in (
            result.stdout
        )
        assert venv.installed() == {"beta": "1.0"} and other.installed() == {}

    def test_requirement_already_satisfied_under_user(
        self, safe_pip: SafePip, served: PackageIndex, tmp_path: Path
    ) -> None:
        # The environment has beta; `--user` finds it there, as pip does, and says so.
        shared = tmp_path / "shared"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", shared],
            check=True,
            timeout=60,
        )
        python = str(shared / "bin" / "python")
        assert safe_pip("--python", python, "install", "-i", served.url, "beta").returncode == 0
        again = safe_pip("--python", python, "install", "--user", "-i", served.url, "beta")
        assert again.returncode == 0, again.stderr
        assert "Requirement already satisfied: beta in " in again.stdout
        assert "(1.0)" in again.stdout


def test_using_cached_only_for_a_file_cached_before(
    safe_pip: SafePip,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    tmp_path: Path,
) -> None:
    # Without PEP 658 metadata pip fetches the wheel (through the gateway, into the cache)
    # while it resolves: the install then finds it there, but it was downloaded now.
    served = index(pep658=False)
    served.add(wheel("beta", "1.0"))
    first, second, third = (make_venv(tmp_path / name) for name in ("a", "b", "c"))
    args = ("install", "-i", served.url, "beta")
    fresh = safe_pip("--python", str(first.python), *args)
    assert fresh.returncode == 0, fresh.stderr
    assert "Using cached" not in fresh.stdout and "Downloading beta-1.0" in fresh.stdout
    again = safe_pip("--python", str(second.python), *args)
    assert "Using cached beta-1.0-py3-none-any.whl" in again.stdout
    uncached = safe_pip("--python", str(third.python), "--no-cache-dir", *args)
    assert uncached.returncode == 0, uncached.stderr
    assert "Using cached" not in uncached.stdout


@pytest.fixture(scope="module")
def own_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment safe-pip runs from: safe-pip and every dependency copied in
    from the test environment (no network, no pip run)."""
    root = tmp_path_factory.mktemp("own") / "venv"
    target = make_venv(root).site_packages
    for name in ["safe-pip", *own_dependencies()]:
        dist = metadata.distribution(name)
        base = Path(str(dist.locate_file("")))
        for file in dist.files or ():
            source = base / file
            if source.is_file() and not str(file).startswith(".."):
                destination = target / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
    yield root


def _run_own(
    own_venv: Path, safe_pip: SafePip, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``safe-pip`` run from ``own_venv``, outside any active venv (by default with its
    python first on PATH)."""
    return subprocess.run(
        [str(own_venv / "bin" / "python"), "-m", "safe_pip", *args],
        cwd=safe_pip.cwd,
        env=safe_pip.env(env or _path_first(own_venv / "bin")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _still_runs(own_venv: Path, safe_pip: SafePip) -> None:
    version = _run_own(own_venv, safe_pip, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("safe-pip ")


class TestNeverBreaksItself:
    def test_uninstalling_its_own_dependency_is_refused(
        self, own_venv: Path, safe_pip: SafePip
    ) -> None:
        result = _run_own(own_venv, safe_pip, "uninstall", "-y", "rich")
        assert result.returncode == 2, result.stderr
        assert "safe-pip will not uninstall rich" in result.stderr
        assert "rich>=" in result.stderr and "virtual environment" in result.stderr
        assert "python -m pip" in result.stderr
        _still_runs(own_venv, safe_pip)

    def test_a_downgrade_below_its_requirement_is_refused(
        self, own_venv: Path, safe_pip: SafePip, served: PackageIndex
    ) -> None:
        result = _run_own(own_venv, safe_pip, "install", "-i", served.url, "rich==12.0.0")
        assert result.returncode == 2, result.stderr
        assert "safe-pip will not install rich 12.0.0" in result.stderr
        assert "rich>=13.7 (required by safe-pip)" in result.stderr
        _still_runs(own_venv, safe_pip)

    def test_its_own_environment_is_still_a_target(
        self, own_venv: Path, safe_pip: SafePip, served: PackageIndex
    ) -> None:
        # Installed into an image's Python and used for the image's requirements: fine.
        result = _run_own(own_venv, safe_pip, "install", "-i", served.url, "beta")
        assert result.returncode == 0, result.stderr
        assert list(own_venv.glob("lib/python*/site-packages/beta-1.0.dist-info"))
        removed = _run_own(own_venv, safe_pip, "uninstall", "-y", "beta")
        assert removed.returncode == 0, removed.stderr
        _still_runs(own_venv, safe_pip)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "docker"


def _pinned(lock: Path) -> dict[str, str]:
    """``{name: version}`` of a hash-locked requirements file; every line has a hash."""
    pins = {}
    for block in lock.read_text().replace("\\\n", " ").splitlines():
        if not block.strip() or block.lstrip().startswith("#"):
            continue
        requirement, _, options = block.partition(" ")
        assert "--hash=sha256:" in options, block
        name, _, version = requirement.partition("==")
        pins[name] = version
    return pins


class TestDockerExample:
    """The steps of examples/docker/Dockerfile, without Docker."""

    def test_safe_pip_is_installed_from_a_hash_lock(self) -> None:
        pins = _pinned(EXAMPLE / "safe-pip.txt")
        assert set(own_dependencies()) <= set(pins) and "flit-core" in pins
        dockerfile = (EXAMPLE / "Dockerfile").read_text()
        assert "--require-hashes" in dockerfile and "--only-binary :all:" in dockerfile
        assert "SAFE_PIP_HOME=" in dockerfile and "CI=1" in dockerfile
        assert "RUN safe-pip install --require-hashes -r /app/requirements.txt" in dockerfile
        assert set(_pinned(EXAMPLE / "requirements.txt")) == {"attrs", "click"}

    def test_the_locked_requirements_install_unattended(
        self,
        own_venv: Path,
        safe_pip: SafePip,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        tmp_path: Path,
    ) -> None:
        image = make_venv(tmp_path / "image")  # the image's Python: first python3 on PATH
        served = index()
        served.add(wheel("attrs", "26.1.0"))
        served.add(wheel("click", "8.5.1"))
        served.add(wheel("click", "9.0.0"))
        (safe_pip.cwd / "requirements.in").write_text("click<9\nattrs\n")
        safe_pip.trust_all = False  # the hash pins alone approve
        env = {**_path_first(image.path / "bin"), "PIP_INDEX_URL": served.url, "CI": "1"}
        locked = _run_own(
            own_venv, safe_pip, "lock", "-r", "requirements.in", "-o", "requirements.txt", env=env
        )
        assert locked.returncode == 0, locked.stderr
        assert _pinned(safe_pip.cwd / "requirements.txt") == {"attrs": "26.1.0", "click": "8.5.1"}
        result = _run_own(
            own_venv, safe_pip, "install", "--require-hashes", "-r", "requirements.txt", env=env
        )
        assert result.returncode == 0, result.stderr
        assert f"Target: {image.path / 'bin' / 'python3'}" in result.stdout
        assert image.installed() == {"attrs": "26.1.0", "click": "8.5.1"}
        assert not list(own_venv.glob("lib/python*/site-packages/click*"))
        home = safe_pip.home / "safe-pip-home"
        assert (home / "trust.json").is_file() and (home / "audit.log").is_file()
        # Anything not hash-pinned stops the build; nothing waits for an answer.
        (safe_pip.cwd / "requirements.txt").write_text("click==9.0.0\n")
        refused = _run_own(
            own_venv, safe_pip, "install", "--require-hashes", "-r", "requirements.txt", env=env
        )
        assert refused.returncode == 3, refused.stderr
        assert "Hashes are required in --require-hashes mode" in refused.stderr
        assert image.installed()["click"] == "8.5.1"

    @pytest.mark.network
    def test_the_bootstrap_from_the_real_index(self, tmp_path: Path) -> None:
        """Step 1 as the Dockerfile runs it: plain pip, by hash, from the real index."""
        venv = tmp_path / "safe-pip-venv"
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir"]
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
        for args in (
            ["--require-hashes", "--only-binary", ":all:", "-r", str(EXAMPLE / "safe-pip.txt")],
            ["--no-deps", "--no-index", "--no-build-isolation", str(EXAMPLE.parents[1])],
        ):
            done = subprocess.run(
                [*pip, *args], env=env, capture_output=True, text=True, timeout=600, check=False
            )
            assert done.returncode == 0, done.stdout + done.stderr
        version = subprocess.run(
            [str(venv / "bin" / "safe-pip"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert version.stdout.startswith("safe-pip ")
