"""gnt-node repair-storage, coordinator side (issue 14): Ganeti's checks before the
``node_storage`` role repairs a volume group: the storage type enabled, and no faulty disks on
the other node of an instance with active disks on the node (a warning with
--ignore-consistency); the progress and failure messages. The role runs for real in
tests/integration/test_storage_lab_disks.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import rpc

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"


@pytest.fixture
def drbd(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """inst1 (drbd, N1:N2, started: its disks are active) and plain p1 on N3."""
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    for name, kw in (("inst1.example.com", {"disk_template": "drbd", "pnode": N1,
                                            "snode": N2, "start": True}),
                     ("p1.example.com", {"disk_template": "plain", "pnode": N3,
                                         "start": False})):
        job = cluster.run("OP_INSTANCE_CREATE", instance_name=name, disks=[{"size": "1G"}],
                          name_check=False, ip_check=False, no_install=True, os_type="blank",
                          **kw)
        assert job.status == SUCCESS, job.ops[0].log
    return state


def _repair(cluster: Any, node: str, **kw: Any) -> Any:
    return cluster.run("OP_REPAIR_NODE_STORAGE", node_name=node, storage_type="lvm-vg",
                       name="xenvg", **kw)


def _repairs(cluster: Any, since: int) -> list[str]:
    return [host for plays in cluster.executor.calls[since:] for play in plays
            if play.role == "node_storage" for host in play.hosts]


def _log(job: Any) -> str:
    return "\n".join(str(entry[3]) for entry in job.ops[0].log)


def test_healthy_peers_repair_with_Ganetis_progress_line(cluster: Any, drbd: Any) -> None:
    since = len(cluster.executor.calls)
    job = _repair(cluster, N1)
    assert job.status == SUCCESS, job.ops[0].log
    assert "Repairing storage unit 'xenvg' on node1.example.com ..." in _log(job)
    assert _repairs(cluster, since) == [N1]


def test_a_faulty_peer_refuses_unless_ignore_consistency(cluster: Any, drbd: Any) -> None:
    drbd["local_disk"][N2] = "faulty"
    since, before = len(cluster.executor.calls), cluster.config_bytes()
    job = _repair(cluster, N1)
    assert job.status == ERROR
    assert "Instance 'inst1.example.com' has faulty disks on node 'node2.example.com'" in \
        str(job.ops[0].result)
    assert _repairs(cluster, since) == [] and cluster.config_bytes() == before
    job = _repair(cluster, N1, ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert "WARNING: Instance 'inst1.example.com' has faulty disks on node" in _log(job)
    assert _repairs(cluster, since) == [N1]
    # the faulty node itself: its peer (N1) is fine; N3 has no mirrored instance
    assert _repair(cluster, N2).status == SUCCESS
    assert _repair(cluster, N3).status == SUCCESS


def test_stopped_instances_are_not_checked(cluster: Any, drbd: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """As Ganeti: only instances whose disks are active (started, or activated) count."""
    job = cluster.run("OP_INSTANCE_SHUTDOWN", instance_name="inst1.example.com", timeout=0)
    assert job.status == SUCCESS, job.ops[0].log
    monkeypatch.setattr(rpc, "drbd_status", lambda store, node: {})   # nothing assembled
    drbd["local_disk"][N2] = "faulty"
    assert _repair(cluster, N1).status == SUCCESS


def test_unreachable_peer(cluster: Any, drbd: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(store: Any, node: dict[str, Any]) -> Any:
        raise rpc.NodeDown(f"{node['name']}: ssh failed")
    monkeypatch.setattr(rpc, "drbd_status", down)
    job = _repair(cluster, N1)
    assert job.status == ERROR
    assert "Failed to get disk status from node node2.example.com" in str(job.ops[0].result)
    assert _repair(cluster, N1, ignore_consistency=True).status == SUCCESS


def test_type_must_be_enabled_and_repairable(cluster: Any, drbd: Any) -> None:
    before = cluster.config_bytes()
    job = cluster.run("OP_REPAIR_NODE_STORAGE", node_name=N3, storage_type="file",
                      name="/srv")
    assert job.status == ERROR
    assert "Storage units of type 'file' can not be repaired" in str(job.ops[0].result)
    job = cluster.run("OP_REPAIR_NODE_STORAGE", node_name="nosuchnode", storage_type="lvm-vg",
                      name="xenvg")
    assert job.status == ERROR and "Node 'nosuchnode' not known" in str(job.ops[0].result)
    assert cluster.config_bytes() == before


def test_failure_names_unit_and_node(cluster: Any, drbd: Any) -> None:
    cluster.executor.fail_roles["node_storage"] = "Volume group xenvg not found"
    job = _repair(cluster, N3)
    assert job.status == ERROR
    assert "Failed to repair storage unit 'xenvg' on node3.example.com" in \
        str(job.ops[0].result)
