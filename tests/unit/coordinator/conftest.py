"""Fixtures: a one-node cluster under a temp GNT_ROOT, run by an in-process master daemon
whose executor records plays instead of running Ansible, and whose hypervisor is faked; a
private directory of warm module interpreter servers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt.admin import bootstrap
from gnt.core import resolver
from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import FINALIZED
from gnt.daemon.handlers import Handlers
from gnt.daemon.state import Master
from gnt.nodes import bridges, checks, live
from gnt.nodes.recording import RecordingExecutor


class FakeHypervisor:
    """Domains that 'run' after instance_start and stop after instance_stop/remove."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.free_mib = 8192

    def domains(self, node: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {name: {"state": "running", "memory_mib": mem, "maxmem_mib": mem, "vcpus": 1,
                       "id": 1} for name, mem in self.running.items()}


class TrackingExecutor(RecordingExecutor):
    def __init__(self, hv: FakeHypervisor, **kw: Any) -> None:
        super().__init__(**kw)
        self.hv = hv

    def run(self, plays, nodes, feedback):  # type: ignore[no-untyped-def]
        result = super().run(plays, nodes, feedback)
        if result.ok:
            for play in plays:
                for host_vars in play.hosts.values():
                    inst = host_vars.get("gnt_instance")
                    if not inst:
                        continue
                    if play.role in ("instance_start",):
                        self.hv.running[inst["name"]] = inst["memory"]
                    elif play.role in ("instance_stop", "instance_remove"):
                        self.hv.running.pop(inst["name"], None)
        return result


# The cluster's hosts file (GNT_HOSTS_FILE): the names the CLI tests add instances under, at
# addresses that are free unless a test puts them in Cluster.live_ips.
HOSTS = """198.18.0.11 node1.example.com node1
198.18.0.101 inst1.example.com inst1
198.18.0.102 web-1.example2
"""

# Opcodes that resolve the new instance name and check its IP unless told not to.
NAME_CHECKED_OPS = ("OP_INSTANCE_CREATE", "OP_INSTANCE_RENAME")


class Cluster:
    def __init__(self, master: Master, executor: TrackingExecutor, hv: FakeHypervisor) -> None:
        self.master = master
        self.executor = executor
        self.hv = hv
        self.api = Handlers(master)
        # Addresses where a host "answers" the IP check (unit tests never touch the network).
        self.live_ips: set[str] = set()

    def submit(self, op_id: str, **params: Any) -> int:
        if op_id in NAME_CHECKED_OPS:
            # Test instance names are in no hosts file: tests about names pass the checks.
            params = {"name_check": False, "ip_check": False, **params}
        return self.api.submit_job([{"OP_ID": op_id, **params}])

    def wait(self, job_id: int, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.master.queue.get(job_id)
            if job.status in FINALIZED:
                return job
            time.sleep(0.01)
        raise AssertionError(f"job {job_id} did not finish: {job.status}")

    def run(self, op_id: str, **params: Any) -> Any:
        return self.wait(self.submit(op_id, **params))

    def children(self, job: Any) -> list[Any]:
        """The jobs the first opcode of ``job`` submitted (its result's ``jobs``: Ganeti's
        ``[[True, id], ...]``), each waited for."""
        answers = job.ops[0].result["jobs"]
        assert all(ok for ok, _id in answers), answers
        return [self.wait(job_id) for _ok, job_id in answers]

    def config_bytes(self) -> bytes:
        return self.master.config.path.read_bytes()


def _fake_check_os(store, node, os_name, osparams):
    """The node knows the bundled OS definitions only."""
    if os_name.split("+")[0] in ("tinylinux", "blank"):
        return {"name": os_name}
    raise OpPrereqError(f"OS '{os_name}' not known on node {node['name']}", "wrong_input")


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    monkeypatch.setenv("GNT_NODE_NAME", "node1.example.com")
    monkeypatch.setenv("GNT_NODE_IP", "198.18.0.11")
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS, encoding="utf-8")
    monkeypatch.setenv("GNT_HOSTS_FILE", str(hosts))
    # the machine's real bridges (their alias lists the clusters using them) stay untouched
    monkeypatch.setattr(bridges, "SYS_NET", tmp_path / "sys-class-net")
    hv = FakeHypervisor()
    monkeypatch.setattr(live, "node_domains", lambda store, node: hv.domains(node))
    monkeypatch.setattr(checks, "free_memory", lambda store, node: hv.free_mib)
    monkeypatch.setattr(live, "node_state", lambda store, node: {"domains": hv.domains(node),
                                                                 "mfree": hv.free_mib})
    monkeypatch.setattr(checks, "check_os", _fake_check_os)
    executor = TrackingExecutor(hv)
    bootstrap.init_cluster("cluster.example.com", executor=executor, start_master=False,
                           feedback=lambda msg: None)
    master = Master(executor=executor, workers=8)
    master.start()
    test_cluster = Cluster(master, executor, hv)
    monkeypatch.setattr(resolver, "ip_in_use", lambda address, *a, **kw: address in test_cluster.live_ips)
    yield test_cluster
    master.stop()


class ModexecServers:
    """The warm module interpreter servers of one test: their directory (GNT_MODEXEC_DIR)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def alive(pid: int) -> bool:
        """True while process ``pid`` runs (not gone, not a zombie)."""
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                return stat.read().split(") ")[1][0] != "Z"
        except OSError:
            return False

    def pids(self) -> list[int]:
        """PIDs of the servers serving from this directory."""
        out = subprocess.run(["pgrep", "-f", f"modexec.py --serve {self.path}/"],
                             capture_output=True, text=True, check=False).stdout
        return [int(pid) for pid in out.split()]


@pytest.fixture
def servers(tmp_path, monkeypatch) -> Iterator[ModexecServers]:
    """A private server directory for this test; the servers started in it are stopped."""
    path = tmp_path / "modexec-run"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("GNT_MODEXEC_DIR", str(path))
    made = ModexecServers(path)
    yield made
    for pid in made.pids():
        os.kill(pid, signal.SIGKILL)
