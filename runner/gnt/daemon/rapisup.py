"""The master daemon keeps gnt-rapi running beside it: started with it, restarted when it
dies (with a growing pause, so a daemon that cannot start does not spin), stopped with it.
So the remote API follows the master role: master-failover stops the old master daemon
(and its gnt-rapi) and starts the new one (and its gnt-rapi).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

from gnt.core import settings

LOG = logging.getLogger("gnt.masterd.rapi")
LOG_NAME = "rapi-daemon.log"
FIRST_PAUSE, MAX_PAUSE = 1.0, 30.0
STOP_TIMEOUT = 10.0


class RapiSupervisor:
    """Runs ``gnt-rapi -f -p PORT`` (plus ``GNT_RAPI_ARGS``, as Ganeti's RAPI_ARGS, e.g.
    ``--require-authentication``) as a child and restarts it until :meth:`stop`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start the child and the thread that restarts it."""
        self._thread = threading.Thread(target=self._run, name="rapi-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        paths = settings.paths()
        log_path: Path = paths.log_dir / LOG_NAME
        paths.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "gnt.rapi.server", "-f", "-p", str(self.port),
                 *shlex.split(os.environ.get("GNT_RAPI_ARGS", ""))],
                stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, close_fds=True,
                env=dict(os.environ))
        finally:
            os.close(fd)

    def _run(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._proc = self._spawn()
                except OSError as err:
                    LOG.error("Cannot start gnt-rapi: %s", err)
                    self._proc = None
                self.starts += 1
            proc = self._proc
            if proc is not None:
                LOG.info("gnt-rapi started (pid %d, port %d)", proc.pid, self.port)
                code = proc.wait()
                if self._stopping.is_set():
                    return
                LOG.warning("gnt-rapi (pid %d) exited with %s; starting it again in %.0f s",
                            proc.pid, code, pause)
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, MAX_PAUSE)

    def stop(self) -> None:
        """Stop restarting, SIGTERM the child and wait for it (SIGKILL after a while)."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT)
