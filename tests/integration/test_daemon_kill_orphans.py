"""kill -9 of the master daemon while a job runs Ansible: the restarted daemon stops the
orphaned ansible-playbook (and what it started) and fails the job truthfully (issue 10)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
BUILDER = "gnt warm worker: building module payloads"


def _run_processes(root: Path, daemon: int = 0) -> list[str]:
    """Command lines of live processes started for an Ansible run of the cluster at ``root``
    (not counting the idle warm worker of the live master daemon ``daemon`` and its payload
    builder)."""
    needle = f"GNT_ANSIBLE_RUN={root}/var/lib/gnt/ansible/runs/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            if daemon and int(parent) == daemon:
                continue
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state != "Z" and needle in environ and not cmdline.startswith(BUILDER):
            found.append(cmdline)
    return found


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["warm", "runner"])
def gnt(tmp_path, monkeypatch, request):
    monkeypatch.setenv("GNT_ANSIBLE_EXECUTOR", request.param)  # the daemon inherits it
    gnt = make_cluster(tmp_path, "cluster.orphan.example")
    yield gnt
    gnt.run("gnt-masterd", "start", check=False)
    destroy_cluster(gnt)


def test_restart_stops_the_runs_of_a_killed_daemon(gnt):
    node = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()[0]
    job = gnt.run("gnt-debug", "delay", "--submit", "--no-master", "-n", node, "120"
                  ).stdout.split()[-1]
    _wait(lambda: any(cmd.startswith("sleep 120") for cmd in _run_processes(gnt.root)), 60,
          "the delay job's sleep on the node")
    pid = int((gnt.root / "var/run/gnt/gnt-masterd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    orphans = _run_processes(gnt.root)
    assert any("ansible-playbook" in cmd for cmd in orphans)  # the run outlives its daemon
    assert any(cmd.startswith("sleep 120") for cmd in orphans)
    gnt.run("gnt-masterd", "start")
    daemon = int((gnt.root / "var/run/gnt/gnt-masterd.pid").read_text())
    _wait(lambda: not _run_processes(gnt.root, daemon), 30, "the orphaned run to be stopped")
    info = gnt.run("gnt-job", "info", job).stdout
    assert "master daemon restarted" in info
    assert gnt.run("gnt-debug", "delay", "--no-master", "-n", node, "0.1").returncode == 0
