"""Client of the master daemon's local socket (used by the gnt-* commands and tests)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from gnt.core import protocol, settings
from gnt.core.errors import MasterNotRunning, ProtocolError, error_from_dict


def _not_master_hint() -> None:
    """Raise a clear error when this node's ssconf names another node as the master."""
    from gnt.core import resolver, ssconf

    master = ssconf.read("master_node")
    me = resolver.this_node_name()
    if master and master != me and master.split(".")[0] != me.split(".")[0]:
        raise MasterNotRunning(f"This is not the master node: the master is {master} (from"
                               " this node's ssconf files); run the command there")
    if not master and not settings.paths().config_file.exists():
        raise MasterNotRunning(f"This node ({me}) is not part of a cluster: there is no"
                               f" cluster configuration under {settings.paths().data_dir}"
                               " (gnt-cluster init creates a cluster, gnt-node add on the"
                               " master adds this node)")


class Client:
    """A connection to the master daemon; reconnects per call if the daemon restarted."""

    def __init__(self, socket_path: Path | None = None, timeout: float = 3600.0) -> None:
        self.socket_path = socket_path or settings.paths().master_socket
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.socket_path))
            except OSError as err:
                sock.close()
                _not_master_hint()
                raise MasterNotRunning(
                    f"Cannot communicate with the master daemon at {self.socket_path}: {err}."
                    " Is the master daemon running? (start it with 'gnt-masterd start')"
                ) from err
            self._sock = sock
            self._buffer = b""
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _closed_by_daemon(self) -> bool:
        """True if the daemon closed our idle connection (nothing sent on it since)."""
        if self._sock is None or self._buffer:
            return False
        timeout = self._sock.gettimeout()
        self._sock.settimeout(0)  # a socket with a timeout would wait for data first
        try:
            return self._sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self._sock.settimeout(timeout)

    def call(self, method: str, **args: Any) -> Any:
        """Call ``method``; raise the daemon's error as the matching exception type."""
        if self._closed_by_daemon():
            self.close()  # the daemon closes idle connections: open a new one
        sock = self._connect()
        send_error: OSError | None = None
        try:
            sock.sendall(protocol.encode({"method": method, "args": args}))
        except OSError as err:
            send_error = err  # the daemon may have answered (refused) before closing
        try:
            while b"\n" not in self._buffer:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ProtocolError("The master daemon closed the connection"
                                        + (f" ({send_error})" if send_error else ""))
                self._buffer += chunk
        except OSError as err:
            self.close()
            raise ProtocolError(f"Lost connection to the master daemon: {err}") from err
        except ProtocolError:
            self.close()
            raise
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply = protocol.decode(line)
        if reply.get("ok"):
            return reply.get("result")
        raise error_from_dict(reply.get("error") or {})

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
