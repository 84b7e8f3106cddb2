"""The command's consoles: lines printed as they are, each stream made only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from safe_pip.cli.consoles import Consoles


def test_a_line_is_printed_as_it_is_on_its_stream(capsys: pytest.CaptureFixture[str]) -> None:
    consoles = Consoles(no_color=True)
    consoles.line_printer()("[bold]alpha[/bold] 1.0 in /site (x)")
    consoles.line_printer(to_err=True)("WARNING: [red]beta[/red]")
    out, err = capsys.readouterr()
    assert out == "[bold]alpha[/bold] 1.0 in /site (x)\n"
    assert err == "WARNING: [red]beta[/red]\n"


def test_rich_is_imported_at_the_first_line_only() -> None:
    code = (
        "import sys\n"
        "from safe_pip.cli.consoles import Consoles\n"
        "say = Consoles(no_color=True).line_printer()\n"
        "before = 'rich' in sys.modules\n"
        "say('alpha')\n"
        "print(before, 'rich.console' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == ["alpha", "False True"]
