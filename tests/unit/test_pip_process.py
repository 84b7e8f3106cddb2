from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pip
import pytest

from safe_pip.pip_process import PipAhead, pip_environment, pip_launcher
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


class TestPipLauncher:
    def test_the_target_interpreter_runs_our_own_pip(self, venv: Venv) -> None:
        # A bare venv has no pip: the launcher must bring ours, and run it in that venv.
        output = _pip_debug([*pip_launcher(venv.python), "debug"])
        assert f"sys.executable: {venv.python}\n" in output
        assert f"from {Path(pip.__file__).parent}" in output

    def test_without_a_target_pip_runs_in_this_interpreter(self) -> None:
        assert pip_launcher(None) == [sys.executable, "-m", "pip"]

    def test_falls_back_to_pip_python_without_a_runner_script(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(pip, "__file__", str(tmp_path / "pip" / "__init__.py"))
        target = tmp_path / "python"
        assert pip_launcher(target) == [sys.executable, "-m", "pip", "--python", str(target)]


def _ahead(python: Path) -> PipAhead:
    ahead = PipAhead.start(python, ENVIRON)
    assert ahead is not None
    return ahead


class TestPipAhead:
    def test_runs_what_it_is_given_as_the_launcher_would(self, venv: Venv) -> None:
        with _ahead(venv.python) as ahead:
            process = ahead.take(venv.python, ENVIRON, ["debug"])
            assert process is not None
            stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        launched = _pip_debug([*pip_launcher(venv.python), "debug"])
        # The same interpreter, pip and environment; only pip's own warnings may differ.
        wanted = [line for line in launched.splitlines() if line.startswith("sys.")]
        assert wanted and all(line in stdout.splitlines() for line in wanted)
        assert f"from {Path(pip.__file__).parent}" in stdout

    def test_sees_the_installed_projects_the_launcher_sees(self, venv: Venv) -> None:
        (venv.site_packages / "demo-1.0.dist-info").mkdir()
        (venv.site_packages / "demo-1.0.dist-info" / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        )
        arguments = ["list", "--format", "freeze"]
        with _ahead(venv.python) as ahead:
            process = ahead.take(venv.python, ENVIRON, arguments)
            assert process is not None
            stdout, _ = process.communicate(timeout=60)
        assert stdout == _pip_debug([*pip_launcher(venv.python), *arguments])
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
