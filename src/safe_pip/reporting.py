"""The progress the core reports while it works; the CLI decides how to draw it."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullReporter", "Reporter"]


class Reporter(Protocol):
    """Receives progress events from the pipeline. Implementations must be thread-safe."""

    def stage(self, name: str, detail: str = "") -> None:
        """A pipeline stage begins (``resolve``, ``fetch``, ``install``, ...)."""

    def download_started(self, label: str, total: int | None) -> None:
        """A file download begins; ``total`` is its size if known."""

    def download_advanced(self, label: str, size: int) -> None:
        """``size`` more bytes of the file arrived."""

    def download_finished(self, label: str, *, cached: bool) -> None:
        """The file is verified and in the cache (``cached``: no download was needed)."""

    def installed(self, label: str) -> None:
        """One distribution was written into the environment."""

    def timing(self, stage: str, seconds: float) -> None:
        """How long a stage took (shown with ``-v``)."""


class NullReporter:
    """Reports nothing: for tests and quiet runs."""

    def stage(self, name: str, detail: str = "") -> None:
        """Ignore the event."""

    def download_started(self, label: str, total: int | None) -> None:
        """Ignore the event."""

    def download_advanced(self, label: str, size: int) -> None:
        """Ignore the event."""

    def download_finished(self, label: str, *, cached: bool) -> None:
        """Ignore the event."""

    def installed(self, label: str) -> None:
        """Ignore the event."""

    def timing(self, stage: str, seconds: float) -> None:
        """Ignore the event."""
