"""A repeated install reuses pip's plan only while every input pip decided from is unchanged."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, make_venv
from tests.support.index import PackageIndex
from tests.support.outcomes import succeeded

REUSED = "its plan stands"
PIP_STARTED = "DEBUG: resolver:"


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    served = index()
    served.add(wheel("alpha", "1.0", requires=["beta"]))
    served.add(wheel("beta", "1.0"))
    return served


def _install(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, *args: str
) -> subprocess.CompletedProcess[str]:
    result = safe_pip("--python", str(venv.python), "install", "-vv", "-i", served.url, *args)
    succeeded(result)
    return result


def test_a_repeated_install_reuses_the_plan_without_starting_pip(
    safe_pip: SafePip, served: PackageIndex, tmp_path: Path
) -> None:
    first = _install(safe_pip, make_venv(tmp_path / "one"), served, "alpha")
    assert PIP_STARTED in first.stderr and REUSED not in first.stderr
    second_venv = make_venv(tmp_path / "two")
    second = _install(safe_pip, second_venv, served, "alpha")
    assert REUSED in second.stderr and PIP_STARTED not in second.stderr
    assert second_venv.installed() == {"alpha": "1.0", "beta": "1.0"}


def test_a_new_release_on_the_index_is_resolved_afresh(
    safe_pip: SafePip, served: PackageIndex, wheel: Callable[..., Path], tmp_path: Path
) -> None:
    _install(safe_pip, make_venv(tmp_path / "one"), served, "alpha")
    served.add(wheel("beta", "1.1"))
    second_venv = make_venv(tmp_path / "two")
    second = _install(safe_pip, second_venv, served, "alpha")
    assert "pages changed since the last resolution: beta" in second.stderr
    assert PIP_STARTED in second.stderr
    assert second_venv.installed() == {"alpha": "1.0", "beta": "1.1"}


def test_what_is_installed_in_the_target_is_part_of_the_question(
    safe_pip: SafePip, served: PackageIndex, tmp_path: Path
) -> None:
    _install(safe_pip, make_venv(tmp_path / "one"), served, "alpha")
    second_venv = make_venv(tmp_path / "two")
    _install(safe_pip, second_venv, served, "beta")
    second = _install(safe_pip, second_venv, served, "alpha")
    # The kept plan installs beta too; pip, seeing beta installed, installs alpha alone.
    assert REUSED not in second.stderr
    assert "Successfully installed alpha-1.0\n" in second.stdout


def test_no_cache_dir_never_reuses_a_plan(
    safe_pip: SafePip, served: PackageIndex, tmp_path: Path
) -> None:
    _install(safe_pip, make_venv(tmp_path / "one"), served, "alpha")
    second = _install(safe_pip, make_venv(tmp_path / "two"), served, "--no-cache-dir", "alpha")
    assert REUSED not in second.stderr and PIP_STARTED in second.stderr
