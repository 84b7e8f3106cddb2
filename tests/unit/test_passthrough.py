from __future__ import annotations

import sys
from pathlib import Path

from safe_pip.cli.passthrough import pip_command


class TestPipCommand:
    def test_python_moves_before_the_command(self) -> None:
        argv = pip_command([], "list", ["--python", "/v/bin/python", "--outdated"], {})
        assert argv == [
            sys.executable,
            "-m",
            "pip",
            "--python",
            "/v/bin/python",
            "list",
            "--outdated",
        ]

    def test_equals_form(self) -> None:
        argv = pip_command(["--python=/v"], "freeze", [], {})
        assert argv[3:] == ["--python", "/v", "freeze"]

    def test_active_venv_is_named(self, tmp_path: Path) -> None:
        argv = pip_command(["-v"], "show", ["x"], {"VIRTUAL_ENV": str(tmp_path)})
        assert argv[3:] == ["--python", str(tmp_path), "-v", "show", "x"]

    def test_own_environment_needs_no_python(self) -> None:
        argv = pip_command([], "list", [], {"VIRTUAL_ENV": sys.prefix})
        assert argv == [sys.executable, "-m", "pip", "list"]
