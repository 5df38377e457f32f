"""drbd instances, coordinator side (issue 14): which node's DRBD ends go to which state in
create, startup, shutdown, remove, failover and live migration, and Ganeti's refusals (target
other than the secondary, a degraded target).

Plays come from the recording executor (their vars checked against the roles' argument specs),
the hypervisor and the nodes' DRBD status from fakes; the node side runs for real in the lab's
guest nodes (tests/integration/test_storage_lab.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"


@pytest.fixture
def drbd(cluster, monkeypatch):
    # every configured minor of every node up to date, unless a test says otherwise
    return drbd_cluster(cluster, monkeypatch, N2, N3)


def _create(cluster, name="inst1.example.com", nodes=(N1, N2), **kw):
    spec = {"instance_name": name, "disk_template": "drbd", "disks": [{"size": "1G"}],
            "pnode": nodes[0], "snode": nodes[1], "name_check": False, "ip_check": False,
            "no_install": True, "start": False, "os_type": "blank"}
    spec.update(kw)
    job = cluster.run("OP_INSTANCE_CREATE", **spec)
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", name)


def _plays(cluster, since: int = 0) -> list[tuple[str, dict[str, str]]]:
    """(role, {host: drbd state or ''}) of every play run since call ``since``."""
    return [(play.role, {host: v.get("gnt_drbd_state", "") for host, v in play.hosts.items()})
            for plays in cluster.executor.calls[since:] for play in plays]


def test_create_makes_both_ends_forces_the_primary_and_waits_for_sync(cluster, drbd):
    inst = _create(cluster)
    [create_run] = cluster.executor.calls[-1:]
    assert [p.role for p in create_run] == ["instance_drbd", "instance_create"]
    ends = create_run[0].hosts
    assert {h: v["gnt_drbd_state"] for h, v in ends.items()} == {N1: "primary", N2: "secondary"}
    assert ends[N1]["gnt_drbd_create"] and ends[N2]["gnt_drbd_create"]
    assert ends[N1]["gnt_drbd_force"] and ends[N1]["gnt_drbd_wait_sync"]
    assert ends[N2]["gnt_drbd_force"] is False and ends[N2]["gnt_drbd_wait_sync"] is False
    assert set(ends[N1]) == set(ends[N2])          # the executor passes vars by name
    [p_end], [s_end] = ends[N1]["gnt_drbd"], ends[N2]["gnt_drbd"]
    [disk] = cluster.master.config.instance_disks(inst)
    master_ip = cluster.master.config.lookup("nodes", N1)["secondary_ip"]
    assert (p_end["local_address"], p_end["peer_address"]) == (master_ip, "198.18.0.12")
    assert s_end["peer_address"] == p_end["local_address"]
    assert p_end["port"] == s_end["port"] == disk["logical_id"][2]
    assert p_end["secret"] == s_end["secret"] == disk["logical_id"][5]
    assert (p_end["data_lv"], p_end["meta_lv"]) == (disk["children"][0]["logical_id"][1],
                                                    disk["children"][1]["logical_id"][1])
    assert p_end["link"] == s_end["link"] and p_end["link"].endswith("inst1.example.com:0")
    # the domain and the OS scripts use the link, the same path on both nodes
    spec = create_run[1].hosts[N1]["gnt_instance"]
    assert spec["disks"][0]["path"] == p_end["link"]


def test_no_wait_for_sync_skips_the_wait(cluster, drbd):
    _create(cluster, wait_for_sync=False)
    ends = cluster.executor.calls[-1][0].hosts
    assert ends[N1]["gnt_drbd_wait_sync"] is False


def test_minors_differ_per_node_but_the_link_does_not(cluster, drbd):
    _create(cluster, "a.example.com", nodes=(N1, N3))
    _create(cluster, "b.example.com", nodes=(N2, N3))      # N3's minor 1, N2's minor 0
    ends = cluster.executor.calls[-1][0].hosts
    assert (ends[N2]["gnt_drbd"][0]["minor"], ends[N3]["gnt_drbd"][0]["minor"]) == (0, 1)


def test_startup_assembles_both_ends_then_starts(cluster, drbd):
    inst = _create(cluster)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_drbd", {N1: "primary", N2: "secondary"}),
                                      ("instance_start", {N1: ""})]
    assert cluster.executor.calls[-1][0].hosts[N1]["gnt_drbd_force"] is False


def test_shutdown_tears_both_ends_down(cluster, drbd):
    inst = _create(cluster, start=True)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_stop", {N1: ""}),
                                      ("instance_drbd", {N1: "down", N2: "down"})]


def test_remove_removes_both_ends_and_skips_an_offline_secondary(cluster, drbd):
    inst = _create(cluster)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_REMOVE", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_remove", {N1: ""}),
                                      ("instance_drbd", {N1: "absent", N2: "absent"})]
    other = _create(cluster, "other.example.com")
    assert cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True,
                       force=True).status == SUCCESS
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_REMOVE", instance_name=other["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_remove", {N1: ""}),
                                      ("instance_drbd", {N1: "absent"})]
    assert any("node2.example.com is offline" in entry[3] for entry in job.ops[0].log)


def test_failover_goes_to_the_secondary_and_swaps_the_roles(cluster, drbd):
    inst = _create(cluster, start=True)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        ("instance_stop", {N1: ""}),
        ("instance_drbd", {N1: "down"}),
        ("instance_drbd", {N2: "primary", N1: "secondary"}), ("instance_start", {N2: ""})]
    store = cluster.master.config
    moved = store.get("instances", inst["uuid"])
    assert moved["primary_node"] == store.lookup("nodes", N2)["uuid"]
    [disk] = store.instance_disks(moved)
    assert disk["nodes"] == [store.lookup("nodes", N2)["uuid"], store.lookup("nodes", N1)["uuid"]]
    assert store.instance_secondaries(moved) == [store.lookup("nodes", N1)["uuid"]]
    assert drbd["hv"].where(inst["name"]) == [N2]
    from gnt.daemon.handlers import Handlers

    [row] = Handlers(cluster.master).node_drbd(N2)    # gnt-node list-drbd follows the roles
    assert row[2:5] == [inst["name"], 0, "primary"] and row[5] == N1
    # and back again: the first node is the secondary now
    back = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"])
    assert back.status == SUCCESS, back.ops[0].log
    assert store.get("instances", inst["uuid"])["primary_node"] == store.lookup("nodes", N1)["uuid"]


@pytest.mark.parametrize("kw, needle", [
    ({"target_node": N3}, "cannot be failed over to arbitrary nodes"),
    ({"iallocator": "hail"}, "cannot be failed over to arbitrary nodes"),
])
def test_failover_target_must_be_the_secondary(cluster, drbd, kw, needle):
    inst = _create(cluster, start=True)
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"], **kw)
    assert job.status == ERROR and needle in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before


def test_failover_refused_while_the_target_is_degraded(cluster, drbd):
    inst = _create(cluster, start=True)
    drbd["disk"] = "Inconsistent"
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"])
    assert job.status == ERROR
    assert "Disk 0 is degraded on target node node2.example.com" in str(job.ops[0].result)
    assert cluster.config_bytes() == before and _plays(cluster, since) == []
    assert drbd["hv"].where(inst["name"]) == [N1]
    # --ignore-consistency goes on and forces the new primary
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"],
                      ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    assembled = cluster.executor.calls[-1][-2].hosts
    assert assembled[N2]["gnt_drbd_force"] is True


def test_failover_of_a_dead_primary_leaves_it_alone(cluster, drbd):
    inst = _create(cluster, start=True)
    drbd["hv"].down.add(N1)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=inst["name"],
                      ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_drbd", {N2: "primary"}),
                                      ("instance_start", {N2: ""})]


def test_live_migration_allows_two_primaries_only_meanwhile(cluster, drbd):
    inst = _create(cluster, start=True)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_MIGRATE", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        ("instance_drbd", {N1: "primary", N2: "primary"}), ("instance_migrate", {N1: ""}),
        ("instance_drbd", {N1: "secondary"}), ("instance_drbd", {N2: "primary", N1: "up"})]
    runs = cluster.executor.calls[since:]
    assert len(runs) == 1      # the disks settle in the migration's run, after a checkpoint
    assert runs[0][1].then is not None
    dual = runs[0][0].hosts
    assert dual[N1]["gnt_drbd_dual"] and dual[N2]["gnt_drbd_dual"]
    assert dual[N1]["gnt_drbd_require_synced"]
    assert runs[0][1].hosts[N1]["gnt_migration"]["unsafe"] is True
    assert not any(v.get("gnt_drbd_dual") for v in runs[-1][-1].hosts.values())
    store = cluster.master.config
    assert store.get("instances", inst["uuid"])["primary_node"] == \
        store.lookup("nodes", N2)["uuid"]


def test_failed_migration_keeps_the_source_primary(cluster, drbd):
    inst = _create(cluster, start=True)
    cluster.executor.fail_roles = {"instance_migrate": "migration failed: connection reset"}
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_MIGRATE", instance_name=inst["name"])
    assert job.status == ERROR
    assert "still on node1.example.com" in str(job.ops[0].result)
    assert _plays(cluster, since)[-2:] == [("instance_drbd", {N2: "secondary"}),
                                           ("instance_drbd", {N1: "primary", N2: "up"})]
    store = cluster.master.config
    assert store.get("instances", inst["uuid"])["primary_node"] == \
        store.lookup("nodes", N1)["uuid"]


def _children_ops(cluster, job) -> list[tuple[str, dict[str, Any]]]:
    assert job.status == SUCCESS, job.ops[0].log
    children = cluster.children(job)
    for child in children:
        assert child.status == SUCCESS, child.ops[0].log
    return [(child.ops[0].op_id, child.ops[0].input) for child in children]


def test_node_migrate_and_evacuate_use_the_secondary(cluster, drbd):
    store = cluster.master.config
    running = _create(cluster, "run.example.com", start=True)
    stopped = _create(cluster, "stop.example.com", nodes=(N1, N2))
    ops = _children_ops(cluster, cluster.run("OP_NODE_MIGRATE", node_name=N1))
    assert [(op_id, op["instance_name"], op.get("target_node")) for op_id, op in ops] == [
        ("OP_INSTANCE_MIGRATE", running["name"], None)]
    assert store.get("instances", running["uuid"])["primary_node"] == \
        store.lookup("nodes", N2)["uuid"]
    # evacuate the primaries of N1: the stopped one fails over to its secondary
    ops = _children_ops(cluster, cluster.run("OP_NODE_EVACUATE", node_name=N1,
                                             mode="primary-only"))
    assert [(op_id, op["instance_name"]) for op_id, op in ops] == [
        ("OP_INSTANCE_FAILOVER", stopped["name"])]
    assert store.get("instances", stopped["uuid"])["primary_node"] == \
        store.lookup("nodes", N2)["uuid"]
    # both are secondaries on N1 now: -s gives them a new secondary (N3)
    ops = _children_ops(cluster, cluster.run("OP_NODE_EVACUATE", node_name=N1,
                                             mode="secondary-only", remote_node=N3))
    assert sorted((op_id, op["instance_name"], op["mode"], op["remote_node"])
                  for op_id, op in ops) == [
        ("OP_INSTANCE_REPLACE_DISKS", name, "replace_new_secondary", N3)
        for name in sorted([running["name"], stopped["name"]])]
    n3 = store.lookup("nodes", N3)["uuid"]
    for inst in (running, stopped):
        assert store.instance_secondaries(store.get("instances", inst["uuid"])) == [n3]
    assert store.node_secondary_instances(store.lookup("nodes", N1)["uuid"]) == []
