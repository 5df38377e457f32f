"""gnt-node list-storage and volumes (issue 14): storage units asked of the nodes live (the
file type for real on the master, through the real node call), the default type from the
first enabled disk template, Ganeti's refusals, and LVs mapped to their instances."""

from __future__ import annotations

import os

from multinode import add_node, install

from gnt.config.objects import new_uuid
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import rpc

FIELDS = ["node", "type", "name", "size", "used", "free", "allocatable"]


def _result(job):
    assert job.status == SUCCESS, job.ops[0].log
    return job.ops[0].result


def test_file_storage_of_the_master_for_real(cluster):
    storage_dir = cluster.master.config.cluster()["file_storage_dir"]
    os.makedirs(f"{storage_dir}/inst1", exist_ok=True)
    with open(f"{storage_dir}/inst1/disk0", "wb") as out:
        out.write(os.urandom(3 * 1024 * 1024))
        out.flush()
        os.fsync(out.fileno())
    [row] = _result(cluster.run("OP_NODE_QUERY_STORAGE", output_fields=FIELDS))
    node, kind, name, size, used, free, allocatable = row
    assert (node, kind, name, allocatable) == ("node1.example.com", "file", storage_dir, True)
    assert used >= 3 and size >= free > 0
    only = _result(cluster.run("OP_NODE_QUERY_STORAGE", storage_type="file",
                               output_fields=["name", "used"], name="/elsewhere"))
    assert only == []


def test_type_must_be_enabled_and_fields_known(cluster):
    job = cluster.run("OP_NODE_QUERY_STORAGE", storage_type="lvm-vg", output_fields=FIELDS)
    assert job.status == ERROR
    assert "Storage type 'lvm-vg' is not enabled. Please enable it by enabling the disk" \
        " template(s) plain, drbd" in str(job.ops[0].result)
    job = cluster.run("OP_NODE_QUERY_STORAGE", output_fields=["name", "colour"])
    assert job.status == ERROR and "Unknown output fields selected: colour" in \
        str(job.ops[0].result)
    cluster.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=["diskless", "file"])
    job = cluster.run("OP_NODE_QUERY_STORAGE", output_fields=FIELDS)
    assert job.status == ERROR and "Storage reporting for storage type 'diskless' is not" \
        " supported" in str(job.ops[0].result)


def test_volumes_name_their_instances_and_skip_silent_nodes(cluster, monkeypatch):
    install(cluster, monkeypatch)
    node2 = add_node(cluster, "node2.example.com", "198.18.0.12")
    store = cluster.master.config
    master = store.master_node()
    disk = {"uuid": new_uuid(), "dev_type": "plain", "logical_id": ["xenvg", "abc.disk0"],
            "size": 1024, "mode": "rw", "iv_name": "disk/0", "nodes": [master["uuid"]],
            "serial_no": 1, "ctime": 0, "mtime": 0}
    inst = {"uuid": new_uuid(), "name": "inst1.example.com", "primary_node": master["uuid"],
            "os": "", "hypervisor": "kvm", "hvparams": {}, "beparams": {}, "osparams": {},
            "admin_state": "down", "disk_template": "plain", "disks": [disk["uuid"]],
            "nics": [], "tags": []}
    store.add("instances", inst, {"disks": [disk]})
    lvs = [{"phys": "/dev/vdb", "vg": "xenvg", "name": "abc.disk0", "size": 1024},
           {"phys": "/dev/vdb", "vg": "xenvg", "name": "root", "size": 4096}]
    monkeypatch.setattr(rpc, "volumes_many", lambda store, nodes: {
        master["uuid"]: lvs, node2["uuid"]: "node2.example.com: ssh: connection refused"})
    job = cluster.run("OP_NODE_QUERYVOLS",
                      output_fields=["node", "phys", "vg", "name", "size", "instance"])
    assert _result(job) == [
        ["node1.example.com", "/dev/vdb", "xenvg", "abc.disk0", 1024, "inst1.example.com"],
        ["node1.example.com", "/dev/vdb", "xenvg", "root", 4096, "-"]]
    assert any("Failure while listing storage on node node2.example.com" in entry[3]
               for entry in job.ops[0].log)


def test_modify_and_repair_run_the_node_storage_role(cluster):
    job = cluster.run("OP_NODE_MODIFY_STORAGE", node_name="node1", storage_type="lvm-pv",
                      name="/dev/vdb", changes={"allocatable": False})
    assert job.status == SUCCESS, job.ops[0].log
    job = cluster.run("OP_REPAIR_NODE_STORAGE", node_name="node1", storage_type="lvm-vg",
                      name="xenvg")
    assert job.status == ERROR and "Storage type 'lvm-vg' is not enabled" in \
        str(job.ops[0].result)        # as Ganeti's: the type must be enabled
    cluster.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=["file", "plain"],
                vg_name="xenvg")
    job = cluster.run("OP_REPAIR_NODE_STORAGE", node_name="node1", storage_type="lvm-vg",
                      name="xenvg")
    assert job.status == SUCCESS, job.ops[0].log
    plays = [play for call in cluster.executor.calls for play in call
             if play.role == "node_storage"]
    assert [play.hosts["node1.example.com"]["gnt_node_storage"] for play in plays] == [
        {"type": "lvm-pv", "name": "/dev/vdb", "allocatable": False},
        {"type": "lvm-vg", "name": "xenvg", "repair": True}]


def test_modify_and_repair_refusals(cluster):
    before = len(cluster.executor.calls)
    for op, kw, needle in (
            ("OP_NODE_MODIFY_STORAGE", {"storage_type": "lvm-vg", "changes": {}},
             "Storage units of type 'lvm-vg' can not be modified"),
            ("OP_NODE_MODIFY_STORAGE", {"storage_type": "lvm-pv", "changes": {"size": 1}},
             "The following fields can not be modified for storage units of type 'lvm-pv':"
             " size"),
            ("OP_REPAIR_NODE_STORAGE", {"storage_type": "lvm-pv"},
             "Storage units of type 'lvm-pv' can not be repaired")):
        job = cluster.run(op, node_name="node1", name="x", **kw)
        assert job.status == ERROR and needle in str(job.ops[0].result), job.ops[0].result
    assert len(cluster.executor.calls) == before
