"""gnt-instance modify -t drbd -n NODE / -t plain (issue 14): the plays, the config before and
after (the data volume keeps its name, ports taken and given back), a failed conversion put
back, and Ganeti's refusals.

Plays from the recording executor (vars checked against the roles' specs); the node side runs
for real in tests/integration/test_storage_lab*.py.
"""

from __future__ import annotations

import pytest
from multinode import MASTER, lvm_cluster

from gnt.core.jobstate import ERROR, SUCCESS

N1, N2 = MASTER, "node2.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def plain(cluster, monkeypatch):
    state = lvm_cluster(cluster, monkeypatch, N2)
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="plain",
                      disks=[{"size": "1G"}], pnode=N1, name_check=False, ip_check=False,
                      no_install=True, start=False, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    return state


def _modify(cluster, **kw):
    return cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, **kw)


def _plays(cluster, since):
    return [(p.role, {h: v.get("gnt_drbd_state") for h, v in p.hosts.items()})
            for plays in cluster.executor.calls[since:] for p in plays]


def test_plain_to_drbd_and_back_keeps_the_data_volume(cluster, plain):
    store = cluster.master.config
    inst = store.find("instances", NAME)
    [before] = store.instance_disks(inst)
    since = len(cluster.executor.calls)
    job = _modify(cluster, disk_template="drbd", remote_node=N2)
    assert job.status == SUCCESS, job.ops[0].log
    assert job.ops[0].result == [["disk_template", "drbd"]]
    assert _plays(cluster, since) == [("instance_drbd", {N1: "primary", N2: "secondary"}),
                                      ("instance_drbd", {N1: "down", N2: "down"})]
    make = cluster.executor.calls[-1][0].hosts
    assert make[N1]["gnt_drbd_create"] and make[N1]["gnt_drbd_force"]
    assert make[N1]["gnt_drbd_wait_sync"]
    inst = store.get("instances", inst["uuid"])
    [disk] = store.instance_disks(inst)
    assert inst["disk_template"] == "drbd" and disk["dev_type"] == "drbd"
    assert disk["children"][0]["logical_id"] == before["logical_id"]     # same data LV
    assert disk["children"][1]["logical_id"][1] == before["logical_id"][1] + "_meta"
    port = disk["logical_id"][2]
    assert store.instance_secondaries(inst) == [store.lookup("nodes", N2)["uuid"]]
    since = len(cluster.executor.calls)
    job = _modify(cluster, disk_template="plain")
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [("instance_drbd", {N1: "down", N2: "down"}),
                                      ("instance_drbd", {N1: "absent"}),
                                      ("instance_drbd", {N2: "absent"})]
    removal = cluster.executor.calls[-1]
    assert removal[0].hosts[N1]["gnt_drbd_meta_only"] is True
    assert removal[1].hosts[N2]["gnt_drbd_meta_only"] is False
    [after] = store.instance_disks(store.get("instances", inst["uuid"]))
    assert after["dev_type"] == "plain" and after["logical_id"] == before["logical_id"]
    assert "children" not in after and after["nodes"] == [inst["primary_node"]]
    assert port in store.cluster()["tcpudp_port_pool"]


def test_a_failed_conversion_is_put_back(cluster, plain):
    store = cluster.master.config
    cluster.executor.fail_roles = {"instance_drbd": "drbdsetup attach failed"}
    original = cluster.executor.run
    calls = []

    def run(plays, nodes, feedback):
        calls.append([p.role for p in plays])
        if len(calls) > 1:          # the clean-up run succeeds
            cluster.executor.fail_roles = {}
        return original(plays, nodes, feedback)

    cluster.executor.run = run
    job = _modify(cluster, disk_template="drbd", remote_node=N2)
    assert job.status == ERROR and "drbdsetup attach failed" in str(job.ops[0].result)
    inst = store.find("instances", NAME)
    assert inst["disk_template"] == "plain"
    [disk] = store.instance_disks(inst)
    assert disk["dev_type"] == "plain"
    assert store.cluster()["tcpudp_port_pool"] and len(calls) == 2
    undo = cluster.executor.calls[-1]
    assert undo[1].hosts[N1]["gnt_drbd_meta_only"] is True


@pytest.mark.parametrize("kw, needle", [
    ({"disk_template": "plain"}, "Instance already has disk template plain"),
    ({"disk_template": "drbd"}, "requires specifying a secondary node"),
    ({"disk_template": "drbd", "remote_node": N1}, "is the same as the primary node"),
    ({"disk_template": "file"}, "Unsupported disk template conversion from plain to file"),
    ({"disk_template": "drbd", "remote_node": N2, "beparams": {"vcpus": 2}},
     "Disk template conversion and other changes not supported at the same time"),
])
def test_bad_conversions_change_nothing(cluster, plain, kw, needle):
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = _modify(cluster, **kw)
    assert job.status == ERROR and needle in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before and _plays(cluster, since) == []


def test_conversion_needs_the_instance_down(cluster, plain):
    assert cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME).status == SUCCESS
    job = _modify(cluster, disk_template="drbd", remote_node=N2)
    assert job.status == ERROR
    assert "is marked to be up, cannot change disk template" in str(job.ops[0].result)


def test_not_enough_room_on_the_new_secondary(cluster, plain):
    plain["free"][N2] = 500
    before = cluster.config_bytes()
    job = _modify(cluster, disk_template="drbd", remote_node=N2)
    assert job.status == ERROR
    assert "Not enough disk space on target node node2.example.com" in str(job.ops[0].result)
    assert cluster.config_bytes() == before
