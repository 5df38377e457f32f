"""The master daemon's UNIX socket server: one thread per connection, within limits.

Limits (each a server attribute, so tests can lower them):

- ``idle_timeout``: a connection that sends no request for this long is closed;
- ``max_connections``: connections beyond this are answered with one error and closed;
- ``max_message``: a request line longer than this is answered with one error, then the
  connection is closed;
- when ``accept`` fails for lack of file descriptors (EMFILE/ENFILE) or memory, the server
  logs it once, waits with a growing pause instead of spinning, and serves again once
  descriptors are free.
"""

from __future__ import annotations

import errno
import logging
import socket
import socketserver
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Protocol

from gnt.core import protocol
from gnt.core.errors import GntError, ProtocolError

LOG = logging.getLogger("gnt.masterd")

DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_MAX_CONNECTIONS = 128
DEFAULT_MAX_MESSAGE = protocol.MAX_MESSAGE
# accept() failures that mean "out of resources": wait, do not spin.
_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 1.0


class Dispatcher(Protocol):
    """What the server hands each request to (:class:`gnt.daemon.handlers.Handlers`)."""

    def dispatch(self, method: str, args: dict[str, Any]) -> Any: ...


def error_reply(err: GntError) -> bytes:
    """One protocol error line for ``err``."""
    return protocol.encode({"ok": False, "error": err.to_dict()})


class _RequestHandler(socketserver.StreamRequestHandler):
    server: MasterServer

    def _send(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            return False

    def _read_request(self) -> tuple[dict[str, Any] | None, bool]:
        """The next request (None at end of stream) and whether to keep the connection."""
        limit = self.server.max_message
        try:
            line = self.rfile.readline(limit + 1)
        except TimeoutError:
            LOG.info("closing a connection idle for %.0fs", self.server.idle_timeout)
            return None, False
        except OSError:
            return None, False
        if not line:
            return None, False
        if len(line) > limit:
            self._send(error_reply(ProtocolError(
                f"Request too large: more than {limit} bytes without a newline (the limit of"
                " one message); closing the connection")))
            return None, False
        try:
            request = protocol.decode(line)
        except ValueError as err:
            self._send(error_reply(ProtocolError(
                f"Invalid request: not a JSON line ({err}); closing the connection")))
            return None, False
        if not isinstance(request, dict) or not isinstance(request.get("method"), str) \
                or not isinstance(request.get("args", {}), dict):
            self._send(error_reply(ProtocolError(
                "Invalid request: expected an object with a string 'method' and an object"
                f" 'args', got {str(request)[:200]!r}; closing the connection")))
            return None, False
        return request, True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away: nothing left to flush to

    def handle(self) -> None:
        self.connection.settimeout(self.server.idle_timeout)
        while True:
            request, keep = self._read_request()
            if request is None:
                return
            try:
                result = self.server.handlers.dispatch(request["method"],
                                                       request.get("args") or {})
                reply: dict[str, Any] = {"ok": True, "result": result}
            except GntError as err:
                reply = {"ok": False, "error": err.to_dict()}
            except Exception as err:  # report, never crash the connection thread silently
                LOG.error("request failed:\n%s", traceback.format_exc())
                reply = {"ok": False, "error": {"type": "GntError", "message":
                                                f"{type(err).__name__}: {err}",
                                                "args": [f"{type(err).__name__}: {err}"]}}
            if not self._send(protocol.encode(reply)) or not keep:
                return


class MasterServer(socketserver.ThreadingUnixStreamServer):
    """The daemon's socket server (bind at ``path``, answer through ``handlers``)."""

    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog: socketserver's default of 5 refuses (EAGAIN) a burst of clients that
    # connect at once, e.g. a job and its followers; connections are still capped above.
    request_queue_size = 128

    def __init__(self, path: Path, handlers: Dispatcher,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.handlers = handlers
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_message = max_message
        self._count_lock = threading.Lock()
        self._active = 0
        self._backoff = 0.0
        super().__init__(str(path), _RequestHandler)

    @property
    def active_connections(self) -> int:
        """Connections being served now."""
        with self._count_lock:
            return self._active

    # -- accept, with a pause when descriptors run out ---------------------------------
    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            conn, addr = self.socket.accept()
        except OSError as err:
            if err.errno in _EXHAUSTED:
                self._wait_for_resources(err)
            raise
        if self._backoff:
            LOG.warning("accepting connections again")
            self._backoff = 0.0
        return conn, addr

    def _wait_for_resources(self, err: OSError) -> None:
        if not self._backoff:
            LOG.error("cannot accept connections on the master socket: %s; retrying with a"
                      " pause until resources are free", err.strerror)
        self._backoff = min(_BACKOFF_MAX, max(_BACKOFF_MIN, self._backoff * 2))
        time.sleep(self._backoff)

    # -- the connection cap ----------------------------------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            full = self._active >= self.max_connections
            if not full:
                self._active += 1
        if full:
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._count_lock:
            self._active -= 1

    def _refuse(self, request: socket.socket) -> None:
        LOG.warning("refusing a connection: %d connections open (the limit)",
                    self.max_connections)
        try:
            request.setblocking(False)
            request.sendall(error_reply(ProtocolError(
                f"Too many connections to the master daemon ({self.max_connections} open);"
                " try again later")))
        except OSError:
            pass
        self.shutdown_request(request)
