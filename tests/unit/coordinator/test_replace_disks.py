"""replace-disks of drbd instances, coordinator side (issue 14): the plays of -p, -s, -a and
-n (and -I), the config after a change of secondary, and Ganeti's refusals.

Plays from the recording executor (vars checked against the roles' specs), node answers from
fakes; the role runs for real in tests/integration/test_storage_lab_drbd.py.
"""

from __future__ import annotations

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"


@pytest.fixture
def drbd(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    job = cluster.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
                      disk_template="drbd", disks=[{"size": "1G"}, {"size": "512M"}],
                      pnode=N1, snode=N2, name_check=False, ip_check=False, no_install=True,
                      start=True, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    return state


def _replace(cluster, **kw):
    return cluster.run("OP_INSTANCE_REPLACE_DISKS", instance_name="inst1.example.com", **kw)


def _plays(cluster, since):
    return [(p.role, {h: v.get("gnt_drbd_state") or v.get("gnt_drbd_replace_step")
                      for h, v in p.hosts.items()})
            for plays in cluster.executor.calls[since:] for p in plays]


@pytest.mark.parametrize("mode, node", [("replace_on_secondary", N2),
                                        ("replace_on_primary", N1)])
def test_replace_on_one_node(cluster, drbd, mode, node):
    since = len(cluster.executor.calls)
    job = _replace(cluster, mode=mode, disks=[1])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        ("instance_drbd", {N1: "primary", N2: "secondary"}),
        ("instance_drbd_replace", {node: "swap"}),
        ("instance_drbd", {N1: "primary", N2: "secondary"}),
        ("instance_drbd_replace", {node: "cleanup"})]
    run = cluster.executor.calls[-1]
    swap = run[1].hosts[node]
    assert [end["index"] for end in swap["gnt_drbd"]] == [1]
    assert swap["gnt_drbd_replace_volumes"] == run[3].hosts[node]["gnt_drbd_replace_volumes"]
    assert run[2].hosts[N1]["gnt_drbd_wait_sync"] is True


def test_replace_auto_finds_the_faulty_node_or_nothing(cluster, drbd):
    since = len(cluster.executor.calls)
    job = _replace(cluster, mode="replace_auto")
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == []
    assert any("No disks need replacement" in e[3] for e in job.ops[0].log)
    drbd["local_disk"][N2] = "faulty"
    job = _replace(cluster, mode="replace_auto")
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since)[1] == ("instance_drbd_replace", {N2: "swap"})
    drbd["local_disk"][N1] = "faulty"
    before = cluster.config_bytes()
    job = _replace(cluster, mode="replace_auto")
    assert job.status == ERROR
    assert "has faulty disks on more than one node" in str(job.ops[0].result)
    assert cluster.config_bytes() == before


def test_new_secondary_moves_the_ends_and_keeps_port_and_secret(cluster, drbd):
    store = cluster.master.config
    inst = store.find("instances", "inst1.example.com")
    before = [dict(d, logical_id=list(d["logical_id"])) for d in store.instance_disks(inst)]
    since = len(cluster.executor.calls)
    job = _replace(cluster, mode="replace_new_secondary", remote_node=N3)
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_drbd", {N2: "absent"}),
                                      ("instance_drbd", {N1: "primary", N3: "secondary"})]
    new_play = cluster.executor.calls[-1][0].hosts
    assert new_play[N3]["gnt_drbd_create"] and new_play[N1]["gnt_drbd_wait_sync"]
    n3 = store.lookup("nodes", N3)["uuid"]
    after = store.instance_disks(store.get("instances", inst["uuid"]))
    for old, new in zip(before, after, strict=True):
        assert new["logical_id"][2] == old["logical_id"][2]        # port
        assert new["logical_id"][5] == old["logical_id"][5]        # secret
        assert new["logical_id"][0] == old["logical_id"][0]        # primary end untouched
        assert new["logical_id"][1] == n3 and new["nodes"] == [inst["primary_node"], n3]
    assert [d["logical_id"][4] for d in after] == [0, 1]           # node3's free minors
    assert store.instance_secondaries(store.get("instances", inst["uuid"])) == [n3]


def test_new_secondary_from_the_allocator(cluster, drbd):
    job = _replace(cluster, mode="replace_new_secondary", iallocator="builtin")
    assert job.status == SUCCESS, job.ops[0].log
    store = cluster.master.config
    inst = store.find("instances", "inst1.example.com")
    assert store.instance_secondaries(inst) == [store.lookup("nodes", N3)["uuid"]]


def test_a_dead_old_secondary_is_only_warned_about(cluster, drbd):
    cluster.executor.fail_roles = {}
    original = cluster.executor.run

    def run(plays, nodes, feedback):
        if any(N2 in p.hosts and p.role == "instance_drbd" for p in plays):
            from gnt.nodes.executor import RunResult
            return RunResult(ok=False, hosts={}, rc=4)
        return original(plays, nodes, feedback)

    cluster.executor.run = run
    job = _replace(cluster, mode="replace_new_secondary", remote_node=N3)
    assert job.status == SUCCESS, job.ops[0].log
    assert any("by hand once it is back" in e[3] for e in job.ops[0].log)


@pytest.mark.parametrize("kw, needle", [
    ({"mode": "replace_new_secondary"}, "When changing the secondary either an iallocator"),
    ({"mode": "replace_on_primary", "remote_node": N3}, "can only be used when changing"),
    ({"mode": "replace_new_secondary", "remote_node": N1}, "is the primary node of the"),
    ({"mode": "replace_new_secondary", "remote_node": N2}, "is already the secondary node"),
    ({"mode": "replace_new_secondary", "remote_node": N3, "disks": [0]},
     "Cannot specify disks to be replaced"),
    ({"mode": "replace_on_secondary", "disks": [5]}, "Invalid disk index 5"),
])
def test_bad_replace_requests_change_nothing(cluster, drbd, kw, needle):
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = _replace(cluster, **kw)
    assert job.status == ERROR and needle in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before and _plays(cluster, since) == []


def test_only_drbd_instances(cluster, drbd):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name="p.example.com",
                      disk_template="plain", disks=[{"size": "1G"}], pnode=N1,
                      name_check=False, ip_check=False, no_install=True, start=False,
                      os_type="blank")
    assert job.status == SUCCESS
    job = cluster.run("OP_INSTANCE_REPLACE_DISKS", instance_name="p.example.com",
                      mode="replace_on_secondary")
    assert job.status == ERROR
    assert "Can only run replace disks for DRBD8-based instances" in str(job.ops[0].result)
