"""Where a checked command writes: standard output and standard error as rich consoles, each
made when first used, so a command that prints nothing, or only lines rich would print as
they are (an install already satisfied), never imports rich."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from functools import cache, cached_property
from typing import TYPE_CHECKING

from safe_pip.errors import OutputClosed

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Consoles"]


class Consoles:
    """A command's two consoles, without colour when asked (``--no-color``, ``NO_COLOR``)."""

    def __init__(self, *, no_color: bool) -> None:
        self._no_color = no_color

    @cached_property
    def out(self) -> Console:
        """Standard output: results, as pip prints them."""
        return _console_class()(no_color=self._no_color, highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        """Standard error: errors, warnings and progress."""
        return _console_class()(
            stderr=True, no_color=self._no_color, highlight=False, soft_wrap=True
        )

    def line_printer(self, *, to_err: bool = False) -> Callable[[str], None]:
        """A function printing one line as it is (never read as markup, nothing
        highlighted) on standard output, or error; the console is made at its first line."""

        def print_line(text: str) -> None:
            if _as_is(text):
                self._write(text + "\n", to_err=to_err)
            else:
                console = self.err if to_err else self.out
                console.print(text, markup=False, highlight=False)

        return print_line

    def _write(self, text: str, *, to_err: bool) -> None:
        stream = sys.stderr if to_err else sys.stdout
        try:
            stream.write(text)
            stream.flush()  # as rich does after each line: the two streams stay in order
        except BrokenPipeError:
            (self.err if to_err else self.out).on_broken_pipe()


_EMOJI_CODE = re.compile(r":\S*:")


def _as_is(text: str) -> bool:
    """Whether rich would print ``text`` unchanged, so it need not be loaded for it: plain
    printable ASCII (nothing to strip, expand or measure) without a ``:code:`` that rich
    may read as an emoji."""
    return text.isascii() and text.isprintable() and _EMOJI_CODE.search(text) is None


@cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit silently; a command that stops part-way must say so (on the
            # other stream, if that one is still open) and roll back like any failure.
            self.quiet = True
            stream = sys.stderr if self.stderr else sys.stdout
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
            which = "error output" if self.stderr else "output"
            msg = (
                f"safe-pip's {which} was closed (the command reading it ended), so safe-pip "
                f"stopped there; an install it had not finished was rolled back. Send the "
                f"output to a file instead."
            )
            raise OutputClosed(msg)

    return _Console
