"""The gateway's HTTP side: a threaded server on 127.0.0.1 that hands each GET to a route
and sends back its reply, a body or a verified file streamed from the cache."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

__all__ = ["NOT_FOUND", "Listener", "LoopbackServer", "Reply", "Route"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: a body, or a verified file to stream."""

    status: HTTPStatus
    content_type: str
    body: bytes = b""
    path: Path | None = None


NOT_FOUND = Reply(HTTPStatus.NOT_FOUND, "text/plain")

Route = Callable[[str], Reply]
"""Answers the path of one GET request."""


class Listener:
    """Serves a route on 127.0.0.1, on a port of its own, between :meth:`start` and
    :meth:`stop`."""

    def __init__(self) -> None:
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The port listened on, while listening."""
        return None if self._server is None else self._server.server_address[1]

    def start(self, route: Route) -> None:
        """Listen, answering every request with ``route``."""
        server = LoopbackServer(("127.0.0.1", 0), _Handler)
        server.route = route
        server.daemon_threads = True
        self._server = server
        # shutdown() waits for the serving loop's next look at the clock: every command
        # that ends waits up to this long.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        logger.debug("gateway listening on 127.0.0.1:%d", server.server_address[1])

    def stop(self, *, wait: bool) -> None:
        """Stop listening; with ``wait``, let the serving loop end first."""
        if self._server is not None:
            self._server.stopping = True
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None and wait:
            self._thread.join()
        # The server holds the route: dropping it leaves no cycle back to its owner.
        self._server = None
        self._thread = None


class LoopbackServer(ThreadingHTTPServer):
    """The HTTP server, quiet about requests the command no longer waits for."""

    route: Route
    stopping = False
    """Set once the command is done with the gateway: requests still in flight are
    abandoned, and whatever becomes of them is no news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # pip is stopped the moment a source fails, often in the middle of a request: the
        # broken connection is expected, and so is any end of a request abandoned when the
        # command stopped (a metadata fetch cancelled, the client closed); socketserver's
        # default would print a traceback.
        if self.stopping or isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("gateway: request of %s abandoned", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACKs every keep-alive request would stall ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("gateway: " + format, *args)

    def do_GET(self) -> None:
        reply = cast(LoopbackServer, self.server).route(self.path)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-store")
        if reply.path is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        with reply.path.open("rb") as stream:
            self.send_header("Content-Length", str(os.fstat(stream.fileno()).st_size))
            self.end_headers()
            shutil.copyfileobj(stream, self.wfile, 1 << 20)
