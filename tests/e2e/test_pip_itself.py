"""End to end: pip upgraded through safe-pip keeps the scripts pip itself writes.

pip's wheel declares ``pip`` and ``pip3`` (and a ``pip3.Y`` of whichever Python built it);
pip, installing pip, writes ``pip``, ``pipX`` and ``pipX.Y`` for the interpreter it
installs into. safe-pip writes the same, lists them in RECORD, and an upgrade removes only
what the old version's RECORD lists.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SafePip, Venv
from tests.support.index import PackageIndex
from tests.support.outcomes import succeeded

WheelFactory = Callable[..., Path]
MAJOR, MINOR = sys.version_info[:2]
PIP_SCRIPTS = {"pip", f"pip{MAJOR}", f"pip{MAJOR}.{MINOR}"}


def _fake_pip(wheel: WheelFactory, version: str) -> Path:
    """A tiny ``pip`` with the console scripts of the real wheel, built on Python 3.9."""
    main = "pip._internal.cli.main:main"
    return wheel(
        "pip",
        version,
        files={
            "pip/__init__.py": f'__version__ = "{version}"\n',
            "pip/_internal/cli/main.py": f'def main():\n    print("pip {version}")\n',
        },
        entry_points={"pip": main, "pip3": main, "pip3.9": main},
    )


def _scripts(venv: Venv) -> set[str]:
    return {path.name for path in (venv.path / "bin").glob("pip*")}


def _recorded_scripts(venv: Venv, version: str) -> set[str]:
    record = venv.site_packages / f"pip-{version}.dist-info" / "RECORD"
    rows = record.read_text().splitlines()
    return {Path(row.split(",")[0]).name for row in rows if row.startswith("../../../bin/")}


def test_upgrading_pip_writes_and_records_the_scripts_pip_writes(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    served = index()
    served.add(_fake_pip(wheel, "1.0"))
    install = ("--python", str(venv.python), "install", "-i", served.url, "--trust", ":all:")
    succeeded(safe_pip(*install, "pip==1.0"))
    assert _scripts(venv) == PIP_SCRIPTS
    assert _recorded_scripts(venv, "1.0") == PIP_SCRIPTS

    served.add(_fake_pip(wheel, "2.0"))
    succeeded(safe_pip(*install, "-U", "pip"))

    assert venv.installed()["pip"] == "2.0"
    assert _scripts(venv) == PIP_SCRIPTS
    assert _recorded_scripts(venv, "2.0") == PIP_SCRIPTS
    for name in PIP_SCRIPTS:
        assert "pip._internal.cli.main" in (venv.path / "bin" / name).read_text()


def test_an_upgrade_removes_only_what_the_old_record_lists(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    """A ``pip3.9`` the old version never recorded (another tool's) is not pip's to remove,
    and the new version does not write it: it stays."""
    served = index()
    served.add(_fake_pip(wheel, "1.0"))
    served.add(_fake_pip(wheel, "2.0"))
    install = ("--python", str(venv.python), "install", "-i", served.url, "--trust", ":all:")
    succeeded(safe_pip(*install, "pip==1.0"))
    foreign = venv.path / "bin" / "pip3.9"
    foreign.write_text("#!/bin/sh\necho another pip\n")

    succeeded(safe_pip(*install, "-U", "pip"))

    assert foreign.read_text() == "#!/bin/sh\necho another pip\n"
    assert _scripts(venv) == PIP_SCRIPTS | {"pip3.9"}
