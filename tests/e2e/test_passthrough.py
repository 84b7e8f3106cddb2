"""End to end: commands safe-pip does not check are pip's, for the same environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import SafePip, Venv
from tests.support.index import PackageIndex


def _install_beta(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    served = index()
    served.add(wheel("beta", "1.0"))
    result = safe_pip("--python", str(venv.python), "install", "-i", served.url, "beta")
    assert result.returncode == 0, result.stderr


def test_version_names_safe_pip_and_pip(safe_pip: SafePip) -> None:
    result = safe_pip("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("safe-pip ")
    assert "pip " in result.stdout


def test_list_freeze_show_for_the_target(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    _install_beta(safe_pip, venv, index, wheel)
    listed = safe_pip("--python", str(venv.python), "list")
    assert listed.returncode == 0 and "beta" in listed.stdout
    frozen = safe_pip("freeze", "--python", str(venv.python))
    assert frozen.returncode == 0 and "beta==1.0" in frozen.stdout
    shown = safe_pip("show", "beta", env={"VIRTUAL_ENV": str(venv.path)})
    assert shown.returncode == 0 and "Version: 1.0" in shown.stdout
    assert (
        "Installer: safe-pip" in safe_pip("--python", str(venv.python), "show", "-v", "beta").stdout
    )


def test_uninstall_is_pips(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    _install_beta(safe_pip, venv, index, wheel)
    result = safe_pip("--python", str(venv.python), "uninstall", "-y", "beta")
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {}


def test_pip_exit_status_is_kept(safe_pip: SafePip, venv: Venv) -> None:
    result = safe_pip("--python", str(venv.python), "show", "not-installed-anywhere")
    assert result.returncode == 1


def test_help_for_install_lists_safe_pip_options(safe_pip: SafePip) -> None:
    for args in (("install", "--help"), ("help", "install")):
        result = safe_pip(*args)
        assert result.returncode == 0
        assert "--allow-sdist" in result.stdout and "--index-url" in result.stdout


def test_other_help_is_pips(safe_pip: SafePip) -> None:
    result = safe_pip("help", "list")
    assert result.returncode == 0
    assert "pip list" in result.stdout or "List installed packages" in result.stdout
