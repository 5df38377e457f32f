"""build_request and the request_* helpers: the IAllocator protocol input from our config."""

from __future__ import annotations

import copy
import json

import pytest

from gnt import iallocator as ia
from gnt.admin.bootstrap import build_config
from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.iallocator import simulate as sim


@pytest.fixture()
def cluster():
    config = sim.new_config("c1.example.com")
    live: dict = {}
    sim.add_node(config, live, "node1", memory=8192, disk=50000, cpus=4)
    sim.add_node(config, live, "node2", memory=16384, disk=80000, cpus=8)
    sim.add_node(config, live, "node3", memory=8192, drained=True)
    sim.add_node(config, live, "node4", memory=8192, reachable=False)
    sim.add_instance(config, live, "web", ["node1"], memory=1024, disks=(2048, 512))
    sim.add_instance(config, live, "db", ["node1"], memory=2048, template="sharedfile",
                     admin_state="down")
    sim.add_instance(config, live, "rep", ["node2", "node1"], memory=512, template="drbd")
    return config, live


def test_top_level_keys(cluster):
    config, live = cluster
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    assert data["version"] == 2
    assert data["cluster_name"] == "c1.example.com"
    assert data["enabled_hypervisors"] == ["kvm"] and data["hypervisor_type"] == "kvm"
    assert data["cluster_tags"] == []
    assert set(data) >= {"ipolicy", "nodegroups", "nodes", "instances", "request"}
    assert data["ipolicy"]["vcpu-ratio"] == 4.0
    assert "drbd" in data["ipolicy"]["disk-templates"]
    json.dumps(data)  # must be plain JSON


def test_nodes_carry_live_data_flags_and_instance_memory(cluster):
    config, live = cluster
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    node1 = data["nodes"]["node1"]
    assert node1["total_memory"] == 8192 and node1["total_cpus"] == 4
    assert node1["free_memory"] == 8192 - 1024  # web is up; db is down, rep's primary is node2
    assert node1["free_disk"] == 50000 - 2560 - (1024 + 128)  # web + drbd secondary of rep
    assert node1["i_pri_memory"] == 1024 + 2048
    assert node1["i_pri_up_memory"] == 1024
    assert node1["group"] in data["nodegroups"]
    assert node1["ndparams"]["exclusive_storage"] is False
    assert node1["ndparams"]["spindle_count"] == 1
    assert node1["total_spindles"] == 1 and "free_spindles" in node1
    assert node1["offline"] is False and node1["drained"] is False
    assert node1["primary_ip"] == "198.18.0.1"
    assert data["nodes"]["node3"]["drained"] is True


def test_unreachable_or_missing_node_is_sent_offline(cluster):
    config, live = cluster
    del live["node2"]
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    for name in ("node2", "node4"):
        assert data["nodes"][name]["offline"] is True
        assert data["nodes"][name]["free_memory"] == 0


def test_live_data_missing_a_key_is_refused(cluster):
    config, live = cluster
    del live["node1"]["free_disk"]
    with pytest.raises(OpPrereqError, match="node1 lacks free_disk"):
        ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))


def test_instance_memory_reserves_what_running_instances_may_still_take(cluster):
    config, live = cluster
    live["node1"]["instance_memory"] = {"web": 256}  # up, but uses only 256 of its 1024 MiB
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    assert data["nodes"]["node1"]["free_memory"] == 8192 - 1024 - (1024 - 256)


def test_instances_use_filled_beparams_and_node_names(cluster):
    config, live = cluster
    config["cluster"]["beparams"] = {"vcpus": 2}
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    web = data["instances"]["web"]
    assert web["memory"] == 1024 and web["vcpus"] == 2 and web["spindle_use"] == 1
    assert web["nodes"] == ["node1"]
    assert [d["size"] for d in web["disks"]] == [2048, 512]
    assert web["disks"][0]["mode"] == "rw" and web["disks"][0]["spindles"] == 1
    assert web["disk_space_total"] == 2560
    assert web["admin_state"] == "up" and web["hypervisor"] == "kvm"
    assert web["nics"][0]["bridge"] == web["nics"][0]["link"] == "gnt-br0"
    assert data["instances"]["rep"]["nodes"] == ["node2", "node1"]
    assert data["instances"]["db"]["admin_state"] == "down"


def test_instances_carry_the_disks_active_flag(cluster):
    """Ganeti's ``disks_active`` per instance: the stored flag, or, in a config written before
    the flag existed, whether the instance is marked up."""
    config, live = cluster
    by_name = {i["name"]: i for i in config["instances"].values()}
    by_name["web"].pop("disks_active", None)        # old config, marked up
    by_name["db"].pop("disks_active", None)         # old config, marked down
    by_name["rep"]["disks_active"] = False          # up, but its disks were deactivated
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    flags = {n: i["disks_active"] for n, i in data["instances"].items()}
    assert flags == {"web": True, "db": False, "rep": False}
    by_name["db"]["disks_active"] = True            # down, disks activated by hand
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    assert data["instances"]["db"]["disks_active"] is True
    assert json.loads(json.dumps(data))["instances"]["db"]["disks_active"] is True


def test_groups_default_policy_and_own_settings(cluster):
    config, live = cluster
    uuid = sim.add_group(config, "spare", alloc_policy="last_resort")
    config["nodegroups"][uuid]["ipolicy"] = {"vcpu-ratio": 2.0}
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    default = data["nodegroups"][sim.group_uuid(config, "default")]
    assert default["alloc_policy"] == "preferred" and default["name"] == "default"
    assert default["networks"] == [] and default["tags"] == []
    assert data["nodegroups"][uuid]["alloc_policy"] == "last_resort"
    assert data["nodegroups"][uuid]["ipolicy"]["vcpu-ratio"] == 2.0
    assert default["ipolicy"]["vcpu-ratio"] == 4.0


def test_bad_alloc_policy_is_refused(cluster):
    config, live = cluster
    sim.add_group(config, "odd", alloc_policy="sometimes")
    with pytest.raises(OpPrereqError, match="invalid alloc_policy 'sometimes'"):
        ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))


def test_build_request_leaves_config_and_live_unchanged(cluster):
    config, live = cluster
    before = copy.deepcopy((config, live))
    ia.build_request(config, live, ia.request_relocate("db", ["node1"]))
    assert (config, live) == before


def test_works_on_a_config_made_by_bootstrap():
    config = build_config("c.example.com", "198.18.0.10", "m1", "198.18.0.10", "", ["kvm"],
                          ["file", "sharedfile"], "/srv/f", "/srv/s", {}, {"memory": 256}, {},
                          10, "aa:00:00")
    live = {"m1": {"total_memory": 4096, "free_memory": 4000, "reserved_memory": 0,
                   "total_disk": 10000, "free_disk": 9000, "total_cpus": 2}}
    data = ia.build_request(config, live, ia.request_allocate("x", 256, [100], "sharedfile"))
    assert data["nodes"]["m1"]["free_memory"] == 4000
    assert data["ipolicy"]["disk-templates"] == ["file", "sharedfile"]


@pytest.mark.parametrize(("template", "disks", "space", "required"), [
    ("file", [1024, 512], 1536, 1),
    ("sharedfile", [1024], 1024, 1),
    ("diskless", [], 0, 1),
    ("plain", [100], 100, 1),
    ("drbd", [1024, 512], 1536 + 256, 2),
])
def test_request_allocate_fields(template, disks, space, required):
    req = ia.request_allocate("new", 512, disks, template, vcpus=2,
                              nics=[{"mac": "aa:00:00:00:00:01"}], tags=["t"])
    assert req["type"] == "allocate" and req["name"] == "new"
    assert req["memory"] == 512 and req["vcpus"] == 2
    assert req["disk_space_total"] == space and req["required_nodes"] == required
    assert [d["size"] for d in req["disks"]] == disks
    assert req["nics"][0]["bridge"] == "gnt-br0" and req["nics"][0]["ip"] is None
    assert req["tags"] == ["t"] and req["hypervisor"] == "kvm" and req["spindle_use"] == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"memory": 0}, "memory must be a positive"),
    ({"vcpus": -1}, "vcpus must be a positive"),
    ({"disks": [-5]}, "Disk 0: size"),
    ({"disk_template": "floppy"}, "Unknown disk template 'floppy'"),
    ({"name": ""}, "instance name is empty"),
])
def test_request_allocate_refuses_bad_values(kwargs, message):
    args = {"name": "new", "memory": 512, "disks": [1024], "disk_template": "file", **kwargs}
    with pytest.raises(OpPrereqError, match=message) as err:
        ia.request_allocate(**args)
    assert err.value.ecode == ECODE_INVAL


def test_relocate_is_completed_from_the_config(cluster):
    config, live = cluster
    data = ia.build_request(config, live, ia.request_relocate("web", ["node1"]))
    assert data["request"] == {"type": "relocate", "name": "web", "relocate_from": ["node1"],
                               "required_nodes": 1, "disk_space_total": 2560}


@pytest.mark.parametrize(("request_", "message", "ecode"), [
    (ia.request_relocate("ghost", ["node1"]), "unknown instance 'ghost'", ECODE_NOENT),
    (ia.request_relocate("web", ["nodeX"]), "unknown node 'nodeX'", ECODE_NOENT),
    (ia.request_relocate("web", ["node2"]), "does not use node node2", ECODE_INVAL),
    (ia.request_node_evacuate(["web", "ghost"]), "unknown instance.s. ghost", ECODE_NOENT),
    (ia.request_change_group(["web"], ["no-such-group"]), "unknown group", ECODE_NOENT),
    (ia.request_allocate("web", 512, [1], "file"), "web already exists", ECODE_INVAL),
    (ia.request_allocate("n", 512, [1], "file", group_name="nope"), "unknown node group 'nope'",
     ECODE_NOENT),
    (ia.request_multi_allocate([ia.request_allocate("m", 512, [1], "file", group_name="x")]),
     "for m: unknown node group 'x'", ECODE_NOENT),
    (ia.request_multi_allocate([ia.request_allocate("web", 512, [1], "file")]),
     "web already exists", ECODE_INVAL),
    ({"type": "teleport"}, "Unknown iallocator request type 'teleport'", ECODE_INVAL),
])
def test_bad_requests_are_refused(cluster, request_, message, ecode):
    config, live = cluster
    with pytest.raises(OpPrereqError, match=message) as err:
        ia.build_request(config, live, request_)
    assert err.value.ecode == ecode


def test_node_evacuate_and_multi_allocate_helpers():
    assert ia.request_node_evacuate(["a"], "primary-only") == {
        "type": "node-evacuate", "instances": ["a"], "evac_mode": "primary-only"}
    with pytest.raises(OpPrereqError, match="Invalid evacuation mode 'everything'"):
        ia.request_node_evacuate(["a"], "everything")
    one = ia.request_allocate("a", 128, [1], "file")
    assert ia.request_multi_allocate([one])["instances"] == [one]
    with pytest.raises(OpPrereqError, match="names an instance twice: a"):
        ia.request_multi_allocate([one, one])
    with pytest.raises(OpPrereqError, match="without instances"):
        ia.request_multi_allocate([])
    with pytest.raises(OpPrereqError, match="no node to relocate from"):
        ia.request_relocate("a", [])


def test_live_from_node_info_maps_the_coordinators_live_info(cluster):
    config, _live = cluster
    uuid1, uuid2 = sim.node_uuid(config, "node1"), sim.node_uuid(config, "node2")
    infos = {uuid1: {"mtotal": 8192, "mfree": 6000, "mnode": 900, "ctotal": 4, "cnodes": 1,
                     "dtotal": 50000, "dfree": 40000,
                     "domains": {"web": {"state": "running", "memory_mib": 1024},
                                 "old": {"state": "shutoff", "memory_mib": 512}}},
             uuid2: None}
    live = ia.live_from_node_info(config, infos)
    assert live["node1"] == {"total_memory": 8192, "free_memory": 6000, "reserved_memory": 900,
                             "total_disk": 50000, "free_disk": 40000, "total_cpus": 4,
                             "instance_memory": {"web": 1024}}
    assert live["node2"] is None and live["node3"] is None
    data = ia.build_request(config, live, ia.request_allocate("new", 512, [1024], "file"))
    assert data["nodes"]["node1"]["free_memory"] == 6000  # web runs with all its memory
    assert data["nodes"]["node2"]["offline"] is True
