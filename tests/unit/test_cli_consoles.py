"""The command's consoles: lines printed as they are, each stream made only when used."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

from safe_pip.cli.consoles import Consoles
from safe_pip.errors import OutputClosed


def test_a_line_is_printed_as_it_is_on_its_stream(capsys: pytest.CaptureFixture[str]) -> None:
    consoles = Consoles(no_color=True)
    consoles.line_printer()("[bold]alpha[/bold] 1.0 in /site (x)")
    consoles.line_printer(to_err=True)("WARNING: [red]beta[/red]")
    out, err = capsys.readouterr()
    assert out == "[bold]alpha[/bold] 1.0 in /site (x)\n"
    assert err == "WARNING: [red]beta[/red]\n"


def test_rich_is_imported_at_the_first_line_it_would_change() -> None:
    code = (
        "import sys\n"
        "from safe_pip.cli.consoles import Consoles\n"
        "say = Consoles(no_color=True).line_printer()\n"
        "say('Requirement already satisfied: alpha in /site (1.0)')\n"
        "print('rich' in sys.modules)\n"
        "say('a :smile: b')\n"
        "print('rich.console' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "Requirement already satisfied: alpha in /site (1.0)"
    assert lines[1] == "False"
    assert lines[2] != "a :smile: b"
    assert lines[3] == "True"


@pytest.mark.parametrize(
    "text",
    [
        "Requirement already satisfied: alpha in /site-packages (1.0)",
        "  resolve took 0.506s",
        "trailing  ",
        "x" * 300,
        "a :smile: b",
        "a :b: c",
        "::",
        "tab\there",
        "bell\a and escape \x1b[31m",
        "café in /home/josé",
        "wide 日本語 text",
        "",
    ],
)
@pytest.mark.parametrize("to_err", [False, True])
def test_every_line_is_printed_as_rich_prints_it(
    text: str, to_err: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    Consoles(no_color=True).line_printer(to_err=to_err)(text)
    ours = capsys.readouterr()
    expected = io.StringIO()
    Console(file=expected, no_color=True, highlight=False, soft_wrap=True).print(
        text, markup=False, highlight=False
    )
    assert (ours.err if to_err else ours.out) == expected.getvalue()


def test_a_closed_output_stops_the_command_as_rich_would(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.close(read)
    closed = open(write, "w", encoding="utf-8")  # noqa: SIM115 - closed by the test
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        with pytest.raises(OutputClosed, match="output was closed"):
            Consoles(no_color=True).line_printer()("Successfully installed alpha-1.0")
    finally:
        monkeypatch.undo()
        closed.close()
