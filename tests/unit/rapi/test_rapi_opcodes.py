"""The opcodes RAPI resources build from requests (Ganeti's RAPI names and forms); the
opcode table's validation runs on each, nothing is queued for a bad request."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.core.errors import OpPrereqError
from gnt.rapi import opresources as o
from gnt.rapi import routes
from gnt.rapi.resources import FEATURES, HttpError, Request


class Recorder:
    """The master daemon's submit_job, recording the job's opcodes."""

    def __init__(self) -> None:
        self.jobs: list[list[dict[str, Any]]] = []

    def call(self, method: str, **args: Any) -> Any:
        assert method == "submit_job"
        self.jobs.append(args["ops"])
        return len(self.jobs)


def _send(method: str, path: str, body: Any = None, **query: str) -> list[dict[str, Any]]:
    route, items = routes.match(path)
    resource = route.methods[method].resource
    assert resource is not None, f"{method} {path} is not implemented"
    backend = Recorder()
    req = Request(method, items, {k.replace("_", "-") if k == "dry_run" else k: [v]
                                  for k, v in query.items()}, body, route.name)
    assert resource(backend, req) == 1
    [ops] = backend.jobs
    for op in ops:
        assert op["reason"][-1][0] == f"gnt:library:rlib2:{route.name}"
    return ops


def test_create_needs_body_version_1_and_takes_ganeti_names() -> None:
    body = {"__version__": 1, "mode": "create", "name": "web1.example", "os": "tinylinux",
            "disk_template": "file", "disks": [{"size": 1024}], "nics": [{}],
            "beparams": {"memory": 256}, "start": False}
    [op] = _send("POST", "/2/instances", body, dry_run="1")
    assert op["OP_ID"] == "OP_INSTANCE_CREATE" and op["instance_name"] == "web1.example"
    assert op["os_type"] == "tinylinux" and op["start"] is False and op["dry_run"] is True
    for version in (None, 0, 2):
        bad = dict(body, __version__=version)
        with pytest.raises(HttpError) as err:
            _send("POST", "/2/instances", bad)
        assert err.value.code == 400 and "version" in err.value.explain
    assert "instance-create-reqv1" in FEATURES


@pytest.mark.parametrize("body, needle", [
    ({"__version__": 1, "name": "a.example", "bogus": 1}, "bogus"),
    ({"__version__": 1, "name": "a.example", "start": "yes please"}, "start"),
    ({"__version__": 1, "name": "a.example", "OP_ID": "OP_CLUSTER_DESTROY"}, "OP_ID"),
    ({"__version__": 1, "name": "a.example", "instance_name": "b.example"}, "alias"),
])
def test_bad_create_bodies_are_refused(body: dict[str, Any], needle: str) -> None:
    with pytest.raises((HttpError, OpPrereqError)) as err:
        _send("POST", "/2/instances", body)
    assert needle in str(err.value)


def test_url_names_win_and_cannot_be_repeated_in_the_body() -> None:
    [op] = _send("PUT", "/2/instances/i1.example/rename", {"new_name": "i2.example"})
    assert (op["instance_name"], op["new_name"]) == ("i1.example", "i2.example")
    with pytest.raises(HttpError) as err:
        _send("PUT", "/2/instances/i1.example/modify", {"instance_name": "other"})
    assert err.value.code == 400 and "instance_name" in err.value.explain


def test_simple_opcode_resources() -> None:
    assert _send("DELETE", "/2/instances/i1")[0]["OP_ID"] == "OP_INSTANCE_REMOVE"
    [op] = _send("PUT", "/2/instances/i1/shutdown", {"timeout": 0}, no_remember="1")
    assert (op["OP_ID"], op["timeout"], op["no_remember"]) == ("OP_INSTANCE_SHUTDOWN", 0, True)
    [op] = _send("PUT", "/2/instances/i1/startup", None, force="1")
    assert op["OP_ID"] == "OP_INSTANCE_STARTUP" and op["force"] is True
    [op] = _send("POST", "/2/instances/i1/reboot")
    assert op["reboot_type"] == "hard"            # Ganeti's RAPI default
    [op] = _send("POST", "/2/instances/i1/reboot", None, type="soft")
    assert op["reboot_type"] == "soft"
    [op] = _send("PUT", "/2/instances/i1/export", {"destination": "node2", "shutdown": True})
    assert op["OP_ID"] == "OP_BACKUP_EXPORT" and op["target_node"] == "node2"
    [op] = _send("PUT", "/2/instances/i1/migrate", {"mode": "live", "target_node": "n2"})
    assert op["OP_ID"] == "OP_INSTANCE_MIGRATE" and op["mode"] == "live"
    [op] = _send("POST", "/2/groups", {"name": "g2", "alloc_policy": "preferred"})
    assert op["OP_ID"] == "OP_GROUP_ADD" and op["group_name"] == "g2"
    [op] = _send("PUT", "/2/groups/g2/assign-nodes", {"nodes": ["n1"]})
    assert (op["group_name"], op["nodes"]) == ("g2", ["n1"])
    assert _send("PUT", "/2/redistribute-config")[0]["OP_ID"] == "OP_CLUSTER_REDIST_CONF"


def test_reinstall_is_shutdown_reinstall_startup() -> None:
    ops = _send("POST", "/2/instances/i1/reinstall", {"os": "blank", "osparams": {}})
    assert [op["OP_ID"] for op in ops] == ["OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REINSTALL",
                                           "OP_INSTANCE_STARTUP"]
    assert ops[1]["os_type"] == "blank"
    ops = _send("POST", "/2/instances/i1/reinstall", {"start": False})
    assert [op["OP_ID"] for op in ops] == ["OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REINSTALL"]
    ops = _send("POST", "/2/instances/i1/reinstall", None, os="blank", nostartup="1")
    assert len(ops) == 2 and ops[1]["os_type"] == "blank"


@pytest.mark.parametrize("role, flags", [
    ("regular", {"master_candidate": False, "offline": False, "drained": False}),
    ("master-candidate", {"master_candidate": True, "offline": None, "drained": None}),
    ("drained", {"drained": True, "master_candidate": None}),
    ("offline", {"offline": True, "drained": None}),
])
def test_node_role(role: str, flags: dict[str, Any]) -> None:
    [op] = _send("PUT", "/2/nodes/n2/role", role, force="1")
    assert op["OP_ID"] == "OP_NODE_SET_PARAMS" and op["force"] is True
    assert {key: op[key] for key in flags} == flags


@pytest.mark.parametrize("role", ["master", "boss", 3])
def test_node_role_refused(role: Any) -> None:
    with pytest.raises(HttpError) as err:
        _send("PUT", "/2/nodes/n2/role", role)
    assert err.value.code == 400


def test_node_migrate_both_forms() -> None:
    [op] = _send("POST", "/2/nodes/n2/migrate", {"mode": "non-live", "iallocator": "hail"})
    assert (op["mode"], op["iallocator"]) == ("non-live", "hail")
    [op] = _send("POST", "/2/nodes/n2/migrate", None, mode="live")
    assert op["mode"] == "live" and op["node_name"] == "n2"


def test_opcode_resources_are_named_by_their_opcode() -> None:
    assert o.body_op("OP_INSTANCE_REMOVE").__name__ == "submit_op_instance_remove"


def test_prepare_export_takes_the_mode_from_the_query() -> None:
    [op] = _send("PUT", "/2/instances/i1/prepare-export", None, mode="remote")
    assert (op["OP_ID"], op["instance_name"], op["mode"]) == ("OP_BACKUP_PREPARE", "i1",
                                                              "remote")
    route, items = routes.match("/2/instances/i1/prepare-export")
    resource = route.methods["PUT"].resource
    assert resource is not None
    for query, needle in (({}, "Missing 'mode'"), ({"mode": ["sideways"]}, "sideways")):
        with pytest.raises((HttpError, OpPrereqError)) as err:
            resource(Recorder(), Request("PUT", items, query, None, route.name))
        assert needle in str(getattr(err.value, "explain", err.value))


def test_node_storage_needs_type_and_fields() -> None:
    [op] = _send("GET", "/2/nodes/n1/storage", None, storage_type="lvm-vg",
                 output_fields="name,size,free")
    assert (op["OP_ID"], op["nodes"], op["storage_type"], op["output_fields"]) == (
        "OP_NODE_QUERY_STORAGE", ["n1"], "lvm-vg", ["name", "size", "free"])
    route, items = routes.match("/2/nodes/n1/storage")
    resource = route.methods["GET"].resource
    assert resource is not None and route.methods["GET"].needs("GET") == ("write",)
    for query, needle in (({"output_fields": ["name"]}, "'storage_type'"),
                          ({"storage_type": ["lvm-vg"]}, "'output_fields'")):
        with pytest.raises(HttpError) as err:
            resource(Recorder(), Request("GET", items, query, None, route.name))
        assert needle in err.value.explain


def test_node_storage_modify_and_repair() -> None:
    [op] = _send("PUT", "/2/nodes/n1/storage/modify", None, storage_type="lvm-pv",
                 name="/dev/sdb1", allocatable="0")
    assert (op["OP_ID"], op["node_name"], op["name"], op["changes"]) == (
        "OP_NODE_MODIFY_STORAGE", "n1", "/dev/sdb1", {"allocatable": False})
    [op] = _send("PUT", "/2/nodes/n1/storage/repair", None, storage_type="lvm-vg",
                 name="xenvg")
    assert (op["OP_ID"], op["storage_type"], op["name"]) == ("OP_REPAIR_NODE_STORAGE",
                                                             "lvm-vg", "xenvg")
    route, items = routes.match("/2/nodes/n1/storage/repair")
    resource = route.methods["PUT"].resource
    assert resource is not None
    with pytest.raises(HttpError) as err:
        resource(Recorder(), Request("PUT", items, {"storage_type": ["lvm-vg"]}, None,
                                     route.name))
    assert "'name'" in err.value.explain


def test_recreate_disks_takes_ganeti_body_fields() -> None:
    [op] = _send("POST", "/2/instances/i1/recreate-disks",
                 {"disks": [[0, {"size": 2048}], [1, {}]], "nodes": ["n3", "n1"]})
    assert op["OP_ID"] == "OP_INSTANCE_RECREATE_DISKS" and op["instance_name"] == "i1"
    assert (op["disks"], op["nodes"], op["iallocator"]) == ([[0, {"size": 2048}], [1, {}]],
                                                            ["n3", "n1"], None)
    [op] = _send("POST", "/2/instances/i1/recreate-disks", {"disks": [1], "iallocator": "hail"})
    assert (op["disks"], op["iallocator"]) == ([1], "hail")
    assert _send("POST", "/2/instances/i1/recreate-disks")[0]["disks"] == []
    for bad in ({"disks": "0"}, {"disks": [[0]]}, {"disks": [-1]}, {"nodes": "n1"}):
        with pytest.raises((HttpError, OpPrereqError)):
            _send("POST", "/2/instances/i1/recreate-disks", bad)


def test_cluster_and_group_modify_take_diskparams() -> None:
    """Ganeti's ``diskparams`` body field on PUT /2/modify, POST /2/groups and PUT
    /2/groups/NAME/modify; a bad template or value is refused before anything is queued."""
    dp = {"drbd": {"resync-rate": 1000, "protocol": "B"}}
    [op] = _send("PUT", "/2/modify", {"diskparams": dp})
    assert (op["OP_ID"], op["diskparams"]) == ("OP_CLUSTER_SET_PARAMS", dp)
    [op] = _send("POST", "/2/groups", {"name": "g1", "diskparams": dp})
    assert (op["OP_ID"], op["diskparams"]) == ("OP_GROUP_ADD", dp)
    [op] = _send("PUT", "/2/groups/g1/modify", {"diskparams": dp})
    assert (op["OP_ID"], op["diskparams"]) == ("OP_GROUP_SET_PARAMS", dp)
    for bad in ({"nosuch": {}}, {"drbd": {"protocol": "Z"}}, {"plain": "stripes=2"}):
        with pytest.raises((HttpError, OpPrereqError)):
            _send("PUT", "/2/modify", {"diskparams": bad})


def test_instance_modify_takes_disk_modifications() -> None:
    """Ganeti's ``disks`` body field of PUT /2/instances/NAME/modify, both item forms."""
    disks = [["add", -1, {"size": 1024, "mode": "ro"}], ["remove", {}], [0, {"name": "root"}]]
    [op] = _send("PUT", "/2/instances/i1.example/modify", {"disks": disks})
    assert op["OP_ID"] == "OP_INSTANCE_SET_PARAMS" and op["disks"] == disks
    with pytest.raises((HttpError, OpPrereqError)):
        _send("PUT", "/2/instances/i1.example/modify", {"disks": [["add"]]})
