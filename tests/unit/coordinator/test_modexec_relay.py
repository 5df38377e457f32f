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


def test_a_client_gone_stops_the_module_and_what_it_started(node, servers, tmp_path):
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
    while servers.alive(module) or servers.alive(sleeper):
        assert time.monotonic() < deadline, "the module outlived its client"
        time.sleep(0.05)


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


def _start_python_server(directory: Path, relay_dir: Path) -> None:
    """Start the server without Ansible of this Python with modexec.py in ``directory``, as a
    node call's client does (naming ``relay_dir``)."""
    done = subprocess.run([sys.executable, "-I", str(directory / "modexec.py")],
                          input="print('first')\n", capture_output=True, text=True,
                          env={**os.environ, modexec.RELAY_DIR_ENV: str(relay_dir)},
                          check=False, timeout=60)
    assert (done.returncode, done.stdout) == (0, "first\n"), done.stderr


@pytest.fixture
def code_dir(tmp_path) -> Path:
    """modexec.py and the files beside it, as in the master's code tree."""
    directory = tmp_path / "code"
    directory.mkdir()
    for path in modexec_bundle.MODEXEC_FILES:
        shutil.copy(path, directory / path.name)
    return directory


def test_a_node_call_server_links_its_socket_where_its_client_said(servers, code_dir, tmp_path):
    relay_dir = tmp_path / "modexec"
    relay_dir.mkdir(mode=0o755)
    _start_python_server(code_dir, relay_dir)
    link = modexec.python_relay_link(str(relay_dir), sys.executable)
    assert os.readlink(link).startswith(f"{servers.path}/")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(link)
    try:
        assert modexec.relay(sock, b"import sys\nprint('answer')\nsys.exit(2)\n") == \
            (2, b"answer\n", b"")
    finally:
        sock.close()


def test_no_link_in_a_directory_others_can_write_to(servers, code_dir, tmp_path):
    relay_dir = tmp_path / "open"
    relay_dir.mkdir()
    relay_dir.chmod(0o777)
    _start_python_server(code_dir, relay_dir)
    assert len(servers.pids()) == 1
    assert list(relay_dir.iterdir()) == []


def test_a_server_links_its_socket_once_the_directory_is_there(servers, code_dir, tmp_path):
    """A node call before the node's modexec directory exists (gnt-node add) starts the server;
    a later request finds the directory and the server links its socket then."""
    relay_dir = tmp_path / "later"
    _start_python_server(code_dir, relay_dir)
    relay_dir.mkdir(mode=0o755)
    link = modexec.python_relay_link(str(relay_dir), sys.executable)
    _start_python_server(code_dir, relay_dir)          # the same server takes this request
    assert len(servers.pids()) == 1
    assert os.readlink(link).startswith(f"{servers.path}/")


def test_a_server_links_its_socket_when_the_directory_appears_without_a_request(
        servers, code_dir, tmp_path):
    """The directory made after the server started (gnt-node add) and no request over SSH
    since: the server links its socket within its 5 s loop, so that the relayed requests
    (config pushes, node calls) reach it."""
    relay_dir = tmp_path / "later"
    _start_python_server(code_dir, relay_dir)
    link = modexec.python_relay_link(str(relay_dir), sys.executable)
    relay_dir.mkdir(mode=0o755)
    deadline = time.monotonic() + 15
    while not os.path.lexists(link):
        assert time.monotonic() < deadline, "no link 15 s after the directory appeared"
        time.sleep(0.2)
    assert os.readlink(link).startswith(f"{servers.path}/")
    assert len(servers.pids()) == 1


def test_a_server_started_from_a_directory_since_removed_serves_on(servers, code_dir, tmp_path):
    """The master's module server is started from a run's directory, removed after the run:
    looking for its relay link must not stop it serving."""
    gone = tmp_path / "run-dir"
    gone.mkdir()
    version = modexec._installed_ansible_version()
    client = [sys.executable, "-I", str(code_dir / "modexec.py")]
    first = subprocess.run(client, input=f'# "_ansible_version": "{version}"\nprint(1)\n',
                           capture_output=True, text=True, cwd=gone, check=False, timeout=60)
    assert first.stdout == "1\n", first.stderr
    gone.rmdir()
    for number in (2, 3):
        again = subprocess.run(client, input=f'# "_ansible_version": "{version}"\nprint({number})\n',
                               capture_output=True, text=True, cwd=tmp_path, check=False,
                               timeout=60)
        assert (again.returncode, again.stdout) == (0, f"{number}\n"), again.stderr
    assert len(servers.pids()) == 1
