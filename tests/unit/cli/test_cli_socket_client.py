"""The CLI through the real ``gnt.client.connection.Client`` against a stub daemon on a UNIX socket."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gntcli_fakes import TS, run_cli

from gnt.cli import debug, instance
from gnt.core import protocol, settings
from gnt.core.errors import JobQueueDrainError


class StubDaemon:
    """Answers the job methods of the local protocol, one JSON line per request."""

    def __init__(self, path: Path) -> None:
        self.requests: list[dict[str, Any]] = []
        self.drained = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, method: str, args: dict[str, Any]) -> Any:
        if method == "submit_job":
            if self.drained:
                raise JobQueueDrainError("Job queue is drained, refusing job")
            return 42
        if method == "wait_for_job_change":
            return {"status": "success", "changed": True,
                    "log": [[1, TS, "message", "sleeping"]]}
        if method == "query_jobs":
            return [["success", ["success"], [None]]]
        raise AssertionError(method)

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                for line in reader:
                    request = protocol.decode(line)
                    self.requests.append(request)
                    try:
                        reply = {"ok": True,
                                 "result": self._answer(request["method"], request["args"])}
                    except JobQueueDrainError as err:
                        reply = {"ok": False, "error": err.to_dict()}
                    conn.sendall(protocol.encode(reply))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubDaemon]:
    # Short (UNIX socket paths are limited) and unpredictable: parallel runs never collide.
    root = Path(tempfile.mkdtemp(prefix="gnt-cli-", dir="/tmp"))
    monkeypatch.setenv("GNT_ROOT", str(root))
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    sock_path = settings.paths().master_socket
    sock_path.parent.mkdir(parents=True, exist_ok=True)
    stub = StubDaemon(sock_path)
    yield stub
    stub.close()
    shutil.rmtree(root, ignore_errors=True)


def test_delay_over_socket(daemon: StubDaemon, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(debug, ["delay", "0.1"]) == 0
    assert capsys.readouterr().out == "Mon Oct 26 00:22:48 2009 sleeping\n"
    methods = [r["method"] for r in daemon.requests]
    assert methods == ["submit_job", "wait_for_job_change", "query_jobs"]
    submit = daemon.requests[0]["args"]
    assert submit["priority"] == 0 and submit["ops"][0]["OP_ID"] == "OP_TEST_DELAY"
    assert daemon.requests[1]["args"] == {"job_id": 42, "prev_status": None,
                                          "prev_log_serial": 0, "timeout": 30}
    assert daemon.requests[2]["args"] == {"ids": [42],
                                          "fields": ["status", "opstatus", "opresult"]}


def test_drained_over_socket(daemon: StubDaemon, capsys: pytest.CaptureFixture) -> None:
    daemon.drained = True
    argv = ["add", "-o", "x", "-t", "file", "-s", "1G", "-n", "n1", "inst1"]
    assert run_cli(instance, argv) == 1
    assert capsys.readouterr().err == (
        "Failed to submit job for inst1: Job queue is drained, refusing job\n")
