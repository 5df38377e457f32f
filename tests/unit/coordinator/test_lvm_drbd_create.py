"""Creating plain and drbd instances, coordinator side (issue 14): disk objects (LV names,
DRBD minors, port, secret, children), the checks of Ganeti's instance create on volume groups,
secondary nodes and adoption, and a refused request leaving the config unchanged.

The node answers (volume group space, LVs) come from a fake of :mod:`gnt.nodes.rpc`, the node
plays from the recording executor; the node side runs for real in the lab's guest nodes.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import lvm_cluster

from gnt.config import drbdmap
from gnt.core.jobstate import ERROR, SUCCESS

N1, N2 = "node1.example.com", "node2.example.com"


@pytest.fixture
def lvm(cluster, monkeypatch):
    return lvm_cluster(cluster, monkeypatch, N2)


def _create(cluster, template="drbd", nodes=(N1, N2), disks=None, **kw):
    params_ = {"instance_name": f"i{len(cluster.master.config.all('instances'))}.example.com",
               "disk_template": template, "disks": disks or [{"size": "1G"}],
               "pnode": nodes[0], "snode": nodes[1] if len(nodes) > 1 else None,
               "name_check": False, "ip_check": False, "no_install": True, "start": False,
               "os_type": "blank"}
    params_.update(kw)
    return cluster.run("OP_INSTANCE_CREATE", **params_)


def _disks(cluster, job) -> list[dict[str, Any]]:
    assert job.status == SUCCESS, job.ops[0].log
    store = cluster.master.config
    inst = store.find("instances", job.ops[0].input["instance_name"])
    return store.instance_disks(inst)


def _uuid(cluster, name):
    return cluster.master.config.lookup("nodes", name)["uuid"]


def test_drbd_disks_get_minors_port_secret_and_children(cluster, lvm):
    disks = [{"size": "1G"}, {"size": "512M", "metavg": "metavg"}]
    first = _disks(cluster, _create(cluster, disks=disks))
    lid0, lid1 = first[0]["logical_id"], first[1]["logical_id"]
    assert lid0[:2] == [_uuid(cluster, N1), _uuid(cluster, N2)]
    assert (lid0[2], lid1[2]) == (11000, 11001)                     # ports
    assert (lid0[3], lid0[4], lid1[3], lid1[4]) == (0, 0, 1, 1)    # minors per node
    assert lid0[5] != lid1[5] and len(lid0[5]) == 40              # secrets
    data, meta = first[1]["children"]
    assert (data["logical_id"][0], data["size"]) == ("xenvg", 512)
    assert (meta["logical_id"][0], meta["size"]) == ("metavg", drbdmap.DRBD_META_SIZE)
    assert first[0]["nodes"] == lid0[:2]
    # a second instance the other way round gets the next free minors and port
    second = _disks(cluster, _create(cluster, nodes=(N2, N1)))
    assert second[0]["logical_id"][2:5] == [11002, 2, 2]
    assert cluster.master.config.cluster()["highest_used_port"] == 11002


def test_plain_disk_is_a_new_lv_in_the_cluster_vg(cluster, lvm):
    [disk] = _disks(cluster, _create(cluster, "plain", nodes=(N1,)))
    assert disk["dev_type"] == "plain" and disk["logical_id"][0] == "xenvg"
    assert disk["logical_id"][1].endswith(".disk0") and disk["size"] == 1024
    assert "children" not in disk


@pytest.mark.parametrize("kw, needle", [
    ({"nodes": (N1,)}, "The networked disk templates need a mirror node"),
    ({"nodes": (N1, N1)}, "The secondary node cannot be the primary node"),
    ({"disks": [{"size": "1G", "vg": "nosuchvg"}]},
     "Can't compute free disk space on node node1.example.com for vg nosuchvg"),
    ({"disks": [{"size": "10G"}]},
     "Not enough disk space on target node node1.example.com vg xenvg: required 10368 MiB,"
     " available 10240 MiB"),
    ({"disks": [{"size": "1G", "vg": "bad vg"}]}, "Invalid volume group name 'bad vg'"),
    ({"disks": [{"adopt": "lv0"}]}, "Disk adoption is not supported for the 'drbd'"),
])
def test_bad_drbd_requests_refused_config_unchanged(cluster, lvm, kw, needle):
    before = cluster.config_bytes()
    job = _create(cluster, **kw)
    assert job.status == ERROR
    assert needle in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before


def test_space_checked_on_the_secondary_too(cluster, lvm):
    lvm["free"][N2] = 100
    job = _create(cluster)
    assert job.status == ERROR and "target node node2.example.com" in str(job.ops[0].result)


def test_adoption_takes_the_lv_size_and_refuses_open_missing_or_used(cluster, lvm):
    lvm["lvs"] = {"xenvg/data1": {"size_mib": 3072, "active": True, "open": False},
                  "xenvg/busy": {"size_mib": 1024, "active": True, "open": True}}
    [disk] = _disks(cluster, _create(cluster, "plain", nodes=(N1,),
                                     disks=[{"adopt": "data1"}]))
    assert disk["size"] == 3072
    for disks, needle in (([{"adopt": "busy"}], "Online logical volumes found, cannot adopt:"
                                                " xenvg/busy"),
                          ([{"adopt": "gone"}], "Missing logical volume(s): xenvg/gone"),
                          ([{"adopt": "a"}, {"size": "1G"}], "Either all disks are adopted"),
                          ([{"adopt": "a"}, {"adopt": "a"}], "Duplicate volume names")):
        before = cluster.config_bytes()
        job = _create(cluster, "plain", nodes=(N1,), disks=disks)
        assert job.status == ERROR and needle in str(job.ops[0].result), job.ops[0].result
        assert cluster.config_bytes() == before


def test_secondary_ignored_with_a_warning_for_file(cluster, lvm):
    job = _create(cluster, "file", nodes=(N1, N2))
    assert job.status == SUCCESS
    assert any("Secondary node will be ignored" in entry[3] for entry in job.ops[0].log)


def test_removal_gives_the_port_back(cluster, lvm):
    job = _create(cluster)
    name = job.ops[0].input["instance_name"]
    [disk] = _disks(cluster, job)
    port = disk["logical_id"][2]
    removed = cluster.run("OP_INSTANCE_REMOVE", instance_name=name)
    assert removed.status == SUCCESS, removed.ops[0].log
    assert port in cluster.master.config.cluster()["tcpudp_port_pool"]
    again = _disks(cluster, _create(cluster))
    assert again[0]["logical_id"][2] == port
    assert cluster.master.config.cluster()["tcpudp_port_pool"] == []


def test_secondary_node_in_queries_and_info(cluster, lvm):
    from gnt.daemon.handlers import Handlers

    job = _create(cluster)
    name = job.ops[0].input["instance_name"]
    assert job.status == SUCCESS
    handlers = Handlers(cluster.master)
    rows = handlers.query("instance", ["name", "pnode", "snodes"], [name], live=False)["data"]
    assert rows == [[name, N1, [N2]]]
    nodes = handlers.query("node", ["name", "pinst_cnt", "sinst_cnt", "sinst_list"],
                           live=False)["data"]
    assert sorted(nodes) == [[N1, 1, 0, []], [N2, 0, 1, [name]]]
    info = cluster.run("OP_INSTANCE_QUERY_DATA", instances=[name], static=True)
    assert info.status == SUCCESS, info.ops[0].log
    assert info.ops[0].result[name]["snodes"] == [N2]


def test_the_allocator_chooses_both_nodes_of_a_drbd_instance(cluster, lvm):
    job = _create(cluster, nodes=(None, None))
    [disk] = _disks(cluster, job)
    assert sorted(disk["nodes"]) == sorted([_uuid(cluster, N1), _uuid(cluster, N2)])
    assert any("Selected nodes" in entry[3] and N1 in entry[3] and N2 in entry[3]
               for entry in job.ops[0].log), job.ops[0].log


def test_no_second_node_for_the_allocator_is_a_clear_error(cluster, lvm):
    assert cluster.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True,
                       force=True).status == SUCCESS
    before = cluster.config_bytes()
    job = _create(cluster, nodes=(None, None))
    assert job.status == ERROR, job.ops[0].log
    assert "no node fits instance" in str(job.ops[0].result), job.ops[0].result
    assert cluster.config_bytes() == before
