"""activate-disks, deactivate-disks and grow-disk, coordinator side (issue 14): the plays on
each node, the answers, Ganeti's refusals and messages, the size recorded in the config.

Plays from the recording executor (vars checked against the roles' argument specs); the node
side (lvextend, drbdsetup resize) runs for real in tests/integration/test_storage_lab.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, lvm_cluster

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import rpc

N1, N2 = MASTER, "node2.example.com"


@pytest.fixture
def lvm(cluster, monkeypatch):
    state = lvm_cluster(cluster, monkeypatch, N2)
    monkeypatch.setattr(rpc, "drbd_status", lambda store, node: {
        m: {"disk": "UpToDate", "connection": "Connected"} for m in range(4)})
    return state


def _create(cluster, template: str, name: str = "inst1.example.com", **kw: Any) -> dict:
    spec = {"instance_name": name, "disk_template": template, "disks": [{"size": "1G"}],
            "pnode": N1, "snode": N2 if template == "drbd" else None, "name_check": False,
            "ip_check": False, "no_install": True, "start": False, "os_type": "blank"}
    spec.update(kw)
    job = cluster.run("OP_INSTANCE_CREATE", **spec)
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", name)


def _roles_since(cluster, since: int) -> list[tuple[str, list[str]]]:
    return [(play.role, sorted(play.hosts)) for plays in cluster.executor.calls[since:]
            for play in plays]


def test_activate_disks_answers_the_primary_devices(cluster, lvm):
    plain = _create(cluster, "plain")
    drbd = _create(cluster, "drbd", "inst2.example.com")
    job = cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=plain["name"])
    assert job.status == SUCCESS, job.ops[0].log
    [disk] = cluster.master.config.instance_disks(plain)
    assert job.ops[0].result == [[N1, "disk/0", f"/dev/xenvg/{disk['logical_id'][1]}"]]
    volumes = cluster.executor.calls[-1][0].hosts[N1]
    assert volumes == {"gnt_volumes": [{"vg": "xenvg", "name": disk["logical_id"][1]}],
                       "gnt_volumes_active": True}
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=drbd["name"],
                      wait_for_sync=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert job.ops[0].result == [[N1, "disk/0", "/dev/drbd0"]]
    assert _roles_since(cluster, since) == [("instance_drbd", [N1, N2])]
    assert cluster.executor.calls[-1][0].hosts[N1]["gnt_drbd_wait_sync"] is True


def test_deactivate_disks_refused_while_up_unless_forced(cluster, lvm):
    inst = _create(cluster, "drbd", start=True)
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_DEACTIVATE_DISKS", instance_name=inst["name"])
    assert job.status == ERROR
    assert f"Instance '{inst['name']}' is marked to be up, cannot shutdown disks" in \
        str(job.ops[0].result)
    assert cluster.config_bytes() == before
    assert cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=inst["name"]).status == SUCCESS
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_DEACTIVATE_DISKS", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    assert _roles_since(cluster, since) == [("instance_drbd", [N1, N2])]
    assert cluster.executor.calls[-1][0].hosts[N2]["gnt_drbd_state"] == "down"


def test_grow_plain_disk_by_and_to_an_amount(cluster, lvm):
    inst = _create(cluster, "plain")
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name=inst["name"], disk=0, amount=512)
    assert job.status == SUCCESS, job.ops[0].log
    assert any("Growing disk 0 of instance 'inst1.example.com' by 512M to 1.5G" in e[3]
               for e in job.ops[0].log)
    [play] = cluster.executor.calls[-1]
    grow = play.hosts[N1]["gnt_grow"]
    assert grow["size_mib"] == 1536 and grow["volume"]["vg"] == "xenvg"
    assert not grow["resize_drbd"]
    [disk] = cluster.master.config.instance_disks(inst)
    assert disk["size"] == 1536
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name=inst["name"], disk=0,
                      amount=2048, absolute=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert cluster.master.config.instance_disks(inst)[0]["size"] == 2048


def test_grow_drbd_disk_on_both_nodes_resizes_the_primary_device(cluster, lvm):
    inst = _create(cluster, "drbd")
    assert cluster.master.config.get("instances", inst["uuid"])["disks_active"] is False
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name=inst["name"], disk=0, amount=1024)
    assert job.status == SUCCESS, job.ops[0].log
    assert _roles_since(cluster, since) == [
        ("instance_drbd", [N1, N2]), ("instance_disk_grow", [N1, N2]),
        ("instance_drbd", [N1, N2]), ("instance_drbd", [N1, N2])]
    grow_play = cluster.executor.calls[-1][1]
    assert grow_play.hosts[N1]["gnt_grow"]["resize_drbd"] is True
    assert grow_play.hosts[N2]["gnt_grow"]["resize_drbd"] is False
    assert grow_play.hosts[N1]["gnt_grow"]["volume"]["name"].endswith("_data")
    [disk] = cluster.master.config.instance_disks(inst)
    assert disk["size"] == 2048 and disk["children"][0]["size"] == 2048
    assert disk["children"][1]["size"] == 128
    # stopped instance: its disks are torn down again at the end
    assert cluster.executor.calls[-1][-1].hosts[N1]["gnt_drbd_state"] == "down"
    # ... unless they are marked active (activate-disks): then they stay so, as in Ganeti
    job = cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=inst["name"])
    assert job.status == SUCCESS, job.ops[0].log
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name=inst["name"], disk=0, amount=64)
    assert job.status == SUCCESS, job.ops[0].log
    assert [p.hosts[N1].get("gnt_drbd_state") for p in cluster.executor.calls[-1]] == [
        "primary", None, "primary"]


@pytest.mark.parametrize("kw, needle", [
    ({"amount": 512, "absolute": True}, "Requested size (512M) is smaller than current disk"
                                        " size (1.0G)"),
    ({"amount": -5}, "Requested increment (-5M) is negative"),
    ({"amount": 20480}, "Not enough disk space on target node node1.example.com vg xenvg"),
    ({"disk": 3, "amount": 10}, "Invalid disk index 3"),
])
def test_bad_grow_requests_change_nothing(cluster, lvm, kw, needle):
    inst = _create(cluster, "drbd")
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name=inst["name"],
                      **{"disk": 0, **kw})
    assert job.status == ERROR
    assert needle in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before and _roles_since(cluster, since) == []


def test_diskless_cannot_grow(cluster, lvm):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name="d.example.com",
                      disk_template="diskless", pnode=N1, name_check=False, ip_check=False,
                      no_install=True, start=False, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    job = cluster.run("OP_INSTANCE_GROW_DISK", instance_name="d.example.com", disk=0, amount=1)
    assert job.status == ERROR and "Invalid disk index 0" in str(job.ops[0].result)


def test_verify_disks_finds_inactive_missing_and_unreachable(cluster, lvm, monkeypatch):
    plain = _create(cluster, "plain", start=True)
    drbd = _create(cluster, "drbd", "inst2.example.com", start=True)
    store = cluster.master.config
    [pdisk] = store.instance_disks(plain)
    [ddisk] = store.instance_disks(drbd)
    plain_lv = "/".join(pdisk["logical_id"])
    data, meta = ("/".join(c["logical_id"]) for c in ddisk["children"])
    lvs = {N1: {plain_lv: {"active": True}, data: {"active": True}, meta: {"active": True}},
           N2: {data: {"active": True}, meta: {"active": True}}}
    ends = {N1: {0: {"disk": "UpToDate", "connection": "Connected"}},
            N2: {0: {"disk": "UpToDate", "connection": "Connected"}}}
    monkeypatch.setattr(rpc, "lv_list", lambda store, node, vgs: lvs[node["name"]])
    monkeypatch.setattr(rpc, "drbd_status", lambda store, node: ends[node["name"]])

    def verify() -> list:
        job = cluster.run("OP_CLUSTER_VERIFY_DISKS")
        assert job.status == SUCCESS, job.ops[0].log
        return job.ops[0].result

    assert verify() == [{}, [], {}]
    ends[N2] = {}                                   # the secondary's end is not configured
    lvs[N1][plain_lv] = {"active": False}           # the plain volume is inactive
    assert verify() == [{}, [plain["name"], drbd["name"]], {}]
    del lvs[N2][meta]                               # a meta-data volume is gone
    assert verify()[2] == {drbd["name"]: [[N2, meta]]}

    def down(store, node, vgs):
        raise rpc.NodeDown(f"{node['name']}: ssh: connect to host: No route to host")

    monkeypatch.setattr(rpc, "lv_list", down)
    bad, _inst, missing = verify()
    assert set(bad) == {N1, N2} and "No route to host" in bad[N2]
    assert sorted(missing) == [plain["name"], drbd["name"]]
    # stopped instances are not looked at
    for name in (plain["name"], drbd["name"]):
        assert cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=name).status == SUCCESS
    assert verify() == [{}, [], {}]


def test_repair_disk_sizes_takes_the_volume_sizes(cluster, lvm, monkeypatch):
    plain = _create(cluster, "plain")
    drbd = _create(cluster, "drbd", "inst2.example.com")
    store = cluster.master.config
    [pdisk], [ddisk] = store.instance_disks(plain), store.instance_disks(drbd)
    volumes = {"/".join(pdisk["logical_id"]): {"size_mib": 1024},
               "/".join(ddisk["children"][0]["logical_id"]): {"size_mib": 1536}}
    monkeypatch.setattr(rpc, "lv_list", lambda store, node, vgs: volumes)
    job = cluster.run("OP_CLUSTER_REPAIR_DISK_SIZES")
    assert job.status == SUCCESS, job.ops[0].log
    assert job.ops[0].result == [["inst2.example.com", 0, "size", 1536]]
    assert any("Disk 0 of instance inst2.example.com has mismatched size, correcting:"
               " recorded 1024, actual 1536" in e[3] for e in job.ops[0].log)
    [fixed] = store.instance_disks(store.get("instances", drbd["uuid"]))
    assert fixed["size"] == 1536 and fixed["children"][0]["size"] == 1536
    before = cluster.config_bytes()
    job = cluster.run("OP_CLUSTER_REPAIR_DISK_SIZES", instances=[plain["name"]])
    assert job.status == SUCCESS and job.ops[0].result == []
    assert cluster.config_bytes() == before
