"""Node calls relayed over the SSH control master (gnt.nodes.relay, issue 11): a call goes
through the forward when there is one and the node's server takes it; otherwise over SSH, with
the forward asked for on that command line; a relayed call that runs past its timeout is
stopped and reported as SSH reports one (exit 124).

Real processes: the node's server is this machine's, reached through a stand-in for the
forward (a symbolic link to the server's stable link; SSH is tested in the lab)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gnt.nodes import agent, modexec, modexec_bundle, relay, ssh

NODE = ssh.Target("node2.example.com", "198.18.0.12")


@pytest.fixture
def node_server(servers, tmp_path, monkeypatch, request) -> Path:
    """The node calls' server of this Python, started by a warm request's client (its files
    copied beside a code tree of their own), linked in the node's modexec directory."""
    # a short root: the forward's local end is a Unix socket path (at most 107 bytes)
    root = Path(tempfile.mkdtemp(prefix="gnt-relay-"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    monkeypatch.setenv("GNT_ROOT", str(root))
    code = tmp_path / "code"
    code.mkdir()
    for path in modexec_bundle.MODEXEC_FILES:
        shutil.copy(path, code / path.name)
    node_dir = Path(relay.relay_dir())
    node_dir.mkdir(parents=True, mode=0o755)
    client = [sys.executable, "-I", "-c", modexec.client_code(str(code / "modexec.py"))]
    done = subprocess.run(client, input=b"print('up')\n", capture_output=True, check=False,
                          timeout=60, env={**os.environ, modexec.RELAY_DIR_ENV: str(node_dir)})
    assert done.stdout == b"up\n", done.stderr
    return node_dir


def _fail_over_ssh(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    raise AssertionError(f"went over SSH: {args} {kwargs}")


def test_a_call_goes_through_the_forward_when_the_node_takes_it(node_server, monkeypatch):
    local, remote = relay.forward_ends(NODE)
    assert Path(remote).parent == node_server
    os.symlink(remote, local)                      # stands in for the control master's forward
    monkeypatch.setattr(ssh, "run", _fail_over_ssh)
    result = relay.run(NODE, "unused", b"import sys\nprint('[1, 2]')\nsys.exit(0)\n", 30)
    assert (result.node, result.rc, result.stdout, result.stderr) == \
        ("node2.example.com", 0, "[1, 2]\n", "")


def test_without_a_forward_the_call_goes_over_ssh_asking_for_one(node_server, monkeypatch):
    seen = []

    def over_ssh(target, command, stdin=None, timeout=60.0, forward=None):  # noqa: ANN001, ANN202
        seen.append((target, command, stdin, forward))
        return ssh.Result(target.name, 0, "{}", "")

    monkeypatch.setattr(ssh, "run", over_ssh)
    command, script = agent.warm_request("domains")
    assert relay.run(NODE, command, script, 30).stdout == "{}"
    assert seen == [(NODE, command, script, relay.forward_ends(NODE))]
    assert command.startswith(f"{modexec.RELAY_DIR_ENV}={node_server} ")


def test_a_relayed_call_past_its_timeout_is_stopped_and_reported_as_ssh_would(
        node_server, servers, tmp_path):
    local, remote = relay.forward_ends(NODE)
    os.symlink(remote, local)
    pid_file = tmp_path / "pid"
    script = (f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
              "time.sleep(60)\n")
    start = time.monotonic()
    result = relay.run(NODE, "unused", script.encode(), 1.0)
    assert result.rc == 124 and "timed out" in result.reason()
    assert time.monotonic() - start < 10
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while servers.alive(pid):
        assert time.monotonic() < deadline, "the call outlived its timeout"
        time.sleep(0.05)


def test_a_config_push_goes_through_the_forward(node_server, monkeypatch):
    """Config replication to a node with a forward: the node's warm interpreter unpacks the
    files (this machine's data dir stands in for the node's), no SSH command runs."""
    from gnt.core import settings
    from gnt.nodes import replication

    local, remote = relay.forward_ends(NODE)
    os.symlink(remote, local)
    monkeypatch.setattr(ssh, "run", _fail_over_ssh)
    data_dir = settings.paths().data_dir
    files = {replication.CONFIG_NAME: b'{"serial_no": 7}', "ssconf_master_node": b"node1\n"}
    result = relay.run(NODE, "unused", replication.unpack_script(str(data_dir), False, files),
                       replication.PUSH_TIMEOUT, stdin=lambda: replication.archive(files))
    assert result.rc == 0, result.stderr
    assert {name: (data_dir / name).read_bytes() for name in files} == files
    assert (data_dir / replication.CONFIG_NAME).stat().st_mode & 0o777 == 0o600
