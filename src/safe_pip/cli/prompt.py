"""The first-seen review on a terminal: one table of every project, then one question."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from safe_pip.cli.present import format_size, printable
from safe_pip.policy.review import ProjectFacts, age

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from rich.console import Console, RenderableType

    from safe_pip.models import Shadow, SourceSpec
    from safe_pip.policy.vulnerabilities import Match

__all__ = ["TerminalPrompter", "review_panels"]

_YES_NO = {"y": "y", "yes": "y", "n": "n", "no": "n"}
_ALL = {**_YES_NO, "o": "o", "one": "o", "one-by-one": "o"}


def review_panels(pending: Sequence[ProjectFacts], now: datetime) -> RenderableType:
    """One panel per first-seen project with everything known about it; suspicious ones
    in red, their warnings first. Long values wrap (a name too long for the line folds):
    nothing is cut."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    panels = []
    for item in pending:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(no_wrap=True)
        facts.add_column(overflow="fold")
        for warning in item.warnings:
            message = Text(printable(warning.message), style="bold red")
            facts.add_row(Text("WARNING", style="bold red"), message)
        for label, value in _facts(item, now):
            facts.add_row(label, Text(printable(value)))
        update = f" (update from {item.update_of})" if item.update_of else ""
        title = f"{'! ' if item.suspicious else ''}{item.name} {item.version}{update}"
        panels.append(
            Panel(
                facts,
                title=Text(title),
                title_align="left",
                border_style="red" if item.suspicious else "",
            )
        )
    heading = Text(f"{len(pending)} project(s) safe-pip has not installed before:", style="bold")
    return Group(heading, *panels)


def _facts(item: ProjectFacts, now: datetime) -> list[tuple[str, str]]:
    return [
        ("source", _source(item.source)),
        ("released", _dated(item.released, now)),
        ("first release", _dated(item.first_released, now)),
        ("file", f"{item.filename} ({item.kind}, {format_size(item.size)})"),
        ("summary", item.summary or "(none)"),
        ("home page", item.home_page or "(none)"),
    ]


def _source(source: SourceSpec) -> str:
    """The source's name, and its URL when that says more (not a ``file://`` path twice)."""
    if source.name.rstrip("/") == source.url.rstrip("/"):
        return source.url
    return f"{source.name} ({source.url})"


def _dated(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "not known: the index gives no upload dates"
    return age(moment, now)


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
        from rich.prompt import Prompt
        from rich.text import Text

        prompt = Prompt(Text(question.rstrip()), console=self._console, show_default=False)
        prompt.prompt_suffix = " "  # the question ends with its choices: "[Y/n/o] "
        try:
            return prompt()
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
            # Wrapped to the terminal (the console's soft wrap would cut the panels).
            self._console.print(review_panels(pending, datetime.now(UTC)), soft_wrap=False)
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

    def accept_vulnerable(self, matches: Sequence[Match]) -> bool:
        """List the known vulnerabilities, then ask once whether to install anyway."""
        with self._pause():
            self._console.print(
                f"{len(matches)} known vulnerabilit{'y' if len(matches) == 1 else 'ies'} in the "
                f"plan:",
                style="bold red",
            )
            for match in matches:
                self._console.print(
                    printable(f"  {match.name} {match.version}: {match.describe()}"),
                    markup=False,
                    highlight=False,
                )
            question = "Install these vulnerable versions anyway? [y/N] "
            return self._choice(question, _YES_NO, "n") == "y"

    def choose_source(self, shadow: Shadow, alarm: str | None) -> SourceSpec | None:
        """Name the sources that know the project, then ask which is meant (default: none,
        a refusal). The answer is remembered with the approval once installed."""
        with self._pause():
            where = " and on ".join(_source(source) for source in shadow.sources)
            self._console.print(
                f"{shadow.name} is on {where}: which do you mean?", markup=False, highlight=False
            )
            if alarm is not None:
                self._console.print(f"ALARM: {alarm}", style="bold red", markup=False)
            choices = {str(n): str(n) for n in range(1, len(shadow.sources) + 1)}
            for number, source in zip(choices, shadow.sources, strict=True):
                self._console.print(f"  {number}) {_source(source)}", markup=False)
            question = f"Take {shadow.name} from [{'/'.join(choices)}/N] "
            answer = self._choice(question, {**choices, "n": "n", "no": "n"}, "n")
            return None if answer == "n" else shadow.sources[int(answer) - 1]

    def _one(self, item: ProjectFacts) -> bool:
        hint = "y/N" if item.suspicious else "Y/n"
        question = f"Approve {item.name} {item.version} from {item.source.name}? [{hint}] "
        return self._choice(question, _YES_NO, "n" if item.suspicious else "y") == "y"
