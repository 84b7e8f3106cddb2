"""End to end: the whole plan installs or nothing does, whatever fails or interrupts it, and
concurrent runs on one environment take turns.

To stop an install at its most fragile moment (every new wheel written, old versions set
aside, no RECORD yet), the target interpreter is a wrapper that pauses when safe-pip asks
it to compile bytecode, until the test lets it go.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.e2e.conftest import wait_for
from tests.support.environments import snapshot
from tests.support.index import PackageIndex
from tests.support.locks import PROC_LOCKS, waits_for_lock

WheelFactory = Callable[..., Path]


def _corrupt(members: dict[str, bytes]) -> None:
    members["beta/__init__.py"] = b"print('not what RECORD says')\n"


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: WheelFactory) -> PackageIndex:
    """alpha 1.0 (beta>=1.0) and 2.0 (beta>=1.1); beta 1.0 and 1.1."""
    server = index()
    server.add(wheel("alpha", "1.0", requires=["beta>=1.0"]))
    server.add(wheel("alpha", "2.0", requires=["beta>=1.1"], files={"alpha/__init__.py": "2"}))
    server.add(wheel("beta", "1.0", entry_points={"beta-cli": "beta:main"}))
    return server


def _install(safe_pip: SafePip, python: Path, served: PackageIndex, *args: str) -> list[str]:
    return ["--python", str(python), "install", "-i", served.url, "--trust", ":all:", *args]


def _installed_first(safe_pip: SafePip, venv: Venv, served: PackageIndex) -> dict[str, str]:
    result = safe_pip(*_install(safe_pip, venv.python, served, "alpha==1.0", "beta==1.0"))
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}
    return snapshot(venv.path)


def _consistent(venv: Venv) -> None:
    """Every installed file is the one its RECORD lists; one version per project."""
    names = [p.name.rsplit("-", 1)[0] for p in venv.site_packages.glob("*.dist-info")]
    assert len(names) == len(set(names)), names
    for dist_info in venv.site_packages.glob("*.dist-info"):
        with (dist_info / "RECORD").open(newline="") as stream:
            for path, digest, size in csv.reader(stream):
                target = venv.site_packages / path
                assert target.is_file(), target
                if digest:
                    data = target.read_bytes()
                    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                    assert digest == "sha256=" + expected.rstrip(b"=").decode(), target
                    assert int(size) == len(data)
    assert not list(venv.path.rglob(".safe-pip-replaced-*"))


def test_a_corrupt_second_wheel_leaves_the_environment_as_it_was(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, wheel: WheelFactory
) -> None:
    served.add(wheel("beta", "1.1", mutate=_corrupt))
    before = _installed_first(safe_pip, venv, served)
    result = safe_pip(*_install(safe_pip, venv.python, served, "-U", "alpha"))
    assert result.returncode == 3, result.stderr
    assert "beta 1.1 (beta-1.1-py3-none-any.whl) failed inspection" in result.stderr
    assert snapshot(venv.path) == before
    assert venv.run("import alpha; print(alpha.__version__)").stdout == "1.0\n"


def test_a_failure_writing_the_second_wheel_is_rolled_back(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, wheel: WheelFactory
) -> None:
    # beta 1.1 writes zeta/__init__.py, but "zeta" is a file: the write itself fails,
    # after alpha 2.0 is in place and beta 1.0 set aside.
    served.add(wheel("beta", "1.1", files={"beta/__init__.py": "", "zeta/__init__.py": ""}))
    _installed_first(safe_pip, venv, served)
    (venv.site_packages / "zeta").write_text("not a directory\n")
    before = snapshot(venv.path)
    # The new top-level package is a material change: the update needs its own approval.
    command = _install(safe_pip, venv.python, served, "-U", "--trust", "beta==1.1", "alpha")
    result = safe_pip(*command)
    assert result.returncode == 1, result.stderr
    assert "Installing beta-1.1 failed" in result.stderr
    assert "The environment was restored as it was." in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(venv.path) == before
    assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}


@pytest.fixture
def paused_python(tmp_path: Path, venv: Venv) -> Iterator[tuple[Path, Path, Path]]:
    """``(interpreter, paused, go)``: the venv's interpreter, except that compiling bytecode
    waits for the file ``go``, after creating ``paused``. The wait ends with the test (the
    compiler runs in a process group of its own, which a failed test does not stop) and
    after three minutes in any case."""
    paused, go = tmp_path / "paused", tmp_path / "go"
    script = tmp_path / "paused-python"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *compile_worker.py*) : > "{paused}"; waited=0\n'
        f'    while [ ! -e "{go}" ] && [ "$waited" -lt 9000 ]; do\n'
        "      sleep 0.02; waited=$((waited + 1))\n"
        "    done ;;\n"
        "esac\n"
        f'exec "{venv.python}" "$@"\n'
    )
    script.chmod(0o755)
    yield script, paused, go
    go.touch()


@pytest.mark.parametrize(
    "interrupt",
    [
        lambda process: os.killpg(process.pid, signal.SIGINT),
        lambda process: process.send_signal(signal.SIGTERM),
    ],
    ids=["ctrl-c-to-the-process-group", "sigterm"],
)
def test_an_interrupted_install_leaves_the_environment_as_it_was(
    safe_pip: SafePip,
    venv: Venv,
    served: PackageIndex,
    wheel: WheelFactory,
    paused_python: tuple[Path, Path, Path],
    launch: Callable[..., subprocess.Popen[str]],
    interrupt: Callable[[subprocess.Popen[str]], None],
) -> None:
    served.add(wheel("beta", "1.1", entry_points={"beta-cli": "beta:main"}))
    before = _installed_first(safe_pip, venv, served)
    python, paused, _go = paused_python
    process = launch(*_install(safe_pip, python, served, "-U", "alpha"))
    wait_for(paused.exists, process, "bytecode compilation")
    site = venv.site_packages
    # The compiler is held, so the install stops with the new versions written and the old
    # ones set aside, waiting for bytecode before anything is committed.
    wait_for(
        lambda: (
            (site / "alpha-2.0.dist-info" / "METADATA").exists()
            and not (site / "alpha-1.0.dist-info" / "METADATA").exists()
        ),
        process,
        "writing the new version",
    )
    interrupt(process)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Operation cancelled by user; the environment was left as it was." in err
    assert "Traceback" not in err
    assert snapshot(venv.path) == before
    assert venv.run("import alpha; print(alpha.__version__)").stdout == "1.0\n"


@pytest.mark.skipif(not PROC_LOCKS.exists(), reason="needs Linux's /proc/locks to see waiters")
def test_concurrent_installs_into_one_environment_take_turns(
    safe_pip: SafePip,
    venv: Venv,
    served: PackageIndex,
    wheel: WheelFactory,
    paused_python: tuple[Path, Path, Path],
    launch: Callable[..., subprocess.Popen[str]],
) -> None:
    served.add(wheel("beta", "1.1"))
    python, paused, go = paused_python
    first = launch(*_install(safe_pip, python, served, "alpha==1.0"))
    wait_for(paused.exists, first, "bytecode compilation")
    asked = len(served.requests)
    (lock,) = (safe_pip.home / "safe-pip-home" / "locks").glob("env-*.lock")
    second = launch(*_install(safe_pip, python, served, "-U", "alpha"))
    wait_for(lambda: waits_for_lock(second.pid, lock), second, "waiting for the first run")
    assert len(served.requests) == asked, "the second run resolved while the first installed"
    go.touch()
    for process in (first, second):
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, out + err
    assert venv.installed() == {"alpha": "2.0", "beta": "1.1"}
    _consistent(venv)
