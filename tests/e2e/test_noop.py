"""A request that is already satisfied is answered from what is installed, without the
gateway or pip; anything else still goes through them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.support.index import PackageIndex
from tests.support.outcomes import succeeded


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """alpha 1.0 (needs beta), beta 1.0 and 1.1."""
    served = index()
    served.add(wheel("alpha", "1.0", requires=["beta>=1.0"]))
    served.add(wheel("beta", "1.0"))
    served.add(wheel("beta", "1.1"))
    return served


def _install(safe_pip: SafePip, venv: Venv, served: PackageIndex, *args: str) -> str:
    return succeeded(safe_pip("--python", str(venv.python), "install", "-i", served.url, *args))


def test_a_satisfied_request_asks_no_source(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    _install(safe_pip, venv, served, "alpha", "beta==1.0")
    asked = list(served.requests)
    before = {p: p.stat().st_mtime_ns for p in venv.site_packages.rglob("*")}
    out = _install(safe_pip, venv, served, "alpha", "beta<2")
    assert served.requests == asked
    assert out.splitlines() == [
        f"Requirement already satisfied: alpha in {venv.site_packages} (1.0)",
        f"Requirement already satisfied: beta in {venv.site_packages} (1.0)",
    ]
    assert {p: p.stat().st_mtime_ns for p in venv.site_packages.rglob("*")} == before


@pytest.mark.parametrize(
    ("options", "printed"),
    [(("-q",), 0), (("--progress-bar", "off"), 1)],
    ids=["quiet", "plain-lines"],
)
def test_a_satisfied_request_loads_neither_the_gateway_nor_rich(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, options: tuple[str, ...], printed: int
) -> None:
    # Its start-up is nearly all its time: what it does not use is not imported, rich
    # included, whose lines it prints as rich would.
    _install(safe_pip, venv, served, "alpha")
    command = ("install", *options, "-i", served.url, "alpha")
    result = safe_pip("--python", str(venv.python), *command, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert len(succeeded(result).splitlines()) == printed
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "safe_pip.pipeline.target_stage" in imported
    unwanted = {"rich", "safe_pip.pipeline.gated", "httpx", "urllib.request"}
    assert unwanted & imported == set()


def test_a_request_that_needs_pip_takes_the_one_started_while_the_gateway_opens(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    result = safe_pip("--python", str(venv.python), "install", "-vv", "-i", served.url, "beta")
    assert "Successfully installed beta-1.1" in succeeded(result)
    assert "resolver: pip was started ahead" in result.stderr


def test_a_missing_dependency_goes_through_pip(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    _install(safe_pip, venv, served, "alpha")
    for gone in ("beta", "beta-1.1.dist-info"):
        shutil.rmtree(venv.site_packages / gone)
    out = _install(safe_pip, venv, served, "alpha")
    assert served.asked("beta")
    assert "Successfully installed beta-1.1" in out


@pytest.mark.parametrize(
    "args",
    [("-U", "beta"), ("beta==1.1",), ("--force-reinstall", "beta"), ("beta[extra]",)],
    ids=["upgrade", "other-version", "force-reinstall", "undeclared-extra"],
)
def test_anything_pip_might_change_goes_through_pip(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, args: tuple[str, ...]
) -> None:
    _install(safe_pip, venv, served, "beta==1.0")
    served.requests.clear()
    safe_pip("--python", str(venv.python), "install", "-i", served.url, *args)
    assert served.asked("beta")
