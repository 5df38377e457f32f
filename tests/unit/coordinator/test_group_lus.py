"""Node group logical units (gnt-group) on a one-node cluster with the recording executor."""

import copy

import pytest

from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.core.locklevels import LEVEL_NODE, LEVEL_NODEGROUP, name_lock
from gnt.lu.base import Context
from gnt.lu.group import LUGroupAssignNodes, LUGroupRename, split_instances
from gnt.opcodes.registry import validate
from gnt.query import engine

NODE = "node1.example.com"


def _ok(job):
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job.ops[0].result


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"][0]


def _groups(cluster):
    return {g["name"]: g for g in cluster.master.config.all("nodegroups")}


def _node(cluster):
    return cluster.master.config.lookup("nodes", NODE)


def _query(cluster, fields, names=()):
    return cluster.api.query("group", fields, list(names))["data"]


def test_init_creates_default_group_holding_the_node(cluster):
    groups = _groups(cluster)
    assert list(groups) == ["default"]
    assert _node(cluster)["group"] == groups["default"]["uuid"]
    assert _query(cluster, ["name", "node_cnt", "node_list", "alloc_policy"]) == [
        ["default", 1, [NODE], "preferred"]]


def test_add_with_policy_ndparams_and_tags(cluster):
    serial = cluster.master.config.serial_no
    uuid = _ok(cluster.run("OP_GROUP_ADD", group_name="rack1", alloc_policy="last_resort",
                           ndparams={"spindle_count": "4"}, tags=["dc:ams", "a"]))
    group = _groups(cluster)["rack1"]
    assert group["uuid"] == uuid
    assert group["alloc_policy"] == "last_resort"
    assert group["ndparams"] == {"spindle_count": 4}
    assert group["tags"] == ["a", "dc:ams"]
    assert group["serial_no"] == 1
    assert group["ipolicy"] == {} and group["diskparams"] == {} and group["networks"] == {}
    assert cluster.master.config.serial_no == serial + 1
    rows = _query(cluster, ["name", "node_cnt", "pinst_cnt", "alloc_policy", "custom_ndparams"])
    assert rows == [["default", 1, 0, "preferred", {}],
                    ["rack1", 0, 0, "last_resort", {"spindle_count": 4}]]
    nd = _query(cluster, ["ndparams"], ["rack1"])[0][0]
    assert nd["spindle_count"] == 4 and nd["ssh_port"] == 22  # merged with the defaults
    # the default alloc policy
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack2"))
    assert _groups(cluster)["rack2"]["alloc_policy"] == "preferred"


def test_group_missing_alloc_policy_reads_as_preferred(cluster):
    uuid = _groups(cluster)["default"]["uuid"]
    cluster.master.config.data["nodegroups"][uuid].pop("alloc_policy", None)
    assert _query(cluster, ["alloc_policy"], ["default"]) == [["preferred"]]


def test_rename_and_lookup_by_uuid(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    uuid = _groups(cluster)["rack1"]["uuid"]
    assert _ok(cluster.run("OP_GROUP_RENAME", group_name="rack1", new_name="rack9")) == "rack9"
    groups = _groups(cluster)
    assert "rack1" not in groups and groups["rack9"]["uuid"] == uuid
    assert groups["rack9"]["serial_no"] == 2
    # a group may be named by its UUID too
    _ok(cluster.run("OP_GROUP_RENAME", group_name=uuid, new_name="rack3"))
    assert _groups(cluster)["rack3"]["uuid"] == uuid


def test_assign_node_and_back(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    groups = _groups(cluster)
    default_serial = groups["default"]["serial_no"]
    _ok(cluster.run("OP_GROUP_ASSIGN_NODES", group_name="rack1", nodes=["node1"]))
    groups = _groups(cluster)
    assert _node(cluster)["group"] == groups["rack1"]["uuid"]
    # both the losing and the gaining group changed
    assert groups["default"]["serial_no"] == default_serial + 1
    assert groups["rack1"]["serial_no"] == 2
    assert _query(cluster, ["name", "node_cnt", "node_list"]) == [
        ["default", 0, []], ["rack1", 1, [NODE]]]
    assert engine.query(cluster.master.config, "node", ["group"], [NODE])["data"] == [["rack1"]]
    # already there: nothing to do, config untouched
    before = cluster.config_bytes()
    job = cluster.run("OP_GROUP_ASSIGN_NODES", group_name="rack1", nodes=[NODE])
    _ok(job)
    assert any("already in group rack1" in entry[3] for entry in job.ops[0].log)
    assert cluster.config_bytes() == before
    _ok(cluster.run("OP_GROUP_ASSIGN_NODES", group_name="default", nodes=[NODE]))
    assert _node(cluster)["group"] == _groups(cluster)["default"]["uuid"]


def test_remove_group(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1", tags=["x"]))
    _ok(cluster.run("OP_GROUP_REMOVE", group_name="rack1"))
    assert list(_groups(cluster)) == ["default"]


def test_modify_policy_and_ndparams(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1", ndparams={"spindle_count": "2"}))
    changes = _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="rack1",
                              alloc_policy="unallocable", ndparams={"ssh_port": "2222"}))
    assert changes == [["ndparams", {"spindle_count": 2, "ssh_port": 2222}],
                       ["alloc_policy", "unallocable"]]
    group = _groups(cluster)["rack1"]
    assert group["alloc_policy"] == "unallocable" and group["serial_no"] == 2
    # "default" drops an override again
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="rack1",
                    ndparams={"spindle_count": "default"}))
    assert _groups(cluster)["rack1"]["ndparams"] == {"ssh_port": 2222}


def test_group_tags(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    _ok(cluster.run("OP_TAGS_SET", kind="nodegroup", name="rack1", tags=["b", "a"]))
    assert _ok(cluster.run("OP_TAGS_GET", kind="nodegroup", name="rack1")) == ["a", "b"]
    _ok(cluster.run("OP_TAGS_DEL", kind="nodegroup", name="rack1", tags=["a"]))
    assert _groups(cluster)["rack1"]["tags"] == ["b"]
    assert _query(cluster, ["tags"], ["rack1"]) == [[["b"]]]


def test_dry_run_changes_nothing(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    before = cluster.config_bytes()
    for op_id, params in [("OP_GROUP_ADD", {"group_name": "rack2"}),
                          ("OP_GROUP_REMOVE", {"group_name": "rack1"}),
                          ("OP_GROUP_RENAME", {"group_name": "rack1", "new_name": "rack5"}),
                          ("OP_GROUP_SET_PARAMS", {"group_name": "rack1",
                                                   "alloc_policy": "last_resort"}),
                          ("OP_GROUP_ASSIGN_NODES", {"group_name": "rack1",
                                                     "nodes": [NODE]})]:
        _ok(cluster.run(op_id, dry_run=True, **params))
    assert cluster.config_bytes() == before
    # and a dry run still runs the checks
    assert "not empty" in _error(cluster.run("OP_GROUP_REMOVE", group_name="default",
                                             dry_run=True))


@pytest.mark.parametrize("op_id, params, needle", [
    ("OP_GROUP_REMOVE", {"group_name": "default"}, "not empty, has the following node(s):"
     f" {NODE}"),
    ("OP_GROUP_RENAME", {"group_name": "rack1", "new_name": "default"}, "'default' clashes"),
    ("OP_GROUP_RENAME", {"group_name": "rack7", "new_name": "x"}, "'rack7' not known"),
    ("OP_GROUP_RENAME", {"group_name": "rack1", "new_name": "bad name!"}, "'bad name!'"),
    ("OP_GROUP_ADD", {"group_name": "rack1"}, "'rack1' already exists"),
    ("OP_GROUP_ADD", {"group_name": "-lead"}, "'-lead'"),
    ("OP_GROUP_ADD", {"group_name": "g" * 129}, "longer than 128"),
    ("OP_GROUP_ADD", {"group_name": "rack2", "ndparams": {"colour": "blue"}}, "colour"),
    ("OP_GROUP_ADD", {"group_name": "rack2", "ndparams": {"ssh_port": "x22"}}, "ssh_port"),
    ("OP_GROUP_ADD", {"group_name": "rack2", "tags": ["bad tag"]}, "bad tag"),
    ("OP_GROUP_ADD", {"group_name": "rack2", "alloc_policy": "sometimes"}, "sometimes"),
    ("OP_GROUP_REMOVE", {"group_name": "rack7"}, "'rack7' not known"),
    ("OP_GROUP_ASSIGN_NODES", {"group_name": "rack7", "nodes": [NODE]}, "'rack7' not known"),
    ("OP_GROUP_ASSIGN_NODES", {"group_name": "rack1", "nodes": ["node9"]}, "'node9' not known"),
    ("OP_GROUP_ASSIGN_NODES", {"group_name": "rack1", "nodes": []}, "No nodes"),
    ("OP_GROUP_SET_PARAMS", {"group_name": "rack1"}, "at least one modification"),
    ("OP_GROUP_SET_PARAMS", {"group_name": "rack1", "alloc_policy": "never"}, "never"),
    ("OP_GROUP_SET_PARAMS", {"group_name": "rack7", "alloc_policy": "preferred"},
     "'rack7' not known"),
])
def test_bad_input_leaves_config_unchanged(cluster, op_id, params, needle):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    before = cluster.config_bytes()
    try:
        job = cluster.run(op_id, **params)
    except OpPrereqError as err:  # refused at submission (opcode validation)
        assert needle in str(err)
    else:
        assert needle in _error(job)
    assert cluster.config_bytes() == before


def test_last_group_cannot_be_removed(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    _ok(cluster.run("OP_GROUP_ASSIGN_NODES", group_name="rack1", nodes=[NODE]))
    _ok(cluster.run("OP_GROUP_REMOVE", group_name="default"))
    before = cluster.config_bytes()
    # rack1 still holds the node; take a config where it is empty to test the last-group rule
    assert "not empty" in _error(cluster.run("OP_GROUP_REMOVE", group_name="rack1"))
    store = cluster.master.config
    lu = _lu(cluster, "OP_GROUP_REMOVE", group_name="rack1")
    store.data["nodes"][_node(cluster)["uuid"]]["group"] = "elsewhere"  # in memory only
    try:
        with pytest.raises(OpPrereqError, match="'rack1' is the only group, cannot be removed"):
            lu.check_prereq()
    finally:
        store.data["nodes"][_node(cluster)["uuid"]]["group"] = _groups(cluster)["rack1"]["uuid"]
    assert cluster.config_bytes() == before


def _lu(cluster, op_id, **params):
    from gnt.lu.base import LU_REGISTRY

    ctx = Context(cluster.master.config, cluster.master.locks, cluster.executor)
    lu = LU_REGISTRY[op_id](ctx, validate({"OP_ID": op_id, **params}), lambda msg: None)
    lu.check_arguments()
    lu.expand_names()
    return lu


def test_locks(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    rename = _lu(cluster, "OP_GROUP_RENAME", group_name="rack1", new_name="rack2")
    assert isinstance(rename, LUGroupRename)
    groups = _groups(cluster)
    # Groups are locked by UUID; the new name is reserved by its name lock.
    assert rename.declare_locks() == {LEVEL_NODEGROUP: [groups["rack1"]["uuid"],
                                                        name_lock("rack2")]}
    assert LEVEL_NODEGROUP not in rename.SHARED_LEVELS
    assign = _lu(cluster, "OP_GROUP_ASSIGN_NODES", group_name="rack1", nodes=["node1"])
    assert isinstance(assign, LUGroupAssignNodes)
    locks = assign.declare_locks()
    # target and source group, and the node, by UUID
    assert sorted(locks[LEVEL_NODEGROUP]) == sorted([groups["default"]["uuid"],
                                                     groups["rack1"]["uuid"]])
    assert locks[LEVEL_NODE] == [_node(cluster)["uuid"]]
    assert not {LEVEL_NODEGROUP, LEVEL_NODE} & assign.SHARED_LEVELS
    add = _lu(cluster, "OP_GROUP_ADD", group_name="rack3")
    assert add.declare_locks() == {LEVEL_NODEGROUP: [name_lock("rack3")]}


def test_held_group_lock_blocks_a_change(cluster):
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    locks = cluster.master.locks
    locks.acquire("tester", LEVEL_NODEGROUP, [_groups(cluster)["rack1"]["uuid"]], shared=True)
    try:
        job_id = cluster.submit("OP_GROUP_SET_PARAMS", group_name="rack1",
                                alloc_policy="last_resort")
        with pytest.raises(AssertionError, match="did not finish"):
            cluster.wait(job_id, timeout=0.5)
        assert _groups(cluster)["rack1"]["alloc_policy"] == "preferred"
    finally:
        locks.release("tester")
    _ok(cluster.wait(job_id))
    assert _groups(cluster)["rack1"]["alloc_policy"] == "last_resort"


def _with_second_node(cluster):
    """An extra node (config only) in group default, and an instance spanning both nodes."""
    store = cluster.master.config
    node1 = _node(cluster)
    node2 = copy.deepcopy(node1)
    node2.update(uuid="node2-uuid", name="node2.example.com", primary_ip="198.18.0.12",
                 secondary_ip="198.18.0.12", master_candidate=False)
    store.add("nodes", node2)
    inst = {"uuid": "inst-uuid", "name": "mirror.example.com", "primary_node": node1["uuid"],
            "secondary_nodes": [node2["uuid"]], "os": "blank", "hypervisor": "kvm",
            "hvparams": {}, "beparams": {}, "osparams": {}, "admin_state": "down",
            "disk_template": "diskless", "disks": [], "nics": [], "tags": []}
    store.add("instances", inst)
    return node1, node2


def test_assign_refuses_to_split_an_instance_unless_forced(cluster):
    node1, node2 = _with_second_node(cluster)
    _ok(cluster.run("OP_GROUP_ADD", group_name="rack1"))
    before = cluster.config_bytes()
    msg = _error(cluster.run("OP_GROUP_ASSIGN_NODES", group_name="rack1",
                             nodes=["node2.example.com"]))
    assert "mirror.example.com" in msg and "--force" in msg and "node2.example.com" in msg
    assert cluster.config_bytes() == before
    # moving both nodes together keeps the instance in one group
    rack1 = _groups(cluster)["rack1"]["uuid"]
    assert split_instances(cluster.master.config,
                           {node1["uuid"]: rack1, node2["uuid"]: rack1}) == ([], [])
    job = cluster.run("OP_GROUP_ASSIGN_NODES", group_name="rack1",
                      nodes=["node2.example.com"], force=True)
    _ok(job)
    assert any("forced" in entry[3] for entry in job.ops[0].log)
    assert cluster.master.config.get("nodes", "node2-uuid")["group"] == rack1
    # already split: now reported, but not refused
    assert split_instances(cluster.master.config, {node1["uuid"]: "other-group"}) == \
        ([], ["mirror.example.com"])
    # and moving node1 after node2 joins it again
    assert split_instances(cluster.master.config, {node1["uuid"]: rack1}) == ([], [])
    assert _query(cluster, ["name", "node_list", "pinst_list"]) == [
        ["default", [NODE], ["mirror.example.com"]], ["rack1", ["node2.example.com"], []]]


def test_query_unknown_group_and_field(cluster):
    with pytest.raises(OpPrereqError, match="Unknown node group.*: nosuch"):
        _query(cluster, ["name"], ["nosuch"])
    with pytest.raises(OpPrereqError, match="Unknown group field 'colour'"):
        _query(cluster, ["colour"])
    names = [f["name"] for f in engine.field_list("group")]
    for name in ("name", "uuid", "node_cnt", "node_list", "pinst_cnt", "pinst_list",
                 "alloc_policy", "ndparams", "custom_ndparams", "tags", "serial_no",
                 "ctime", "mtime"):
        assert name in names
