"""The executor's side of the warm worker (:mod:`gnt.nodes.warm`): start it, restart it when
the collection or Ansible changed, and run an ansible-runner :class:`Runner` through it.

A run keeps ansible-runner's contract: the same prepared command and environment, the same
artifact layout (``command``, ``stdout``, ``stderr``, ``job_events/``, ``status``, ``rc``) and
the same events, because the output goes through ansible-runner's own ``OutputEventFilter``
and ``Runner.event_callback``. Only the process that runs ``ansible-playbook`` differs: a fork
of a warm interpreter instead of a fresh one behind a pseudo-terminal.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import select
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnt.core import settings
from gnt.nodes import modexec, proctree
from gnt.nodes.warm import PER_RUN_ENV

START_TIMEOUT = 60.0


class WarmWorkerError(RuntimeError):
    """The warm worker could not take a run (it did not start, or it went away)."""


def code_stamp(collection: Path) -> str:
    """What the worker's cached code and payloads depend on: the collection's plugins, the
    installed Ansible and ansible-runner, the worker itself and the module interpreter's client
    it loads (paths, sizes, mtimes)."""
    import ansible
    import ansible_runner

    parts = []
    roots = [collection / "plugins", Path(ansible.__file__).parent / "release.py",
             Path(ansible_runner.__file__).parent / "__init__.py", Path(__file__).with_name("warm.py"),
             Path(modexec.PROGRAM)]
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in paths:
            try:
                info = path.stat()
            except OSError:
                continue
            parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def payload_cache(stamp: str) -> Path | None:
    """The private directory for the module payloads of code ``stamp`` under
    :func:`settings.payload_cache_dir` (made when missing, its time touched: in use), or
    None when there is none or it cannot be trusted: a directory on the way that is not
    root's, or that others may write to (unless sticky, as /tmp)."""
    base = settings.payload_cache_dir()
    if base is None:
        return None
    try:
        base.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        base.mkdir(mode=0o700, exist_ok=True)
        for part in [base, *base.parents]:
            info = part.stat()
            if info.st_uid not in (0, os.geteuid()):
                return None
            if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
                return None
        if base.stat().st_mode & 0o077:
            return None
        cache = base / stamp[:24]
        if not cache.is_dir():
            _prune_payload_caches(base)
            cache.mkdir(mode=0o700, exist_ok=True)
        os.utime(cache)
        return cache
    except OSError:
        return None


#: A payload cache directory not used for this long is removed (each run marks its own used).
PAYLOAD_CACHE_KEEP = 7 * 24 * 3600.0


def _prune_payload_caches(base: Path) -> None:
    """Remove the directories of ``base`` no run has used for :data:`PAYLOAD_CACHE_KEEP`."""
    import shutil

    limit = time.time() - PAYLOAD_CACHE_KEEP
    for entry in base.iterdir():
        try:
            info = entry.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_mtime < limit:
            shutil.rmtree(entry, ignore_errors=True)


def shared_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the variables that differ from run to run."""
    return {key: value for key, value in env.items() if key not in PER_RUN_ENV}


class WarmWorker:
    """One warm worker process (per executor, so per master daemon)."""

    def __init__(self, marker: str) -> None:
        #: value of GNT_ANSIBLE_RUN in the worker's environment, so that the orphan cleanup of
        #: a restarted daemon finds the worker and every process forked from it
        self.marker = marker
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.fingerprint: str | None = None

    def ensure(self, env: dict[str, str]) -> None:
        """Have a worker for runs with environment ``env`` running (start or restart it)."""
        with self.lock:
            self._ensure(env)

    def _ensure(self, env: dict[str, str]) -> socket.socket:
        base = shared_env(env)
        stamp = code_stamp(settings.collection_root())
        fingerprint = hashlib.sha256(json.dumps(
            [sorted(base.items()), sys.executable, stamp]).encode()).hexdigest()
        if (self.proc is not None and self.proc.poll() is None and self.control is not None
                and fingerprint == self.fingerprint):
            payload_cache(stamp)  # in use (made again if it was removed)
            return self.control
        self._stop_locked(cancel_runs=False)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = settings.paths().ansible_dir / "warm-worker.log"
        # ansible-runner's callback plugin is loaded in the worker and wants an artifact dir;
        # each run's child points it at the run's own (nothing is ever written here)
        placeholder = settings.paths().ansible_dir / "warm-worker-artifacts"
        placeholder.mkdir(mode=0o700, exist_ok=True)
        cache = payload_cache(stamp)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gnt.nodes.warm", str(theirs.fileno()),
                 str(cache or "")],
                env={**base, "GNT_ANSIBLE_RUN": self.marker,
                     "AWX_ISOLATED_DATA_DIR": str(placeholder)}, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=fd, pass_fds=[theirs.fileno()],
                start_new_session=True, cwd="/")
        finally:
            os.close(fd)
            theirs.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while line.strip() != b"ready" and time.monotonic() < deadline:
            ready, _w, _x = select.select([self.proc.stdout], [], [],
                                          max(0.0, deadline - time.monotonic()))
            line = self.proc.stdout.readline() if ready else b""
            if ready and not line:
                break  # the worker exited
        if line.strip() != b"ready":
            self._stop_locked()
            ours.close()
            raise WarmWorkerError(f"the warm worker did not start (see {log})")
        self.control = ours
        self.fingerprint = fingerprint
        return ours

    def stop(self, cancel_runs: bool = False) -> None:
        """Stop the worker. Its runs go on to their end (as ansible-playbook processes do
        when their daemon stops) unless ``cancel_runs``: then their process trees are stopped."""
        with self.lock:
            self._stop_locked(cancel_runs)

    def _stop_locked(self, cancel_runs: bool = True) -> None:
        if self.control is not None:
            self.control.close()  # the worker exits when its control socket closes
            self.control = None
        if self.proc is not None:
            if cancel_runs and self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        self.fingerprint = None

    def _start_run(self, runner: Any) -> tuple[_Answers, int, int]:
        """Hand the run to the worker: (answer socket, output read end, child PID)."""
        request = json.dumps({"argv": list(runner.config.command), "cwd": runner.config.cwd,
                              "env": dict(runner.config.env)}).encode()
        for attempt in (1, 2):
            with self.lock:
                control = self._ensure(runner.config.env)
                ours, theirs = socket.socketpair()
                answers = _Answers(ours)
                out_r, out_w = os.pipe()
                try:
                    control.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                 _fd_bytes(theirs.fileno(), out_w))])
                except OSError as err:
                    self._stop_locked(cancel_runs=False)
                    answers.close()
                    os.close(out_r)
                    if attempt == 2:
                        raise WarmWorkerError(f"the warm worker went away: {err}") from err
                    continue
                finally:
                    theirs.close()
                    os.close(out_w)
            answer = answers.next(timeout=30)
            if "pid" in answer:
                return answers, out_r, int(answer["pid"])
            answers.close()
            os.close(out_r)
            if attempt == 2 or "stale worker" not in str(answer.get("error", "")):
                raise WarmWorkerError(f"the warm worker refused the run: {answer}")
            self.stop()
        raise WarmWorkerError("unreachable")

    def run(self, runner: Any, timeout: float,
            should_cancel: Callable[[], bool] | None = None) -> None:
        """Run ansible-runner's prepared ``runner`` through the worker, as ``runner.run()``
        would: same artifacts, events, status and rc. ``timeout`` (s) and ``should_cancel``
        stop the run's whole process tree (status ``timeout`` / ``canceled``, rc 254)."""
        from ansible_runner.utils import OutputEventFilter

        config = runner.config
        runner.status_callback("starting")
        os.makedirs(config.artifact_dir, mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(config.artifact_dir, "job_events"), mode=0o700, exist_ok=True)
        _write_private(os.path.join(config.artifact_dir, "command"), json.dumps(
            {"command": config.command, "cwd": config.cwd, "env": config.env}, ensure_ascii=False))
        stdout_file = _open_private(os.path.join(config.artifact_dir, "stdout"))
        _open_private(os.path.join(config.artifact_dir, "stderr")).close()
        events = OutputEventFilter(stdout_file, runner.event_callback,
                                   suppress_ansible_output=True, output_json=config.json_mode)
        runner.status_callback("running")
        answers, out_r, pid = self._start_run(runner)
        started = time.monotonic()
        rc: int | None = None
        try:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            while True:
                ready, _w, _x = select.select([out_r, answers.fileno()], [], [],
                                              0 if b"\n" in answers.buffer else 0.25)
                if out_r in ready:
                    chunk = os.read(out_r, 65536)
                    if not chunk:
                        break
                    events.write(decoder.decode(chunk))
                elif answers.fileno() in ready or b"\n" in answers.buffer:
                    # the child exited (its answer is due), yet something it started still
                    # holds the output pipe: take what is there and stop reading
                    os.set_blocking(out_r, False)
                    try:
                        while chunk := os.read(out_r, 65536):
                            events.write(decoder.decode(chunk))
                    except BlockingIOError:
                        pass
                    break
                if should_cancel is not None and should_cancel():
                    runner.canceled = True
                elif timeout and time.monotonic() - started > timeout:
                    runner.timed_out = True
                if runner.canceled or runner.timed_out:
                    proctree.terminate_tree(pid)
            events.write(decoder.decode(b"", final=True))
            rc = int(answers.next(timeout=30).get("rc", 255))
        finally:
            os.close(out_r)
            answers.close()
            events.close()
        runner.rc = 254 if (runner.canceled or runner.timed_out) else rc
        if runner.canceled:
            runner.status_callback("canceled")
        elif runner.timed_out:
            runner.status_callback("timeout")
        else:
            runner.status_callback("successful" if runner.rc == 0 else "failed")
        for name, value in (("status", runner.status), ("rc", runner.rc)):
            _write_private(os.path.join(config.artifact_dir, name), str(value))


def _fd_bytes(*fds: int) -> bytes:
    import array

    return array.array("i", fds).tobytes()


class _Answers:
    """The worker's answer lines for one run (``{"pid": N}``, then ``{"rc": N}``)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def fileno(self) -> int:
        """The socket's descriptor (to wait on it with select)."""
        return self.conn.fileno()

    def close(self) -> None:
        """Close the socket."""
        self.conn.close()

    def next(self, timeout: float) -> dict[str, Any]:
        """The next answer, or ``{"error": ...}`` when none comes in ``timeout`` seconds."""
        self.conn.settimeout(timeout)
        try:
            while b"\n" not in self.buffer:
                chunk = self.conn.recv(4096)
                if not chunk:
                    return {"error": "the warm worker closed the run without an answer"}
                self.buffer += chunk
        except TimeoutError:
            return {"error": "no answer from the warm worker"}
        line, self.buffer = self.buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer


def _open_private(path: str) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    return codecs.getwriter("utf-8")(os.fdopen(fd, "wb"))


def _write_private(path: str, text: str) -> None:
    with _open_private(path) as handle:
        handle.write(text)
