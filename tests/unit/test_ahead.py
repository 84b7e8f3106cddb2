from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.errors import UsageError
from safe_pip.resolve.ahead import Ahead
from safe_pip.target import TargetQuery
from tests.conftest import Venv

ENVIRON = {"PATH": os.environ.get("PATH", "/bin"), "HOME": os.environ.get("HOME", "/")}


def test_the_answer_asked_ahead_serves_the_same_interpreter_and_prefix(
    venv: Venv, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    with Ahead.start(venv.python, str(tmp_path), ENVIRON) as ahead:
        target = ahead.target_environment(venv.python, str(tmp_path))
        assert len(started) == 2  # the query and pip, nothing asked a second time
    assert target.python == venv.python
    assert Path(target.paths["purelib"]).is_relative_to(tmp_path)


def test_pip_is_started_once_when_wanted(venv: Venv, started: list[subprocess.Popen[str]]) -> None:
    with Ahead.start(venv.python, None, ENVIRON, pip=False) as ahead:
        assert len(started) == 1  # the query alone
        ahead.start_pip(ENVIRON)
        ahead.start_pip(ENVIRON)
        assert len(started) == 2 and ahead.pip is not None
    assert all(process.returncode is not None for process in started)


def test_another_prefix_is_asked_afresh(venv: Venv, tmp_path: Path) -> None:
    with Ahead.start(venv.python, None, ENVIRON) as ahead:
        target = ahead.target_environment(venv.python, str(tmp_path))
    assert Path(target.paths["purelib"]).is_relative_to(tmp_path)


def test_what_was_not_used_is_stopped(venv: Venv, started: list[subprocess.Popen[str]]) -> None:
    with Ahead.start(venv.python, None, ENVIRON):
        pass
    assert started and all(process.returncode is not None for process in started)


def test_an_interpreter_that_cannot_start_is_reported_when_asked(tmp_path: Path) -> None:
    query = TargetQuery(tmp_path / "missing" / "python")
    with pytest.raises(UsageError, match="Cannot query the target interpreter"):
        query.result()


def test_an_unwanted_answer_is_stopped(started: list[subprocess.Popen[str]]) -> None:
    TargetQuery(Path(sys.executable)).close()
    assert started[0].returncode is not None
