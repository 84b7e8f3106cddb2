"""Opt-in: a real install from the real PyPI (``scripts/test --run-network``)."""

from __future__ import annotations

import pytest

from tests.conftest import SafePip, Venv

pytestmark = pytest.mark.network


def test_installs_a_small_real_project_from_pypi(safe_pip: SafePip, venv: Venv) -> None:
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        "https://pypi.org/simple",
        "six==1.16.0",
        "-v",
    )
    assert result.returncode == 0, result.stderr
    assert "Successfully installed six-1.16.0" in result.stdout
    assert "six: served by pypi" in result.stderr
    assert venv.run("import six; print(six.__version__)").stdout == "1.16.0\n"
