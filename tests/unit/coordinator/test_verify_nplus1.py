"""N+1 memory redundancy of gnt-cluster verify: the pure ``n_plus_one_failures`` and its
report through OP_CLUSTER_VERIFY (node answers faked at the network edge)."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, add_node, install

from gnt.core import ssconf
from gnt.core.jobstate import SUCCESS
from gnt.lu.verify import n_plus_one_failures
from gnt.nodes import rpc


def node(name: str, **kw: Any) -> dict[str, Any]:
    return {"uuid": name, "name": name, "offline": False, "drained": False,
            "vm_capable": True, **kw}


def inst(name: str, primary: str, template: str = "sharedfile") -> dict[str, Any]:
    return {"uuid": name, "name": name, "primary_node": primary, "disk_template": template}


def test_everything_fits():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("i1", "a"), inst("i2", "a"), inst("i3", "b")]
    free = {"a": 1000, "b": 700, "c": 500}
    memory = {"i1": 600, "i2": 400, "i3": 900}
    # a: 600 -> b (700), 400 -> c (500); b: 900 -> a (1000)
    assert n_plus_one_failures(nodes, instances, free, memory) == []


def test_node_whose_instances_do_not_fit_is_reported():
    nodes = [node("a"), node("b")]
    instances = [inst("i1", "a"), inst("i2", "a")]
    # each fits alone, not both: b has 1000 MiB
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 1000},
                               {"i1": 600, "i2": 600}) == ["a"]


def test_one_instance_bigger_than_any_free_node():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("big", "b")]
    assert n_plus_one_failures(nodes, instances, {"a": 500, "b": 0, "c": 500},
                               {"big": 800}) == ["b"]   # 500 + 500 free, but not in one node


def test_each_node_checked_independently():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("i1", "a"), inst("i2", "b")]
    # c can absorb a's or b's instance (not both at once, but only one node fails at a time)
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 0, "c": 1000},
                               {"i1": 800, "i2": 800}) == []


def test_several_failing_nodes_in_node_order():
    nodes = [node("a"), node("b")]
    instances = [inst("i1", "a"), inst("i2", "b")]
    assert n_plus_one_failures(nodes, instances, {"a": 100, "b": 100},
                               {"i1": 500, "i2": 500}) == ["a", "b"]


@pytest.mark.parametrize("bad", [{"offline": True}, {"drained": True}, {"vm_capable": False}])
def test_unusable_nodes_give_no_room(bad):
    nodes = [node("a"), node("b", **bad)]
    instances = [inst("i1", "a")]
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 4096}, {"i1": 500}) == ["a"]


def test_node_without_live_figures_neither_checked_nor_room():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("i1", "a"), inst("i2", "c")]
    # c did not answer: its instances are not judged, and it offers no room to a
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 100},
                               {"i1": 500, "i2": 5000}) == ["a"]


def test_only_running_failover_templates_count():
    nodes = [node("a"), node("b")]
    instances = [inst("f", "a", "file"), inst("d", "a", "diskless"), inst("stopped", "a")]
    # file disks cannot fail over; diskless is not checked; 'stopped' has no memory figure
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 0},
                               {"f": 500, "d": 500}) == []


def test_single_node_cluster_with_instances_fails():
    assert n_plus_one_failures([node("a")], [inst("i", "a")], {"a": 8000}, {"i": 100}) == ["a"]


def test_exact_fit_is_enough():
    assert n_plus_one_failures([node("a"), node("b")], [inst("i", "a")],
                               {"a": 0, "b": 512}, {"i": 512}) == []


def test_drbd_instances_must_fit_on_their_own_secondary():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("d1", "a", "drbd"), inst("d2", "a", "drbd")]
    secondaries = {"d1": "b", "d2": "b"}
    # c has room for both, but they can only go to b, which takes one
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 600, "c": 4096},
                               {"d1": 500, "d2": 500}, secondaries) == ["a"]
    secondaries["d2"] = "c"
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 600, "c": 4096},
                               {"d1": 500, "d2": 500}, secondaries) == []


def test_secondary_room_taken_first_then_shared_instances_placed():
    nodes = [node("a"), node("b"), node("c")]
    instances = [inst("d", "a", "drbd"), inst("e", "a", "ext")]
    # b takes d (its secondary) and has 100 left: e (300) must go to c
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 600, "c": 300},
                               {"d": 500, "e": 300}, {"d": "b"}) == []
    assert n_plus_one_failures(nodes, instances, {"a": 0, "b": 600, "c": 200},
                               {"d": 500, "e": 300}, {"d": "b"}) == ["a"]


def test_drbd_instance_whose_secondary_is_offline_cannot_fail_over():
    nodes = [node("a"), node("b", offline=True), node("c")]
    free = {"a": 0, "b": 4096, "c": 4096}
    assert n_plus_one_failures(nodes, [inst("d", "a", "drbd")], free, {"d": 100},
                               {"d": "b"}) == ["a"]


# --- through OP_CLUSTER_VERIFY ------------------------------------------------------------

@pytest.fixture
def mn(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2 = hv
    add_node(cluster, "node2.example.com", "198.18.0.12", master_candidate=True)
    store = cluster.master.config

    def verify_info_many(cfg, nodes, asks=None):
        shared = cfg.cluster()["shared_file_storage_dir"]
        files = [d["logical_id"][1] for d in cfg.data["disks"].values()]
        return {n["uuid"]: {"dirs": {cfg.cluster()["file_storage_dir"]: True, shared: True},
                            "files": files, "bridges": ["gnt-br0"],
                            "ssconf_master_node": MASTER, "config_serial": cfg.serial_no,
                            "ssconf_serial": cfg.serial_no} for n in nodes}

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    assert ssconf.read("master_node") == MASTER
    cluster.store = store
    return cluster


def _verify(cluster):
    job = cluster.run("OP_CLUSTER_VERIFY")
    assert job.status == SUCCESS, job.ops[0].result
    lines = [entry[3] for entry in job.ops[0].log]
    return job.ops[0].result, [line for line in lines if "ERROR" in line]


def test_verify_reports_n_plus_one(mn):
    assert mn.run("OP_INSTANCE_CREATE", instance_name="big.example.com",
                  disk_template="sharedfile", disks=[{"size": "1G"}], os_type="tinylinux",
                  pnode="node2.example.com", beparams={"memory": "2G"}).status == SUCCESS
    mn.hv2.mfree.update({MASTER: 4096, "node2.example.com": 4096})
    result, errors = _verify(mn)
    assert result == {"ok": True, "errors": 0}, errors
    mn.hv2.mfree[MASTER] = 1024
    result, errors = _verify(mn)
    assert result == {"ok": False, "errors": 1}
    assert "node2.example.com" in errors[0] and "N+1" in errors[0]
