from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pip
import pytest

from safe_pip.resolve.pip_process import PipAhead, pip_environment, start_pip
from tests.conftest import Venv

ENVIRON = {"PATH": os.environ.get("PATH", "/bin"), "HOME": os.environ.get("HOME", "/")}


class TestPipEnvironment:
    def test_pip_configuration_and_proxies_are_shut_out(self) -> None:
        env = pip_environment(
            {
                "PIP_INDEX_URL": "https://evil",
                "PIP_EXTRA_INDEX_URL": "x",
                "HTTPS_PROXY": "http://p",
                "no_proxy": "*",
                "PATH": "/bin",
            }
        )
        assert env == {"PATH": "/bin", "PIP_CONFIG_FILE": os.devnull, "PYTHONUNBUFFERED": "1"}


def _pip_debug(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return completed.stdout


def _runner(python: Path) -> list[str]:
    """How pip itself runs this copy of pip in another interpreter (``get_runnable_pip``)."""
    return [str(python), str(Path(pip.__file__).parent / "__pip-runner__.py")]


def _argv(process: subprocess.Popen[str]) -> list[str]:
    assert isinstance(process.args, list)
    return [str(arg) for arg in process.args]


SECRET = "/127.0.0.1:9/token-that-no-other-user-may-read/simple/"


class TestStartPip:
    def test_the_target_interpreter_runs_our_own_pip(self, venv: Venv) -> None:
        # A bare venv has no pip: ours is brought, and run in that venv.
        process = start_pip(venv.python, ["debug"], ENVIRON)
        stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        assert f"sys.executable: {venv.python}\n" in stdout
        assert f"from {Path(pip.__file__).parent}" in stdout

    def test_the_arguments_are_on_no_command_line(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        # Every local user reads every command line (/proc/PID/cmdline); the gateway's
        # address carries its secret.
        process = start_pip(venv.python, ["download", "--no-index", "-r", SECRET], ENVIRON)
        _, stderr = process.communicate(timeout=60)
        assert "Could not open requirements file" in stderr and SECRET in stderr  # pip has it
        assert started == [process]
        assert all("token-that" not in arg for arg in _argv(process))

    def test_a_pip_started_ahead_is_used_when_it_fits(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        with _ahead(venv.python) as ahead:
            process = start_pip(venv.python, ["--version"], ENVIRON, ahead)
            stdout, _ = process.communicate(timeout=60)
        assert started == [process]
        assert stdout.startswith(f"pip {pip.__version__} from")

    def test_a_pip_started_ahead_that_does_not_fit_is_replaced_the_same_way(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        with _ahead(venv.python) as ahead:
            process = start_pip(Path(sys.executable), ["--version"], ENVIRON, ahead)
            process.communicate(timeout=60)
        assert len(started) == 2
        assert started[0].returncode is not None
        assert process is started[1]
        assert process.returncode == 0
        assert _argv(process)[0] == sys.executable

    def test_an_interpreter_that_ends_at_once_gives_its_status(self, tmp_path: Path) -> None:
        failing = tmp_path / "python"
        failing.write_text("#!/bin/sh\necho broken interpreter >&2\nexit 7\n")
        failing.chmod(0o755)
        process = start_pip(failing, ["--version"], ENVIRON)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 7
        assert "broken interpreter" in stderr

    def test_an_interpreter_that_cannot_start_is_an_os_error(self, tmp_path: Path) -> None:
        with pytest.raises(OSError):
            start_pip(tmp_path / "missing" / "python", ["--version"], ENVIRON)


def _ahead(python: Path) -> PipAhead:
    ahead = PipAhead.start(python, ENVIRON)
    assert ahead is not None
    return ahead


class TestPipAhead:
    def test_runs_what_it_is_given_as_pips_runner_would(self, venv: Venv) -> None:
        with _ahead(venv.python) as ahead:
            process = ahead.take(venv.python, ENVIRON, ["debug"])
            assert process is not None
            stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        launched = _pip_debug([*_runner(venv.python), "debug"])
        # The same interpreter, pip and environment; only pip's own warnings may differ.
        wanted = [line for line in launched.splitlines() if line.startswith("sys.")]
        assert wanted and all(line in stdout.splitlines() for line in wanted)
        assert f"from {Path(pip.__file__).parent}" in stdout

    def test_sees_the_installed_projects_pips_runner_sees(self, venv: Venv) -> None:
        (venv.site_packages / "demo-1.0.dist-info").mkdir()
        (venv.site_packages / "demo-1.0.dist-info" / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        )
        arguments = ["list", "--format", "freeze"]
        with _ahead(venv.python) as ahead:
            process = ahead.take(venv.python, ENVIRON, arguments)
            assert process is not None
            stdout, _ = process.communicate(timeout=60)
        assert stdout == _pip_debug([*_runner(venv.python), *arguments])
        assert "demo==1.0" in stdout

    def test_no_module_of_the_working_directory_is_imported(
        self, venv: Venv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # pip's runner script puts its own directory first on sys.path; `python -c` would
        # put the working directory there, whose modules would then shadow pip's imports.
        work = tmp_path / "work"
        work.mkdir()
        marker = tmp_path / "imported"
        for module in ("optparse", "shlex", "csv", "email"):
            (work / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write({module!r})\n")
        monkeypatch.chdir(work)
        with _ahead(venv.python) as ahead:
            process = ahead.take(venv.python, ENVIRON, ["list"])
            assert process is not None
            process.communicate(timeout=60)
        assert process.returncode == 0
        assert not marker.exists()

    def test_another_interpreter_is_refused_and_the_waiting_pip_stopped(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        ahead = _ahead(venv.python)
        assert ahead.take(Path(sys.executable), ENVIRON, ["debug"]) is None
        assert started[0].returncode is not None
        assert ahead.take(venv.python, ENVIRON, ["debug"]) is None

    def test_another_environment_is_refused(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        ahead = _ahead(venv.python)
        assert ahead.take(venv.python, {**ENVIRON, "PYTHONPATH": "/elsewhere"}, ["debug"]) is None
        assert started[0].returncode is not None

    def test_a_pip_never_given_arguments_is_stopped(
        self, venv: Venv, started: list[subprocess.Popen[str]]
    ) -> None:
        with _ahead(venv.python):
            assert started[0].returncode is None
        assert started[0].returncode is not None

    def test_an_interpreter_that_cannot_start_means_no_pip_ahead(self, tmp_path: Path) -> None:
        assert PipAhead.start(tmp_path / "missing" / "python", ENVIRON) is None
