"""The first-seen review on a terminal: one table of every project, then one question."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName

from safe_pip.cli.present import format_size
from safe_pip.review import ProjectFacts, age

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["TerminalPrompter", "review_panels"]

_YES_NO = {"y": "y", "yes": "y", "n": "n", "no": "n"}
_ALL = {**_YES_NO, "o": "o", "one": "o", "one-by-one": "o"}


def review_panels(pending: Sequence[ProjectFacts], now: datetime) -> RenderableType:
    """One panel per first-seen project with everything known about it; suspicious ones
    in red, their warnings first."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    panels = []
    for item in pending:
        text = Text()
        for warning in item.warnings:
            text.append(f"WARNING: {warning.message}\n", style="bold red")
        facts = (
            ("source", f"{item.source.name} ({item.source.url})"),
            ("released", age(item.released, now)),
            ("first release", age(item.first_released, now)),
            ("file", f"{item.filename} ({item.kind}, {format_size(item.size)})"),
            ("summary", item.summary or "(none)"),
            ("home page", item.home_page or "(none)"),
        )
        text.append("\n".join(f"{label:<14}{value}" for label, value in facts))
        title = f"{'! ' if item.suspicious else ''}{item.name} {item.version}"
        panels.append(
            Panel(
                text, title=title, title_align="left", border_style="red" if item.suspicious else ""
            )
        )
    heading = Text(f"{len(pending)} project(s) safe-pip has not installed before:", style="bold")
    return Group(heading, *panels)


class TerminalPrompter:
    """Asks on the terminal; progress output is paused while it asks."""

    def __init__(
        self,
        console: Console,
        pause: Callable[[], AbstractContextManager[object]],
        ask: Callable[[str], str] | None = None,
    ) -> None:
        """:param ask: reads one answer after showing a question (default: the console)."""
        self._console = console
        self._pause = pause
        self._ask = ask or self._read

    def _read(self, question: str) -> str:
        try:
            return self._console.input(question, markup=False)
        except EOFError:
            return "n"

    def _choice(self, question: str, choices: Mapping[str, str], default: str) -> str:
        while True:
            answer = self._ask(question).strip().lower() or default
            if answer in choices:
                return choices[answer]
            self._console.print(f"Please answer one of: {', '.join(choices)}", markup=False)

    def approve(self, pending: Sequence[ProjectFacts]) -> Mapping[NormalizedName, bool]:
        """Show the review, then ask: all, none, or one by one."""
        with self._pause():
            self._console.print(review_panels(pending, datetime.now(UTC)))
            suspicious = any(item.suspicious for item in pending)
            default = "n" if suspicious else "y"
            hint = "y/N/o" if suspicious else "Y/n/o"
            answer = self._choice(
                f"Approve all {len(pending)} (y), refuse all (n), or one by one (o)? [{hint}] ",
                _ALL,
                default,
            )
            if answer != "o":
                return {item.name: answer == "y" for item in pending}
            return {item.name: self._one(item) for item in pending}

    def _one(self, item: ProjectFacts) -> bool:
        hint = "y/N" if item.suspicious else "Y/n"
        question = f"Approve {item.name} {item.version} from {item.source.name}? [{hint}] "
        return self._choice(question, _YES_NO, "n" if item.suspicious else "y") == "y"
