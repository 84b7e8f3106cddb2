"""End to end: Ctrl-C late in a large install restores the environment and exits at once.

With thousands of files written and thousands set aside, undoing them
took seconds. The restore must take under a second (until safe-pip says so), and leave the
environment exactly as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SafePip, Venv
from tests.support.environments import snapshot
from tests.support.index import PackageIndex
from tests.support.outcomes import succeeded

WheelFactory = Callable[..., Path]
MODULES = 3000


def _big(wheel: WheelFactory, version: str) -> Path:
    """``big`` with MODULES small modules, three to a package, named after the version."""
    tag = version.replace(".", "_")
    files = {f"big/p{n // 3}_{tag}/m{n % 3}.py": f"VALUE = {n}\n" for n in range(MODULES)}
    files.update({f"big/p{n}_{tag}/__init__.py": "" for n in range(MODULES // 3)})
    return wheel("big", version, files={"big/__init__.py": f"V = {version!r}\n", **files})


def _until_cancelled(process: subprocess.Popen[str]) -> tuple[float, str]:
    """When safe-pip says the install was cancelled (once the environment is restored,
    before the interpreter's own exit, which under the suite's coverage includes writing
    the coverage data of every safe-pip process), and what it wrote on standard error."""
    assert process.stderr is not None
    read = []
    for line in process.stderr:
        read.append(line)
        if "Operation cancelled by user" in line:
            return time.monotonic(), "".join(read)
    msg = f"safe-pip ended without saying the install was cancelled: {''.join(read)}"
    raise AssertionError(msg)


def test_ctrl_c_while_writing_a_large_install_restores_within_a_second(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    launch: Callable[..., subprocess.Popen[str]],
) -> None:
    served = index()
    served.add(_big(wheel, "1.0"))
    served.add(_big(wheel, "2.0"))
    install = ("--python", str(venv.python), "install", "-i", served.url, "--trust", ":all:")
    succeeded(safe_pip(*install, "big==1.0", timeout=300))
    before = snapshot(venv.path)

    process = launch(*install, "-U", "big")
    # Old version set aside, new one being written: a module early in the archive is there.
    written = venv.site_packages / "big" / "p10_2_0" / "m1.py"
    deadline = time.monotonic() + 120
    while not written.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the install never started writing"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGINT)
    interrupted = time.monotonic()
    cancelled, err = _until_cancelled(process)
    took = cancelled - interrupted
    _out, rest = process.communicate(timeout=60)
    err += rest

    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert snapshot(venv.path) == before
    assert took < 1.0, f"restoring took {took:.2f} s"
