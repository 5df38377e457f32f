"""gnt-instance failover of a drbd instance whose primary node crashed (issue 14, faults): the
refusal without --ignore-consistency (config untouched), the failover with it (the dead node
never contacted, a warning naming it), a node that dies during the stop, and the disks of a
stopped instance left down on the new primary, as Ganeti does.

Plays come from the recording executor, the hypervisors and the nodes' DRBD status from fakes
(multinode.py); the real thing runs in tests/integration/test_storage_lab_faults.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS

N2, N3 = "node2.example.com", "node3.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def drbd(cluster, monkeypatch):
    return drbd_cluster(cluster, monkeypatch, N2, N3)


def _create(cluster: Any, start: bool) -> dict[str, Any]:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="drbd",
                      disks=[{"size": "1G"}], pnode=N2, snode=N3, name_check=False,
                      ip_check=False, no_install=True, start=start, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", NAME)


def _plays(cluster: Any, since: int) -> list[tuple[str, dict[str, str]]]:
    return [(play.role, {host: v.get("gnt_drbd_state", "") for host, v in play.hosts.items()})
            for plays in cluster.executor.calls[since:] for play in plays]


def _primary(cluster: Any) -> str:
    store = cluster.master.config
    return str(store.get("nodes", store.find("instances", NAME)["primary_node"])["name"])


def _log(job: Any) -> str:
    return "\n".join(entry[3] for entry in job.ops[0].log)


@pytest.mark.parametrize("start", [True, False])
def test_dead_primary_refused_without_ignore_consistency(cluster, drbd, start):
    _create(cluster, start)
    drbd["hv"].down.add(N2)
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert job.status == ERROR
    msg, code = job.ops[0].result["args"][:2]
    assert f"Could not shut down instance {NAME} on node {N2}" in msg, msg
    assert "--ignore-consistency" in msg and code == "environment_error"
    assert cluster.config_bytes() == before and _plays(cluster, since) == []


def test_dead_primary_running_instance_started_on_the_secondary(cluster, drbd):
    _create(cluster, start=True)
    drbd["hv"].down.add(N2)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME, ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    # N2 is neither stopped nor asked to tear down its ends; N3 is forced primary and starts
    assert _plays(cluster, since) == [("instance_drbd", {N3: "primary"}),
                                      ("instance_start", {N3: ""})]
    assert cluster.executor.calls[-1][0].hosts[N3]["gnt_drbd_force"] is True
    assert _primary(cluster) == N3
    log = _log(job)
    assert f"WARNING: Could not shut down instance {NAME} on node {N2}" in log, log
    assert "gnt-node add --readd" in log


def test_dead_primary_stopped_instance_disks_left_down(cluster, drbd):
    inst = _create(cluster, start=False)
    drbd["hv"].down.add(N2)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME, ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_drbd", {N3: "down"}),
                                      ("instance_define", {N3: ""})]
    store = cluster.master.config
    [disk] = store.instance_disks(store.get("instances", inst["uuid"]))
    assert disk["nodes"] == [store.lookup("nodes", N3)["uuid"], store.lookup("nodes", N2)["uuid"]]


def test_offline_primary_needs_no_ignore_consistency(cluster, drbd):
    _create(cluster, start=True)
    drbd["hv"].down.add(N2)
    assert cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True).status == SUCCESS
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert job.status == SUCCESS, job.ops[0].log
    roles = [role for role, _hosts in _plays(cluster, since)]
    assert roles == ["instance_drbd", "instance_start"]
    assert f"Primary node {N2} is offline: not contacted" in _log(job)
    assert _primary(cluster) == N3


def _dies_during_stop(cluster: Any, drbd: dict[str, Any], monkeypatch: Any) -> None:
    """The stop's run fails and N2 answers no more afterwards (it crashed meanwhile)."""
    executor = cluster.executor
    run = executor.run

    def crashing(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        result = run(plays, nodes, feedback)
        if any(play.role == "instance_stop" for play in plays):
            drbd["hv"].down.add(N2)
        return result

    executor.fail_roles["instance_stop"] = "connection reset"
    monkeypatch.setattr(executor, "run", crashing)


def test_primary_dying_during_the_stop(cluster, drbd, monkeypatch):
    _create(cluster, start=True)
    _dies_during_stop(cluster, drbd, monkeypatch)
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert job.status == ERROR and "connection reset" in job.ops[0].result["args"][0]
    assert cluster.config_bytes() == before
    drbd["hv"].down.discard(N2)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME, ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert _primary(cluster) == N3
    assert f"WARNING: Could not shut down instance {NAME} on node {N2}" in _log(job)


def test_stop_failing_on_an_answering_primary_is_never_ignored(cluster, drbd):
    _create(cluster, start=True)
    cluster.executor.fail_roles["instance_stop"] = "domain refuses to stop"
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME, ignore_consistency=True)
    assert job.status == ERROR and "domain refuses to stop" in job.ops[0].result["args"][0]
    assert cluster.config_bytes() == before and _primary(cluster) == N2


def test_node_back_online_must_answer(cluster, drbd):
    """Ganeti's check when a node leaves the offline role (after a crash): refused while it
    does not answer, config unchanged; then allowed with a warning pointing at --readd."""
    drbd["hv"].down.add(N2)
    assert cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True).status == SUCCESS
    before = cluster.config_bytes()
    job = cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=False)
    assert job.status == ERROR
    msg, code = job.ops[0].result["args"][:2]
    assert f"Node {N2} is being brought back online but does not answer" in msg, msg
    assert code == "wrong_state" and cluster.config_bytes() == before
    drbd["hv"].down.discard(N2)
    job = cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=False)
    assert job.status == SUCCESS, job.ops[0].log
    assert "gnt-node add --readd" in _log(job)
    assert not cluster.master.config.lookup("nodes", N2)["offline"]
