"""Presentation: progress while working, the plan, the summary, errors.

On a terminal, rich draws transient progress bars on stderr; otherwise plain lines, one per
event, so CI logs stay readable. Results go to stdout like pip's.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from safe_pip.models import DistKind, Finding, Plan, PlannedDist, Severity

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from safe_pip.policy.review import Approval
    from safe_pip.target import InterpreterChoice

__all__ = [
    "PlainReporter",
    "RichReporter",
    "describe_dist",
    "finding_line",
    "format_size",
    "plan_lines",
    "printable",
    "target_line",
]


def printable(text: str) -> str:
    """The text with every control character shown as an escape (``\\x1b``): a package's
    summary or file name must not move the cursor or rewrite the review's warnings."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def format_size(size: int | None) -> str:
    """A human-readable size in decimal units, as pip prints it (rich's ``filesize``)."""
    from rich.filesize import decimal

    return "unknown size" if size is None else decimal(size)


def target_line(choice: InterpreterChoice) -> str:
    """``Target: /usr/bin/python3 (the first python3 on PATH)``: which environment, and why
    that one (outside a virtual environment it is not obvious)."""
    return printable(f"Target: {choice.python} ({choice.reason})")


def describe_dist(dist: PlannedDist) -> str:
    """One line: what, which kind, from where."""
    if dist.kind is DistKind.LOCAL_DIR:
        how = "editable local project" if dist.editable else "local project"
        return f"{dist.label} ({how} {dist.local_path})"
    kind = "built from source" if dist.needs_build else "wheel"
    if dist.source is not None:
        where = f"from {dist.source.name}"
    elif dist.vcs is not None:
        where = f"from {dist.vcs.url}@{dist.vcs.commit[:12]}"
    elif dist.file is not None:
        where = f"from {dist.file.url}"
    else:
        where = f"from {dist.local_path}"
    return f"{dist.label} ({kind}, {where})"


def _approval_lines(approval: Approval) -> list[str]:
    facts = approval.facts
    if approval.how is None:
        status = "not approved: would be asked, or refused without a terminal"
    else:
        status = f"approved by {approval.how.value}"
    what = (
        "source changed"
        if facts.source_changed
        else f"update from {facts.update_of}"
        if facts.update_of
        else "first seen"
    )
    lines = [f"      {what}, {status}"]
    return lines + [f"      WARNING: {warning.message}" for warning in facts.warnings]


def plan_lines(
    plan: Plan, findings: Sequence[Finding], approvals: Sequence[Approval] = ()
) -> list[str]:
    """The plan, one distribution per line, with its first-seen status and findings under
    it."""
    by_project: dict[str, list[Finding]] = {}
    for finding in findings:
        by_project.setdefault(finding.project, []).append(finding)
    approval_of = {approval.facts.name: approval for approval in approvals}
    lines = []
    for dist in plan:
        lines.append(f"  {describe_dist(dist)}")
        if dist.name in approval_of:
            lines += _approval_lines(approval_of[dist.name])
        lines += [f"      {finding_line(finding)}" for finding in by_project.get(dist.name, [])]
    return [printable(line) for line in lines]


def finding_line(finding: Finding) -> str:
    """``WARNING: ...`` for a warning, ``note: ...`` for what is only worth knowing."""
    prefix = "WARNING" if finding.severity is Severity.WARNING else "note"
    return f"{prefix}: {finding.message}"


class PlainReporter:
    """One line per event on stdout; for logs and non-terminals."""

    def __init__(self, print_line: Callable[[str], None], verbosity: int) -> None:
        """:param print_line: prints one line as it is (no markup, no highlighting)."""
        self._print_line = print_line
        self._verbosity = verbosity
        self._lock = threading.Lock()

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing to pause: plain output has no live display."""
        yield

    def _say(self, text: str, level: int = 0) -> None:
        if self._verbosity >= level:
            with self._lock:
                self._print_line(text)

    def stage(self, name: str, detail: str = "") -> None:
        """Stages are shown with ``-v`` only."""
        self._say(f"{name.capitalize()}...{' ' + detail if detail else ''}", level=1)

    def download_started(self, label: str, total: int | None) -> None:
        """``Downloading x.whl (12 kB)``, as pip says it."""
        self._say(f"Downloading {label} ({format_size(total)})")

    def download_advanced(self, label: str, size: int) -> None:
        """Plain output shows no byte counts."""

    def download_finished(self, label: str, *, cached: bool) -> None:
        """``Using cached x.whl`` when nothing was downloaded."""
        if cached:
            self._say(f"Using cached {label}")

    def installed(self, label: str) -> None:
        """Each installed distribution, with ``-v``."""
        self._say(f"Installed {label}", level=1)

    def timing(self, stage: str, seconds: float) -> None:
        """Stage timings, with ``-v``."""
        self._say(f"  {stage} took {seconds:.3f}s", level=1)


class RichReporter:
    """Transient progress bars on a terminal (stderr)."""

    def __init__(self, console: Console, verbosity: int) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TransferSpeedColumn,
        )

        from safe_pip.cli.progress import DownloadsOnly

        self._progress: Progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadsOnly(DownloadColumn()),
            DownloadsOnly(TransferSpeedColumn()),
            console=console,
            transient=True,
        )
        self._console = console
        self._verbosity = verbosity
        self._tasks: dict[str, TaskID] = {}
        self._stage: TaskID | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self._progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live display while the user is asked something."""
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()

    def stage(self, name: str, detail: str = "") -> None:
        """A spinner line naming the current stage."""
        with self._lock:
            text = f"{name.capitalize()}{' ' + detail if detail else ''}"
            if self._stage is None:
                self._stage = self._progress.add_task(text, total=None)
            else:
                self._progress.update(self._stage, description=text)

    def download_started(self, label: str, total: int | None) -> None:
        """A progress bar for the file."""
        with self._lock:
            if label in self._tasks:
                self._progress.reset(self._tasks[label], total=total)
            else:
                self._tasks[label] = self._progress.add_task(label, total=total, download=True)

    def download_advanced(self, label: str, size: int) -> None:
        """Advance the file's bar."""
        task = self._tasks.get(label)
        if task is not None:
            self._progress.advance(task, size)

    def download_finished(self, label: str, *, cached: bool) -> None:
        """Remove the file's bar."""
        with self._lock:
            task = self._tasks.pop(label, None)
        if task is not None:
            self._progress.remove_task(task)

    def installed(self, label: str) -> None:
        """Name the distribution just installed in the stage line."""
        self.stage("install", label)

    def timing(self, stage: str, seconds: float) -> None:
        """Stage timings, with ``-v``."""
        if self._verbosity >= 1:
            self._console.print(f"  {stage} took {seconds:.3f}s", markup=False, highlight=False)
