"""Asking ahead of pip: the pages and metadata pip is about to ask the gateway for.

pip asks for one page at a time, each after it has read the previous metadata, so a graph
of N projects costs N upstream round trips in a row. Asked ahead, in parallel, they cost
about as many as the graph is deep. Each name is still asked of its sources in priority
order, and an answer pip never asks for is only a cached page.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from packaging.markers import default_environment

from safe_pip.distfiles import dependency_names
from safe_pip.errors import SafePipError
from safe_pip.gateway.served import FileSource, ServedFile
from safe_pip.models import DistKind, IndexFile, ServedProject

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.gateway.selection import Compatibility, SourceSelector

__all__ = ["Prefetcher"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class Prefetcher:
    """Fetches, in the background, what pip will most likely ask for next.

    Runs between :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, selector: SourceSelector, fetcher: FileSource, *, follow_dependencies: bool
    ) -> None:
        """:param follow_dependencies: ask about the likely choice's dependencies too."""
        self._selector = selector
        self._fetcher = fetcher
        self._follow_dependencies = follow_dependencies
        self._serve: Callable[[NormalizedName], object] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._metadata: dict[str, Future[bytes]] = {}
        self._lock = threading.Lock()
        self._outstanding = _Outstanding()

    def start(self, serve: Callable[[NormalizedName], object]) -> None:
        """Start the workers.

        :param serve: answers a project as pip's own request would (and asks ahead from
            its page in turn).
        """
        self._serve = serve
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prefetch")

    def stop(self, *, wait: bool) -> None:
        """Stop the workers; with ``wait``, let those already running end."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
        # Nothing may keep the gateway's pages alive once the command is done with them:
        # the way back to it (``serve``, the callbacks of the metadata fetches) is dropped.
        self._pool = None
        self._serve = None
        with self._lock:
            self._metadata.clear()

    def after_page(self, served: ServedProject) -> None:
        """Fetch the metadata pip will most likely ask for after reading this page."""
        compatibility = self._selector.policy.compatibility
        likely = _likely_choice(served, compatibility) if compatibility is not None else None
        if likely is not None:
            # pip asks for this file's metadata next, almost always: fetch it while pip is
            # still reading the page, so upstream latency overlaps with pip's own work.
            future = self.metadata(ServedFile(likely, served.page.source_of(likely)))
            if self._follow_dependencies:
                # Held from here, not from when the metadata arrives: the work it sets off
                # must count as outstanding before the metadata's own work stops counting.
                self._outstanding.begin()
                future.add_done_callback(self._prefetch_dependencies)

    def ask_ahead(self, names: Collection[NormalizedName]) -> None:
        """Ask the sources about projects pip is about to ask for."""
        for name in names:
            if not self._selector.known(name):
                self._submit(self._prefetch_project, name)

    def metadata(self, served: ServedFile) -> Future[bytes]:
        """A wheel's core metadata, fetched once however often it is asked for."""
        sha256 = served.file.sha256 or ""
        with self._lock:
            future = self._metadata.get(sha256)
            if future is None:
                future = self._submit(self._fetcher.metadata, served.file, served.source)
                self._metadata[sha256] = future
            return future

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything asked ahead so far, and everything that set off in turn,
        is done; ``False`` if it was not within ``timeout`` seconds."""
        return self._outstanding.wait_idle(timeout)

    def _prefetch_dependencies(self, metadata: Future[bytes]) -> None:
        """Ask the sources about the likely choice's dependencies before pip does. A
        failure here is left for pip's own request to meet and report."""
        try:
            if metadata.cancelled() or metadata.exception() is not None:
                return
            with contextlib.suppress(RuntimeError):  # shutting down: pip is done asking
                self.ask_ahead(dependency_names(metadata.result(), self._marker_environment))
        finally:
            self._outstanding.end()

    @cached_property
    def _marker_environment(self) -> dict[str, str]:
        """Markers as the target evaluates them, as far as the gateway knows the target; a
        wrong guess costs one unneeded page, never a wrong plan."""
        environment = {key: str(value) for key, value in default_environment().items()}
        compatibility = self._selector.policy.compatibility
        if compatibility is not None and compatibility.python is not None:
            python = compatibility.python
            environment["python_full_version"] = str(python)
            environment["python_version"] = f"{python.major}.{python.minor}"
        return environment

    def _prefetch_project(self, name: NormalizedName) -> None:
        serve = self._serve
        if serve is None:  # stopped while this waited for a worker
            return
        try:
            serve(name)
        except SafePipError as exc:
            logger.debug("prefetch of %s failed (pip's own request will report it): %s", name, exc)

    def _submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        if self._pool is None:
            msg = "the gateway is not running"
            raise RuntimeError(msg)
        outstanding = self._outstanding
        outstanding.begin()
        try:
            future = self._pool.submit(function, *args)
        except RuntimeError:  # shut down meanwhile
            outstanding.end()
            raise
        future.add_done_callback(lambda _: outstanding.end())
        return future


class _Outstanding:
    """A count of the work under way, which can be waited on to reach zero."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def begin(self) -> None:
        with self._idle:
            self._count += 1

    def end(self) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


def _likely_choice(served: ServedProject, compatibility: Compatibility) -> IndexFile | None:
    """The wheel pip will most likely take: the best one of the newest final release."""
    wheels = [
        f
        for f in served.served
        if f.kind is DistKind.WHEEL and f.yanked is None and not f.version.is_prerelease
    ]
    if not wheels:
        return None
    newest = max(f.version for f in wheels)
    return min(
        (f for f in wheels if f.version == newest),
        key=lambda f: compatibility.rank(f) or 0,
    )
