"""Progress columns of safe-pip's own (imported only when progress is drawn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import ProgressColumn, Task
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Column

__all__ = ["DownloadsOnly"]


class DownloadsOnly(ProgressColumn):
    """Shows a column for download tasks only (added with ``download=True``): the stage's
    spinner line downloads nothing, so it shows no ``0/? bytes ?``."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self._column = column

    def get_table_column(self) -> Column:
        """The wrapped column's layout."""
        return self._column.get_table_column()

    def render(self, task: Task) -> RenderableType:
        """The wrapped column's cell, or nothing."""
        if not task.fields.get("download"):
            return Text("")
        return self._column(task)
