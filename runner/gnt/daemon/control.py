"""Control of this node's master daemon: is it alive, start it in the background, its PID,
stop it. Used by gnt-masterd itself, cluster init/destroy and master-failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gnt.client.connection import Client
from gnt.core import settings
from gnt.core.errors import MasterNotRunning, ProtocolError
from gnt.core.fileutil import ensure_dir

LOG_NAME = "master-daemon.log"


def daemon_alive(socket_path: Path | None = None) -> bool:
    """True if a master daemon answers ``ping`` on the socket."""
    try:
        with Client(socket_path, timeout=5) as client:
            return client.call("ping") == "pong"
    except (ProtocolError, OSError):
        return False


def start_daemon(wait: float = 15.0) -> None:
    """Start ``gnt-masterd`` for the current GNT_ROOT in the background and wait for it."""
    if daemon_alive():
        return
    paths = settings.paths()
    ensure_dir(paths.log_dir)
    # The log may quote job parameters and node errors: root only, from its creation.
    log = os.fdopen(os.open(paths.log_dir / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                            0o600), "ab")
    os.fchmod(log.fileno(), 0o600)
    subprocess.Popen(
        [sys.executable, "-m", "gnt.daemon.masterd", "--foreground"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        env=dict(os.environ), close_fds=True,
    )
    log.close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if daemon_alive():
            return
        time.sleep(0.05)
    raise MasterNotRunning(f"The master daemon did not start within {wait:.0f}s; see"
                           f" {paths.log_dir / LOG_NAME}")


def daemon_pid() -> int | None:
    """The PID in the PID file if that process exists."""
    try:
        pid = int(settings.paths().master_pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_daemon(timeout: float = 30.0) -> bool:
    """SIGTERM the daemon of this GNT_ROOT (by PID file) and wait; True if it was running."""
    pid = daemon_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
