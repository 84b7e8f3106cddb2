"""pip's bootstrap: it runs pip's runner script as the interpreter would, on the arguments
sent on standard input, with this copy of pip and nothing of safe-pip's own directory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.resolve import pip_bootstrap
from safe_pip.resolve.pip_bootstrap import ThisPip, preload, read_arguments

# The runner script the tests run in place of pip's: it reports what it was run with.
RUNNER = """\
import importlib.util, json, os, sys
names = ("pip_process", "resolver", "pip_bootstrap", "planted", "json")
print(json.dumps({
    "path0": sys.path[0],
    "argv": sys.argv,
    "stdin_is_null": os.path.samestat(os.fstat(0), os.stat(os.devnull)),
    "pip": importlib.util.find_spec("pip").origin,
    "importable": [name for name in names if importlib.util.find_spec(name)],
}))
"""


@pytest.fixture
def runner(tmp_path: Path) -> Path:
    """A runner script beside a ``pip`` of its own, as in pip's source tree."""
    root = tmp_path / "root"
    (root / "pip").mkdir(parents=True)
    (root / "pip" / "__init__.py").write_text("")
    script = root / "pip" / "__pip-runner__.py"
    script.write_text(RUNNER)
    return script


def _start(runner: Path, cwd: Path) -> subprocess.Popen[str]:
    """The bootstrap, run by path as pip_process starts it."""
    return subprocess.Popen(
        [sys.executable, pip_bootstrap.__file__, str(runner)],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_this_pip_is_found_in_its_own_directory_only(runner: Path, tmp_path: Path) -> None:
    root = runner.parent.parent
    spec = ThisPip(str(root)).find_spec("pip")
    assert spec is not None and spec.origin == str(root / "pip" / "__init__.py")
    assert ThisPip(str(root)).find_spec("json") is None
    assert ThisPip(str(tmp_path / "empty")).find_spec("pip") is None


def test_the_arguments_are_one_json_line() -> None:
    stream = io.StringIO('["install", "-r", "x y.txt"]\nleft alone\n')
    assert read_arguments(stream) == ["install", "-r", "x y.txt"]
    assert stream.read() == "left alone\n"
    assert read_arguments(io.StringIO("")) is None


def test_preloading_stops_quietly_at_the_first_import_that_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("preloaded_first", "preloaded_after"):
        (tmp_path / f"{name}.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("preloaded_first", "preloaded_missing", "preloaded_after")
    monkeypatch.setattr(pip_bootstrap, "INSTALL_MODULES", names)
    try:
        preload()
        assert "preloaded_first" in sys.modules
        assert "preloaded_after" not in sys.modules
    finally:
        sys.modules.pop("preloaded_first", None)


def test_run_by_path_the_runner_runs_as_the_interpreter_would_run_it(
    runner: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "planted.py").write_text("")
    process = _start(runner, work)
    assert process.stdin is not None
    process.stdin.write(json.dumps(["install", "demo"]) + "\n")
    process.stdin.flush()  # left open: the runner must read /dev/null, not this pipe
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["path0"] == str(runner.parent)
    assert report["argv"] == [str(runner), "install", "demo"]
    assert report["stdin_is_null"]
    assert report["pip"] == str(runner.parent / "__init__.py")
    # Neither safe-pip's modules beside the bootstrap nor the working directory's.
    assert report["importable"] == ["json"]


def test_no_arguments_no_run(runner: Path, tmp_path: Path) -> None:
    process = _start(runner, tmp_path)
    stdout, stderr = process.communicate("", timeout=60)
    assert process.returncode == 0, stderr
    assert stdout == ""
