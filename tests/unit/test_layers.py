"""The import layering of the pipeline stages (scripts/check_layers.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check_layers.py"


def _check(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), str(src)], capture_output=True, text=True, check=False
    )


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "safe_pip" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_package_has_no_backward_import() -> None:
    result = _check(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "statement",
    [
        "from safe_pip.install.installer import InstallResult\n",
        "import safe_pip.install.installer\n",
        "from safe_pip import install\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from safe_pip.install import x\n",
        "def f() -> None:\n    from safe_pip.settings import Settings\n",
    ],
)
def test_a_lower_stage_importing_a_higher_one_fails(tmp_path: Path, statement: str) -> None:
    src = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "settings.py": "",
            "install/__init__.py": "",
            "policy/__init__.py": "",
            "policy/approval.py": statement,
        },
    )
    result = _check(src)
    assert result.returncode == 1
    assert "approval.py" in result.stdout
    assert "a higher layer" in result.stdout


def test_imports_within_a_stage_and_downwards_pass(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "models.py": "",
            "policy/__init__.py": "",
            "policy/trust.py": "",
            "install/__init__.py": "",
            "install/placement.py": (
                "from safe_pip.models import Plan\n"
                "from safe_pip.policy.trust import TrustStore\n"
                "from safe_pip.install import installer\n"
            ),
        },
    )
    assert _check(src).returncode == 0


def test_a_module_in_no_layer_is_refused(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"__init__.py": "", "newstage.py": ""})
    result = _check(src)
    assert result.returncode != 0
    assert "newstage" in result.stderr + result.stdout
