"""The master socket's limits, with real UNIX sockets against the daemon's real server.

Idle connections are closed, connections beyond the cap get one error, an oversize message
gets one error and the connection is closed, EMFILE on accept does not spin, and request
arguments are of their declared types (``"no"`` is not true).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt.client.connection import Client
from gnt.core import protocol
from gnt.core.errors import OpPrereqError
from gnt.daemon.handlers import Handlers
from gnt.daemon.server import MasterServer


class Echo:
    """A dispatcher answering ``ping`` (the server's limits do not depend on the methods)."""

    def dispatch(self, method: str, args: dict[str, Any]) -> Any:
        if method == "ping":
            return "pong"
        raise OpPrereqError(f"Unknown method '{method}'")


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gs", dir="/tmp"))  # short: sun_path is limited
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(path: Path, dispatcher: Any, **limits: Any) -> MasterServer:
    server = MasterServer(path, dispatcher, **limits)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server


@pytest.fixture
def serve(sock_dir: Path) -> Iterator[Any]:
    servers: list[MasterServer] = []

    def start(dispatcher: Any = None, **limits: Any) -> Path:
        path = sock_dir / f"s{len(servers)}"
        servers.append(_serve(path, dispatcher or Echo(), **limits))
        return path

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _connect(path: Path, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(path))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (a timeout fails the test)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data  # closed with our unread request still queued: also the end
        if not chunk:
            return data
        data += chunk


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the reply"
        data += chunk
    return data


def _call(sock: socket.socket, method: str, **args: Any) -> dict[str, Any]:
    sock.sendall(protocol.encode({"method": method, "args": args}))
    return dict(protocol.decode(_read_line(sock)))


def test_idle_connection_is_closed(serve: Any) -> None:
    path = serve(idle_timeout=0.3)
    sock = _connect(path)
    assert _call(sock, "ping")["result"] == "pong"
    started = time.monotonic()
    assert _read_all(sock) == b""  # closed by the daemon, not by our 5 s timeout
    assert time.monotonic() - started < 3
    sock.close()


def test_client_reconnects_after_the_daemon_closed_an_idle_connection(serve: Any) -> None:
    path = serve(idle_timeout=0.2)
    with Client(path, timeout=5) as client:
        assert client.call("ping") == "pong"
        time.sleep(0.6)
        assert client.call("ping") == "pong"


def test_connections_beyond_the_cap_get_one_error(serve: Any) -> None:
    path = serve(max_connections=2)
    first, second = _connect(path), _connect(path)
    assert _call(first, "ping")["result"] == "pong"
    assert _call(second, "ping")["result"] == "pong"
    third = _connect(path)
    reply = _read_all(third)
    lines = reply.splitlines()
    assert len(lines) == 1, reply
    error = protocol.decode(lines[0])["error"]
    assert error["type"] == "ProtocolError"
    assert "Too many connections" in error["message"] and "(2 open)" in error["message"]
    third.close()
    first.close()
    deadline = time.monotonic() + 5
    while True:  # the slot is free once the server saw the close
        fourth = _connect(path)
        _send_quietly(fourth, protocol.encode({"method": "ping", "args": {}}))
        line = _read_line(fourth)  # a refusal if the server has not yet seen the close
        fourth.close()
        if protocol.decode(line).get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert protocol.decode(line)["result"] == "pong"
    assert _call(second, "ping")["result"] == "pong"
    second.close()


def test_client_reports_the_refusal(serve: Any) -> None:
    path = serve(max_connections=1)
    holder = _connect(path)
    assert _call(holder, "ping")["result"] == "pong"
    with Client(path, timeout=5) as client, pytest.raises(Exception) as err:
        client.call("ping")
    assert "Too many connections" in str(err.value)
    holder.close()


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server closes after its error; the rest is not read


@pytest.mark.parametrize("limit", [1024, None])
def test_oversize_message_gets_one_error_then_close(serve: Any, limit: int | None) -> None:
    path = serve(**({"max_message": limit} if limit else {}))
    size = limit or protocol.MAX_MESSAGE
    sock = _connect(path, timeout=30)
    payload = b'{"method":"ping","args":{"x":"' + b"x" * (size + 10) + b'"}}\n'
    sender = threading.Thread(target=_send_quietly, args=(sock, payload * 2), daemon=True)
    sender.start()
    reply = _read_all(sock)
    sender.join(30)
    lines = reply.splitlines()
    assert len(lines) == 1, reply[:300]
    error = protocol.decode(lines[0])["error"]
    assert error["type"] == "ProtocolError"
    assert f"more than {size} bytes" in error["message"]
    sock.close()


def test_message_under_the_limit_is_served(serve: Any) -> None:
    path = serve(max_message=1024)
    sock = _connect(path)
    assert _call(sock, "ping")["result"] == "pong"
    sock.close()


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"method": 5}\n',
                                  b'{"method": "ping", "args": [1]}\n', b"\xff\xfe\n"])
def test_malformed_request_gets_one_error_then_close(serve: Any, line: bytes) -> None:
    path = serve()
    sock = _connect(path)
    sock.sendall(line + protocol.encode({"method": "ping", "args": {}}))
    lines = _read_all(sock).splitlines()
    assert len(lines) == 1
    error = protocol.decode(lines[0])["error"]
    assert error["type"] == "ProtocolError" and "Invalid request" in error["message"]
    sock.close()


_EMFILE_SCRIPT = textwrap.dedent("""
    import logging, os, resource, sys, threading
    from pathlib import Path
    from gnt.daemon.server import MasterServer

    class Echo:
        def dispatch(self, method, args):
            return "pong"

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    server = MasterServer(Path(sys.argv[1]), Echo())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    spare = []
    try:
        while True:
            spare.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    print("full", flush=True)
    sys.stdin.readline()
    for fd in spare:
        os.close(fd)
    print("freed", flush=True)
    sys.stdin.readline()
""")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_emfile_on_accept_backs_off_and_recovers(sock_dir: Path) -> None:
    path = sock_dir / "m"
    proc = subprocess.Popen([sys.executable, "-c", _EMFILE_SCRIPT, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "full"
        sock = _connect(path, timeout=15)  # queued: the daemon has no descriptor to accept it
        time.sleep(0.3)
        before = _cpu_seconds(proc.pid)
        time.sleep(2.0)
        spent = _cpu_seconds(proc.pid) - before
        assert spent < 0.5, f"the daemon spun on EMFILE: {spent:.2f}s CPU in 2s"
        proc.stdin.write("free\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "freed"
        assert _call(sock, "ping")["result"] == "pong"  # served once descriptors came back
        sock.close()
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "cannot accept connections" in err and "Too many open files" in err
    assert "accepting connections again" in err
    assert err.count("cannot accept connections") == 1  # logged once, not per attempt


# -- strict argument types, against the real handlers of an in-process master -------------

@pytest.fixture
def api(cluster: Any, serve: Any) -> Iterator[socket.socket]:
    sock = _connect(serve(Handlers(cluster.master)))
    yield sock
    sock.close()


@pytest.mark.parametrize("method, args, name", [
    ("set_drain_flag", {"drained": "no"}, "drained"),
    ("set_drain_flag", {"drained": 1}, "drained"),
    ("query", {"what": "instance", "fields": ["name"], "live": "no"}, "live"),
    ("query", {"what": "instance", "fields": "name"}, "fields"),
    ("query_jobs", {"ids": ["1"]}, "ids"),
    ("wait_for_job_change", {"job_id": True}, "job_id"),
    ("autoarchive_jobs", {"age": "1d"}, "age"),
])
def test_request_arguments_have_their_declared_types(cluster: Any, api: socket.socket,
                                                     method: str, args: dict[str, Any],
                                                     name: str) -> None:
    config = cluster.config_bytes()
    reply = _call(api, method, **args)
    assert reply["ok"] is False, reply
    message = reply["error"]["message"]
    assert f"argument '{name}' has invalid value {args[name]!r}" in message
    assert reply["error"]["type"] == "OpPrereqError"
    assert cluster.master.queue.is_drained() is False
    assert cluster.config_bytes() == config
    assert _call(api, "ping")["result"] == "pong"  # the connection stays usable


def test_unknown_and_missing_arguments_are_named(api: socket.socket) -> None:
    reply = _call(api, "set_drain_flag", drained=False, extra=1)
    assert "unknown argument 'extra'" in reply["error"]["message"]
    reply = _call(api, "set_drain_flag")
    assert "required argument 'drained' is missing" in reply["error"]["message"]


def test_well_typed_requests_still_work(cluster: Any, api: socket.socket) -> None:
    assert _call(api, "set_drain_flag", drained=True)["result"] is True
    assert cluster.master.queue.is_drained() is True
    assert _call(api, "set_drain_flag", drained=False)["result"] is True
    reply = _call(api, "query", what="instance", fields=["name"], names=[], live=False)
    assert reply["ok"] is True, reply
    job = _call(api, "submit_job", ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0}])
    assert isinstance(job["result"], int)
    change = _call(api, "wait_for_job_change", job_id=job["result"], prev_status=None,
                   prev_log_serial=0, timeout=5)
    assert change["ok"] is True
    assert json.dumps(change["result"])


def test_opcode_bool_parameter_refuses_a_string(cluster: Any, api: socket.socket) -> None:
    reply = _call(api, "submit_job", ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0,
                                           "on_master": "no"}])
    assert reply["ok"] is False
    assert "'on_master' has invalid value 'no'" in reply["error"]["message"]


def test_a_burst_of_connections_waits_in_the_backlog(sock_dir: Path) -> None:
    """Clients connecting before the daemon accepts (a job and its followers at once) queue
    in the listen backlog; socketserver's default of 5 refused the 6th with EAGAIN."""
    server = MasterServer(sock_dir / "burst", Echo())      # bound and listening, not serving
    clients = []
    try:
        for _attempt in range(40):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect(str(sock_dir / "burst"))          # BlockingIOError on a full backlog
            clients.append(sock)
    finally:
        for sock in clients:
            sock.close()
        server.server_close()
    assert len(clients) == 40
