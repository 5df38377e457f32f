"""gnt-watcher on a real one-node cluster: an instance that should run but crashed is started
again; while the watcher is paused nothing happens; after continue it acts again."""

from __future__ import annotations

import subprocess

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
NAME = "watched.watcher.example"


@pytest.fixture
def gnt(tmp_path):
    gnt = make_cluster(tmp_path, "cluster.watcher.example")
    yield gnt
    destroy_cluster(gnt)


def crash(name: str) -> None:
    subprocess.run(["virsh", "-q", "-c", "qemu:///system", "destroy", name], check=True,
                   capture_output=True)


def test_watcher_restarts_crashed_instances_unless_paused(gnt):
    gnt.run("gnt-instance", "add", "-t", "diskless", "--no-install", "-B", "memory=64M", NAME)
    assert gnt.field(NAME, "status") == "running"
    crash(NAME)
    assert gnt.field(NAME, "status") == "ERROR_down"

    gnt.run("gnt-cluster", "watcher", "pause", "1h")
    out = gnt.run("gnt-watcher").stdout
    assert "paused" in out
    assert gnt.field(NAME, "status") == "ERROR_down"
    assert "paused until" in gnt.run("gnt-cluster", "watcher", "info").stdout

    gnt.run("gnt-cluster", "watcher", "continue")
    assert "not paused" in gnt.run("gnt-cluster", "watcher", "info").stdout
    out = gnt.run("gnt-watcher").stdout
    assert f"Restarting instance {NAME}" in out
    assert gnt.field(NAME, "status") == "running"

    # An instance stopped on purpose stays stopped.
    gnt.run("gnt-instance", "shutdown", "--timeout=0", NAME)
    assert "Restarting" not in gnt.run("gnt-watcher").stdout
    assert gnt.field(NAME, "status") == "ADMIN_down"
