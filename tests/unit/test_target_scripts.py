"""The modules safe-pip runs in the target interpreter by path: they import only the
standard library, and nothing beside them or in the working directory."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import packaging
import pytest

from safe_pip import target_probe
from safe_pip.install import compile_worker
from safe_pip.resolve import pip_bootstrap

PACKAGING_DIR = str(Path(packaging.__file__).resolve().parent.parent)

# Each script with arguments on which it ends at once, given no input.
SCRIPTS = [
    pytest.param(compile_worker, ["staging"], frozenset(), id="compile_worker"),
    pytest.param(target_probe, ["", PACKAGING_DIR], {"packaging"}, id="target_probe"),
    pytest.param(pip_bootstrap, ["elsewhere/__pip-runner__.py"], frozenset(), id="pip_bootstrap"),
]


def _imported(module: ModuleType) -> set[str]:
    """The top-level name of everything the module imports, anywhere in it."""
    tree = ast.parse(Path(str(module.__file__)).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("module", "args", "given"), SCRIPTS)
def test_only_the_standard_library_is_imported(
    module: ModuleType, args: list[str], given: set[str]
) -> None:
    """The target has neither safe-pip nor its dependencies (the probe is handed the
    directory of safe-pip's ``packaging``)."""
    assert _imported(module) - given <= {"__future__", *sys.stdlib_module_names}


@pytest.mark.parametrize(("module", "args", "given"), SCRIPTS)
def test_nothing_beside_it_or_in_the_working_directory_is_imported(
    module: ModuleType,
    args: list[str],
    given: set[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A copy, beside a module named as each it imports, run without -I (which keeps the
    # script's directory off sys.path) and from that directory.
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)
    beside = tmp_path / "beside"
    beside.mkdir()
    script = beside / Path(str(module.__file__)).name
    shutil.copy(str(module.__file__), script)
    marker = tmp_path / "imported"
    for name in _imported(module) - {"__future__"}:
        (beside / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    ran = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=beside,
        input="",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert not marker.exists()
    # Any other script there imports what lies beside it (a name nothing imported before
    # the script runs, as a coverage or site hook may have done for the standard library).
    (beside / "planted_beside.py").write_text(f"open({str(marker)!r}, 'a').write('planted')\n")
    (beside / "control.py").write_text("import planted_beside\n")
    subprocess.run([sys.executable, "control.py"], cwd=beside, check=True, timeout=60)
    assert marker.read_text() == "planted"
