"""Relayed requests of the warm module interpreter (gnt.nodes.modexec_relay, issue 11): what the
master sends through a socket forwarded over SSH, which carries no descriptors. A node's server
(the bundle's: Ansible's module_utils from the zip beside modexec.py) links its socket under a
stable name, runs a relayed payload as a session of its own and relays the module's output and
exit code; a server whose files changed does not take it, and nothing runs.

Real processes: the server is started by a client as Ansible starts one; the relayed requests
go straight to the stable link (the SSH forward is tested in the lab).
"""

from __future__ import annotations

import _socket
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gnt.nodes import modexec, modexec_bundle

VERSION = "9.9.9"
#: What makes the client pick the server of the bundle's zip (see modexec.payload_version).
MARK = f'# "_ansible_version": "{VERSION}"\n'


@pytest.fixture
def node(servers, tmp_path) -> Path:
    """A node's modexec directory (the bundle's files and a zip of module_utils) with its server
    started by a module task's client: from the directory ``home``, umask 027, and the
    environment variable ``SESSION_MARK``."""
    directory = tmp_path / "modexec"
    directory.mkdir()
    for path in modexec_bundle.MODEXEC_FILES:
        shutil.copy(path, directory / path.name)
    utils = Path(modexec_bundle._ansible()[1])
    (directory / f"ansible-{VERSION}.zip").write_bytes(
        modexec_bundle._utils_zip(VERSION, utils, tuple(modexec_bundle._sources(utils))))
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run([sys.executable, "-I", str(directory / "modexec.py")],
                          input=MARK + "print('first')\n", capture_output=True, text=True,
                          cwd=home, env={**os.environ, "SESSION_MARK": "from the session"},
                          preexec_fn=lambda: os.umask(0o027), check=False, timeout=60)
    assert (done.returncode, done.stdout) == (0, "first\n"), done.stderr
    return directory


def relay(node: Path, payload: str) -> tuple[int, bytes, bytes] | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(modexec.relay_link(str(node), VERSION))
        return modexec.relay(sock, (MARK + payload).encode())
    finally:
        sock.close()


def test_a_relayed_module_runs_as_a_session_of_its_server_with_its_output_relayed(node, servers):
    link = modexec.relay_link(str(node), VERSION)
    [server] = servers.pids()
    assert os.readlink(link) == f"{servers.path}/{Path(os.readlink(link)).parent.name}/sock"
    rc, out, err = relay(node, """
import os, sys
print(os.environ.get("SESSION_MARK"), os.getcwd(), oct(os.umask(0)), sep="|")
sys.stderr.write("to stderr\\n")
print("x" * 300000)
sys.exit(3)
""")
    assert rc == 3
    first, big = out.decode().splitlines()
    assert first == f"from the session|{node.parent / 'home'}|0o27"
    assert big == "x" * 300000
    assert err == b"to stderr\n"
    assert servers.pids() == [server]              # the same server took it


def test_a_module_killed_by_a_signal_reports_as_a_shell_would(node):
    assert relay(node, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")[0] == 137
    rc, out, err = relay(node, "raise RuntimeError('boom')\n")
    assert rc == 1 and b"RuntimeError: boom" in err and out == b""


def test_a_server_whose_files_changed_takes_no_relayed_request(node, tmp_path):
    server_file = node / "modexec_server.py"
    os.utime(server_file, ns=(time.time_ns(), time.time_ns() + 10**9))   # a new bundle's file
    marker = tmp_path / "ran"
    assert relay(node, f"open({str(marker)!r}, 'w').close()\n") is None
    assert not marker.exists()                     # nothing ran: the task may go elsewhere


def test_a_client_gone_stops_the_module_and_what_it_started(node, tmp_path):
    pids = tmp_path / "pids"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(modexec.relay_link(str(node), VERSION))
    payload = (MARK + f"""
import os, subprocess, time
child = subprocess.Popen(["sleep", "60"])
with open({str(pids)!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(60)
""").encode()
    sock.sendall(modexec.HEADER.pack(0, len(payload)) + payload)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    module, sleeper = (int(pid) for pid in pids.read_text().split())
    sock.close()                                   # the task stopped (Ansible's worker killed)
    deadline = time.monotonic() + 10
    while _alive(module) or _alive(sleeper):
        assert time.monotonic() < deadline, "the module outlived its client"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_a_server_that_exits_removes_its_link(node, servers):
    link = modexec.relay_link(str(node), VERSION)
    [server] = servers.pids()
    os.kill(server, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while os.path.lexists(link):
        assert time.monotonic() < deadline, "the link outlived its server"
        time.sleep(0.05)


def test_the_masters_own_server_takes_no_relayed_request(servers, tmp_path):
    """A server warmed from the installed Ansible (the master's) makes no link."""
    directory = tmp_path / "master"
    directory.mkdir()
    for path in modexec_bundle.MODEXEC_FILES:
        shutil.copy(path, directory / path.name)
    version = modexec._installed_ansible_version()
    done = subprocess.run([sys.executable, "-I", str(directory / "modexec.py")],
                          input=f'# "_ansible_version": "{version}"\nprint(1)\n',
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout == "1\n", done.stderr
    assert len(servers.pids()) == 1
    assert [path.name for path in directory.iterdir() if path.name.startswith("relay")] == []
