"""DRBD minors/ports/secrets and the cluster's LVM/DRBD settings (issue 14, coordinator side):
allocation from the config, release, init defaults as Ganeti's, modify checks, list-drbd rows."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import add_node

from gnt.admin import bootstrap
from gnt.config import drbdmap
from gnt.config.objects import new_uuid
from gnt.core.errors import ConfigError, OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.daemon.handlers import Handlers
from gnt.opcodes import storage


def _config(nodes: int = 3) -> dict[str, Any]:
    uuids = [new_uuid() for _unused in range(nodes)]
    return {"nodes": {u: {"uuid": u} for u in uuids}, "disks": {}, "instances": {}}


def _put_drbd(data: dict[str, Any], pnode: str, snode: str, port: int, pminor: int,
              sminor: int) -> str:
    disk = {"uuid": new_uuid(),
            **drbdmap.drbd_disk(pnode, snode, port, [pminor, sminor], "s", 1024, "xenvg",
                                "xenvg", 0)}
    data["disks"][disk["uuid"]] = disk
    return disk["uuid"]


def test_minors_lowest_free_per_node_and_pending_within_a_job():
    data = _config()
    a, b, c = data["nodes"]
    _put_drbd(data, a, b, 11000, 0, 0)
    _put_drbd(data, a, c, 11001, 2, 0)
    assert set(drbdmap.minor_map(data)[a]) == {0, 2}
    taken: dict[str, set[int]] = {}
    assert drbdmap.allocate_minors(data, [a, b], taken) == [1, 1]
    assert drbdmap.allocate_minors(data, [a, b], taken) == [3, 2]   # the first is pending
    assert drbdmap.allocate_minors(data, [c, b]) == [1, 1]          # no job: config only


def test_minor_of_a_removed_disk_is_free_again():
    data = _config()
    a, b, _c = data["nodes"]
    first = _put_drbd(data, a, b, 11000, 0, 0)
    _put_drbd(data, a, b, 11001, 1, 1)
    del data["disks"][first]
    assert drbdmap.allocate_minors(data, [a, b]) == [0, 0]


def test_same_node_twice_and_duplicate_minors_refused():
    data = _config()
    a, b, _c = data["nodes"]
    with pytest.raises(OpPrereqError, match="two different nodes"):
        drbdmap.allocate_minors(data, [a, a])
    _put_drbd(data, a, b, 11000, 0, 0)
    _put_drbd(data, a, b, 11001, 0, 1)
    with pytest.raises(ConfigError, match="minor 0 of node .* used by two disks"):
        drbdmap.minor_map(data)


def test_bad_logical_id_named():
    data = _config()
    data["disks"]["d1"] = {"uuid": "d1", "dev_type": "drbd", "logical_id": ["a", "b", "x"]}
    with pytest.raises(ConfigError, match="d1 has a bad logical_id"):
        drbdmap.minor_map(data)


def test_ports_from_the_pool_first_then_above_the_highest_and_exhausted():
    cluster: dict[str, Any] = {"tcpudp_port_pool": [], "highest_used_port": 10999}
    assert drbdmap.allocate_port(cluster, set()) == 11000
    assert drbdmap.allocate_port(cluster, set()) == 11001
    drbdmap.release_port(cluster, 11000)
    assert cluster["tcpudp_port_pool"] == [11000]
    assert drbdmap.allocate_port(cluster, set()) == 11000
    assert cluster["tcpudp_port_pool"] == []
    assert drbdmap.allocate_port(cluster, {11002, 11003}) == 11004   # in use: skipped
    cluster["highest_used_port"] = drbdmap.LAST_DRBD_PORT
    with pytest.raises(OpPrereqError, match="No free DRBD port"):
        drbdmap.allocate_port(cluster, set())
    old: dict[str, Any] = {}                                          # older config
    assert drbdmap.allocate_port(old, set()) == drbdmap.FIRST_DRBD_PORT


def test_drbd_disk_shape_and_unique_secrets_and_names():
    disk = drbdmap.drbd_disk("p", "s", 11005, [3, 4], drbdmap.new_secret(), 2048, "vg1",
                             "vg2", 1)
    assert disk["logical_id"][:5] == ["p", "s", 11005, 3, 4]
    assert len(disk["logical_id"][5]) == 40
    data, meta = disk["children"]
    assert data["logical_id"][0] == "vg1" and data["size"] == 2048
    assert data["logical_id"][1].endswith(".disk1_data")
    assert meta == {"dev_type": "plain", "logical_id": ["vg2", meta["logical_id"][1]],
                    "size": drbdmap.DRBD_META_SIZE}
    assert meta["logical_id"][1] == data["logical_id"][1].replace("_data", "_meta")
    assert drbdmap.new_secret() != drbdmap.new_secret()


# --- cluster init / modify --------------------------------------------------------------------

@pytest.mark.parametrize("templates, given, vg, notes", [
    (["file"], None, "", 0),
    (["plain", "file"], None, "xenvg", 0),
    (["drbd"], "data", "data", 0),
    (["file"], "data", "data", 1),          # Ganeti notes it has no effect, keeps it
])
def test_init_vg_name_as_ganeti(templates, given, vg, notes):
    said: list[str] = []
    assert storage.init_vg_name(given, templates, said.append) == vg
    assert len(said) == notes


def test_init_refuses_no_vg_or_no_helper_with_lvm_or_drbd():
    with pytest.raises(OpPrereqError, match="vg name not set"):
        storage.init_vg_name("", ["plain"], print)
    with pytest.raises(OpPrereqError, match="Unsetting the drbd usermode helper"):
        storage.init_drbd_helper("", ["drbd"], print)
    with pytest.raises(OpPrereqError, match="Invalid volume group name '-x'"):
        storage.init_vg_name("-x", ["plain"], print)
    assert storage.init_drbd_helper(None, ["drbd"], print) == "/bin/true"
    assert storage.init_drbd_helper(None, ["file"], print) == ""


def test_build_config_records_storage_settings_and_port_counter():
    data = bootstrap.build_config("c.example.com", "198.18.0.10", "n1", "198.18.0.10", "",
                                  ["kvm"], ["drbd", "plain", "file"], "/srv/f", "/srv/s", {},
                                  {}, {}, 10, "aa:00:00", note=print)
    cluster = data["cluster"]
    assert (cluster["volume_group_name"], cluster["drbd_usermode_helper"]) == ("xenvg",
                                                                               "/bin/true")
    assert cluster["highest_used_port"] == 10999 and cluster["tcpudp_port_pool"] == []


def test_reserved_lvs_parsing():
    assert storage.parse_reserved_lvs("") == []
    assert storage.parse_reserved_lvs("xenvg/root,a\\,b") == ["xenvg/root", "a,b"]
    with pytest.raises(OpPrereqError, match="Invalid reserved LV expression '\\['"):
        storage.parse_reserved_lvs("[")


def _ok(job: Any) -> Any:
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job.ops[0]


def _error(job: Any) -> str:
    assert job.status == ERROR, job.ops[0].log
    return str(job.ops[0].result["args"][0])


def test_modify_sets_vg_helper_reserved_and_info_shows_them(cluster):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", vg_name="data", drbd_helper="/usr/bin/helper",
                    reserved_lvs=["data/root", "swap.*"]))
    info = Handlers(cluster.master).cluster_info()
    assert (info["volume_group_name"], info["drbd_usermode_helper"],
            info["reserved_lvs"]) == ("data", "/usr/bin/helper", ["data/root", "swap.*"])


def test_modify_refuses_lvm_templates_without_vg_and_changes_nothing(cluster):
    before = cluster.config_bytes()
    message = _error(cluster.run("OP_CLUSTER_SET_PARAMS",
                                 enabled_disk_templates=["plain", "file"]))
    assert "Cannot disable lvm storage while lvm-based disk templates are enabled" in message
    assert cluster.config_bytes() == before
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", vg_name="xenvg", drbd_helper="/bin/true",
                    enabled_disk_templates=["drbd", "plain", "file"]))
    message = _error(cluster.run("OP_CLUSTER_SET_PARAMS", vg_name=""))
    assert "lvm-based disk templates are enabled (drbd, plain)" in message
    no_helper = cluster.run("OP_CLUSTER_SET_PARAMS", drbd_helper="")
    assert "Cannot disable drbd helper" in _error(no_helper)
    bad_vg = cluster.run("OP_CLUSTER_SET_PARAMS", vg_name="a b")
    assert "Invalid volume group name 'a b'" in _error(bad_vg)


def test_node_drbd_rows_for_list_drbd(cluster):
    store = cluster.master.config
    master = store.master_node()
    other = add_node(cluster, "node2.example.com", "198.18.0.12")
    disks = []
    for index, (pm, sm) in enumerate([(0, 0), (1, 3)]):
        disk = {"uuid": new_uuid(), "mode": "rw", "iv_name": f"disk/{index}",
                "serial_no": 1, "ctime": 0, "mtime": 0,
                **drbdmap.drbd_disk(master["uuid"], other["uuid"], 11000 + index, [pm, sm],
                                    "x", 512, "xenvg", "xenvg", index)}
        disks.append(disk)
    inst = {"uuid": new_uuid(), "name": "inst1.example.com", "primary_node": master["uuid"],
            "os": "", "hypervisor": "kvm", "hvparams": {}, "beparams": {}, "osparams": {},
            "admin_state": "down", "disk_template": "drbd",
            "disks": [d["uuid"] for d in disks], "nics": [], "tags": []}
    store.add("instances", inst, {"disks": disks})
    handlers = Handlers(cluster.master)
    assert handlers.node_drbd("node2.example.com") == [
        ["node2.example.com", 0, "inst1.example.com", 0, "secondary", master["name"]],
        ["node2.example.com", 3, "inst1.example.com", 1, "secondary", master["name"]]]
    assert [row[1:5] for row in handlers.node_drbd(master["name"])] == [
        [0, "inst1.example.com", 0, "primary"], [1, "inst1.example.com", 1, "primary"]]
    with pytest.raises(OpPrereqError):
        handlers.node_drbd("nosuchnode")
