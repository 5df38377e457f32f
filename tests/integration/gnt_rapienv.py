"""A test cluster's remote API: the master daemon restarted with gnt-rapi on a free port of
its own (the test suite runs none by default), a users file, and waiting until it listens."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 30) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.1)


def start_rapi(gnt: Any, users: str) -> tuple[int, Path]:
    """Give the cluster ``gnt`` a users file and a gnt-rapi on a free port; (port, path of
    the certificate to trust)."""
    users_file = gnt.root / "var/lib/gnt/rapi/users"
    users_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    users_file.write_text(users)
    users_file.chmod(0o600)
    port = free_port()
    gnt.env["GNT_RAPI_PORT"] = str(port)
    gnt.run("gnt-masterd", "restart")
    wait_listening(port)
    return port, gnt.root / "var/lib/gnt/rapi.pem"
