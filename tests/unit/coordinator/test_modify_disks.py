"""``gnt-instance modify --disk`` (issue 14), coordinator side: add, remove and modify for the
file, plain, drbd and ext templates - the plays and their vars (checked against the roles'
argument specs by the recording executor), the config after the change (disk list, iv_names,
drbd ports), Ganeti's refusals with the config bytes unchanged, and the undo after a failed
creation.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.config import drbdmap
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import rpc

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def lab(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    state["active"] = False       # whether the nodes report the drbd minors configured

    def drbd_status(store: Any, node: dict[str, Any]) -> dict[int, dict[str, Any]]:
        if not state["active"]:
            return {}
        return {minor: {"disk": "UpToDate", "local_disk": "ok", "connection": "Connected"}
                for minor in range(8)}
    monkeypatch.setattr(rpc, "drbd_status", drbd_status)
    job = cluster.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=[
        "file", "sharedfile", "plain", "drbd", "diskless"])
    assert job.status == SUCCESS, job.ops[0].log
    return state


def _create(cluster, template: str, snode: str | None = None, sizes=("1G", "512M"),
            **kw: Any) -> dict:
    spec = {"instance_name": NAME, "disk_template": template,
            "disks": [{"size": size} for size in sizes], "pnode": N1, "snode": snode,
            "name_check": False, "ip_check": False, "no_install": True, "start": False,
            "os_type": "blank"}
    spec.update(kw)
    job = cluster.run("OP_INSTANCE_CREATE", **spec)
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", NAME)


def _modify(cluster, disks: list, **kw: Any):
    return cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, disks=disks, **kw)


def _ok(job) -> list:
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)
    return job.ops[0].result


def _error(job) -> str:
    assert job.status == ERROR, job.ops[0].log
    return str(job.ops[0].result)


def _instance(cluster) -> dict:
    return cluster.master.config.find("instances", NAME)


def _disks(cluster) -> list[dict]:
    cfg = cluster.master.config
    return cfg.instance_disks(_instance(cluster))


def _plays(cluster, since: int) -> list:
    return [play for plays in cluster.executor.calls[since:] for play in plays]


# -- file ---------------------------------------------------------------------------------

def test_file_add_at_the_end_creates_only_the_new_disk(cluster, lab):
    _create(cluster, "file")
    since = len(cluster.executor.calls)
    changes = _ok(_modify(cluster, [["add", -1, {"size": 2048, "mode": "ro", "name": "data"}]]))
    assert changes == [["disk/2", "add:size=2048,mode=ro"]]
    [play] = _plays(cluster, since)
    assert play.role == "instance_create" and list(play.hosts) == [N1]
    host = play.hosts[N1]
    assert host["gnt_install"] is False
    [disk] = host["gnt_instance"]["disks"]
    assert disk["index"] == 2 and disk["size_mib"] == 2048 and disk["mode"] == "ro"
    assert disk["path"].endswith(f"/{NAME}/disk2")
    disks = _disks(cluster)
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1", "disk/2"]
    assert disks[2]["name"] == "data" and disks[2]["size"] == 2048
    assert disks[2]["logical_id"] == ["loop", disk["path"]]
    assert disks[2]["nodes"] == [_instance(cluster)["primary_node"]]


def test_file_add_at_an_index_renumbers_and_picks_a_free_file(cluster, lab):
    _create(cluster, "file")
    before = [d["uuid"] for d in _disks(cluster)]
    _ok(_modify(cluster, [["add", 0, {"size": 100}]]))
    disks = _disks(cluster)
    assert [d["uuid"] for d in disks][1:] == before
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1", "disk/2"]
    paths = [d["logical_id"][1] for d in disks]
    assert len(set(paths)) == 3
    # disk0 was taken by the old first disk: the new one gets the first free file name
    assert paths[0].endswith("/disk2")


def test_file_remove_runs_the_disk_remove_role_for_that_disk_only(cluster, lab):
    _create(cluster, "file", sizes=("1G", "512M", "256M"))
    old = _disks(cluster)
    since = len(cluster.executor.calls)
    changes = _ok(_modify(cluster, [["remove", 1, {}]]))
    assert changes == [["disk/1", "remove"]]
    [play] = _plays(cluster, since)
    assert play.role == "instance_disk_remove" and list(play.hosts) == [N1]
    gone = play.hosts[N1]["gnt_instance"]
    assert gone["disk_template"] == "file"
    assert [d["path"] for d in gone["disks"]] == [old[1]["logical_id"][1]]
    disks = _disks(cluster)
    assert [d["uuid"] for d in disks] == [old[0]["uuid"], old[2]["uuid"]]
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1"]
    assert old[1]["uuid"] not in cluster.master.config.data["disks"]
    # a disk added now may not take the file of the old disk 2 (now disk 1)
    _ok(_modify(cluster, [["add", -1, {"size": 64}]]))
    paths = [d["logical_id"][1] for d in _disks(cluster)]
    assert len(set(paths)) == 3


def test_remove_by_name_and_older_form(cluster, lab):
    _create(cluster, "file", sizes=("1G", "512M", "256M"))
    _ok(_modify(cluster, [["modify", 1, {"name": "scratch"}]]))
    first = _disks(cluster)
    _ok(_modify(cluster, [["remove", "scratch", {}]]))
    assert [d["uuid"] for d in _disks(cluster)] == [first[0]["uuid"], first[2]["uuid"]]
    _ok(_modify(cluster, [["remove", {}]]))      # the older form: the last disk
    assert [d["uuid"] for d in _disks(cluster)] == [first[0]["uuid"]]


def test_removing_every_disk_makes_the_instance_diskless(cluster, lab):
    _create(cluster, "file", sizes=("1G",))
    _ok(_modify(cluster, [["remove", 0, {}]]))
    inst = _instance(cluster)
    assert inst["disks"] == [] and inst["disk_template"] == "diskless"
    assert "Must specify disk type on diskless instance" in _error(
        _modify(cluster, [["add", -1, {"size": 64}]]))


def test_modify_mode_and_name_is_config_only(cluster, lab):
    _create(cluster, "file")
    since = len(cluster.executor.calls)
    changes = _ok(_modify(cluster, [[0, {"mode": "ro"}], ["modify", 1, {"name": "swap"}]]))
    assert changes == [["disk.mode/0", "ro"], ["disk.name/1", "swap"]]
    assert _plays(cluster, since) == []
    disks = _disks(cluster)
    assert disks[0]["mode"] == "ro" and disks[1]["name"] == "swap"


def test_running_instance_add_is_allowed_remove_refused(cluster, lab):
    _create(cluster, "file", start=True)
    lab["hv"].put(N1, NAME)
    changes = _ok(_modify(cluster, [["add", -1, {"size": 64}]]))
    assert changes == [["disk/2", "add:size=64,mode=rw"]]
    before = cluster.config_bytes()
    message = _error(_modify(cluster, [["remove", 0, {}]]))
    assert "can't remove volume from a running instance without using hotplug" in message
    assert cluster.config_bytes() == before
    message = _error(_modify(cluster, [["add", -1, {"size": 64}]], hotplug=True))
    assert "Hotplug is not possible" in message
    assert cluster.config_bytes() == before
    job = _modify(cluster, [["modify", 0, {"name": "root"}]], hotplug_if_possible=True)
    _ok(job)
    log = "\n".join(str(entry) for entry in job.ops[0].log)
    assert "Modification will take place without hotplugging" in log


def test_sharedfile_add_goes_to_the_shared_directory(cluster, lab):
    _create(cluster, "sharedfile", sizes=("64M",))
    _ok(_modify(cluster, [["add", -1, {"size": 64}]]))
    shared = cluster.master.config.cluster()["shared_file_storage_dir"]
    new = _disks(cluster)[1]
    assert new["dev_type"] == "sharedfile"
    assert new["logical_id"][1] == f"{shared}/{NAME}/disk1"


@pytest.mark.parametrize(("mods", "message"), [
    ([["add", -1, {}]], "Required disk parameter 'size' missing"),
    ([["add", -1, {"size": 64, "mode": "rx"}]], "Invalid disk access mode 'rx'"),
    ([["modify", 0, {"size": 4096}]], "Disk size change not possible, use grow-disk"),
    ([["modify", 0, {"vg": "other"}]], "cannot be changed"),
    ([["remove", 0, {"size": 1}]], "No settings should be passed when removing a disk"),
    ([["remove", 5, {}]], "Invalid disk index 5, valid range is 0 - 1"),
    ([["modify", "nosuch", {"mode": "ro"}]], "Cannot find disk with identifier nosuch"),
    ([["add", 3, {"size": 64}]], "Got disk index 3, but there are only 2"),
    ([["add", -1, {"size": 64, "name": "a"}], ["add", -1, {"size": 64, "name": "a"}]],
     "disk name 'a' already used"),
    ([["add", -1, {"size": 64, "name": "12"}]], "Purely numeric disk names are not allowed"),
    ([["add", -1, {"size": 64, "provider": "p"}]], "Unknown disk parameter(s) provider"),
    ([["add", -1, {"size": 64, "type": "plain"}]], "differs from the instance's disk template"),
    ([["add", -1, {"size": 64}]] * 15, "Instance has too many disks (16), cannot add more"),
    ([["add", -1, {"size": 64}]], "deactivated disks and --no-wait-for-sync"),
    ([["detach", 0, {}]], "Disk modification 'detach' is not supported"),
    ([["frobnicate", 0, {}]], "Invalid disk modification 'frobnicate'"),
])
def test_refusals_leave_the_config_unchanged(cluster, lab, mods, message):
    _create(cluster, "file")
    before = cluster.config_bytes()
    extra = {"wait_for_sync": False} if "no-wait-for-sync" in message else {}
    assert message in _error(_modify(cluster, mods, **extra))
    assert cluster.config_bytes() == before


def test_failed_creation_is_undone(cluster, lab):
    _create(cluster, "file")
    before = [dict(d) for d in _disks(cluster)]
    since = len(cluster.executor.calls)
    cluster.executor.fail_roles = {"instance_create": "fallocate: No space left on device"}
    try:
        message = _error(_modify(cluster, [["add", 0, {"size": 64}], [1, {"mode": "ro"}]]))
    finally:
        cluster.executor.fail_roles = {}
    assert "No space left on device" in message and "not in the config" in message
    roles = [play.role for play in _plays(cluster, since)]
    assert roles == ["instance_create", "instance_disk_remove"]
    cleanup = _plays(cluster, since)[1].hosts[N1]["gnt_instance"]["disks"]
    assert [d["index"] for d in cleanup] == [0]
    after = _disks(cluster)
    assert [(d["uuid"], d["mode"], d["iv_name"]) for d in after] == \
        [(d["uuid"], d["mode"], d["iv_name"]) for d in before]
    assert len(cluster.master.config.data["disks"]) == 2


def test_failed_removal_leaves_the_config(cluster, lab):
    _create(cluster, "file")
    before = cluster.config_bytes()
    cluster.executor.fail_roles = {"instance_disk_remove": "rm: Permission denied"}
    try:
        message = _error(_modify(cluster, [["remove", 0, {}]]))
    finally:
        cluster.executor.fail_roles = {}
    assert "Permission denied" in message and "config is unchanged" in message
    assert cluster.config_bytes() == before


# -- plain --------------------------------------------------------------------------------

def test_plain_add_checks_space_and_makes_a_new_lv(cluster, lab):
    _create(cluster, "plain")
    lab["free"][N1] = 100
    before = cluster.config_bytes()
    assert "Not enough disk space on target node" in _error(
        _modify(cluster, [["add", -1, {"size": 1024}]]))
    assert cluster.config_bytes() == before
    lab["free"][N1] = 10240
    since = len(cluster.executor.calls)
    _ok(_modify(cluster, [["add", 1, {"size": 1024}]]))
    [play] = _plays(cluster, since)
    assert play.role == "instance_create"
    disks = _disks(cluster)
    new = disks[1]
    assert new["dev_type"] == "plain" and new["logical_id"][0] == "xenvg"
    assert new["logical_id"][1].endswith(".disk1")
    [spec] = play.hosts[N1]["gnt_instance"]["disks"]
    assert spec["path"] == f"/dev/xenvg/{new['logical_id'][1]}" and spec["index"] == 1
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1", "disk/2"]


def test_plain_remove_removes_the_lv(cluster, lab):
    _create(cluster, "plain")
    old = _disks(cluster)
    since = len(cluster.executor.calls)
    _ok(_modify(cluster, [["remove", 0, {}]]))
    [play] = _plays(cluster, since)
    assert play.role == "instance_disk_remove"
    [gone] = play.hosts[N1]["gnt_instance"]["disks"]
    assert gone["path"] == "/dev/xenvg/" + old[0]["logical_id"][1]
    assert [d["uuid"] for d in _disks(cluster)] == [old[1]["uuid"]]


# -- drbd ---------------------------------------------------------------------------------

def test_drbd_add_on_both_nodes_port_taken_and_shut_down_when_stopped(cluster, lab):
    _create(cluster, "drbd", snode=N2)
    since = len(cluster.executor.calls)
    _ok(_modify(cluster, [["add", -1, {"size": 512}]]))
    create, down = _plays(cluster, since)
    assert create.role == down.role == "instance_drbd"
    assert {h: v["gnt_drbd_state"] for h, v in create.hosts.items()} == \
        {N1: "primary", N2: "secondary"}
    assert create.hosts[N1]["gnt_drbd_create"] and create.hosts[N1]["gnt_drbd_force"]
    assert create.hosts[N1]["gnt_drbd_wait_sync"] and not create.hosts[N2]["gnt_drbd_force"]
    assert [[e["index"] for e in v["gnt_drbd"]] for v in create.hosts.values()] == [[2], [2]]
    assert {v["gnt_drbd_state"] for v in down.hosts.values()} == {"down"}
    new = _disks(cluster)[2]
    assert new["dev_type"] == "drbd" and new["logical_id"][drbdmap.LID_PORT] > 0
    ports = [d["logical_id"][drbdmap.LID_PORT] for d in _disks(cluster)]
    assert len(set(ports)) == 3
    minors = [d["logical_id"][drbdmap.LID_PMINOR] for d in _disks(cluster)]
    assert len(set(minors)) == 3


def test_drbd_add_stays_assembled_when_disks_active_no_wait(cluster, lab):
    _create(cluster, "drbd", snode=N2)
    _ok(cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME))
    since = len(cluster.executor.calls)
    _ok(_modify(cluster, [["add", -1, {"size": 512}]], wait_for_sync=False))
    [create] = _plays(cluster, since)
    assert not create.hosts[N1]["gnt_drbd_wait_sync"]


def test_drbd_remove_tears_down_both_ends_and_gives_the_port_back(cluster, lab):
    _create(cluster, "drbd", snode=N2)
    old = _disks(cluster)
    port = old[0]["logical_id"][drbdmap.LID_PORT]
    since = len(cluster.executor.calls)
    _ok(_modify(cluster, [["remove", 0, {}]]))
    [play] = _plays(cluster, since)
    assert play.role == "instance_drbd"
    assert {h: v["gnt_drbd_state"] for h, v in play.hosts.items()} == \
        {N1: "absent", N2: "absent"}
    assert [[e["index"] for e in v["gnt_drbd"]] for v in play.hosts.values()] == [[0], [0]]
    assert [d["uuid"] for d in _disks(cluster)] == [old[1]["uuid"]]
    assert port in cluster.master.config.cluster().get("tcpudp_port_pool", [])


def test_drbd_failed_creation_removes_both_ends_and_the_port(cluster, lab):
    _create(cluster, "drbd", snode=N2)
    pool = list(cluster.master.config.cluster().get("tcpudp_port_pool", []))
    since = len(cluster.executor.calls)
    calls = {"n": 0}
    real_run = cluster.executor.run

    def run(plays, nodes, feedback):  # the create fails, the cleanup works
        calls["n"] += 1
        if calls["n"] == 1:
            cluster.executor.fail_roles = {"instance_drbd": "drbdmeta failed"}
        try:
            return real_run(plays, nodes, feedback)
        finally:
            cluster.executor.fail_roles = {}
    cluster.executor.run = run
    message = _error(_modify(cluster, [["add", -1, {"size": 512}]]))
    assert "drbdmeta failed" in message
    plays = _plays(cluster, since)
    create, cleanup = plays[0], plays[-1]
    assert [play.role for play in plays] == ["instance_drbd"] * 3   # create, down | cleanup
    port = create.hosts[N1]["gnt_drbd"][0]["port"]
    assert {v["gnt_drbd_state"] for v in cleanup.hosts.values()} == {"absent"}
    assert [[e["port"] for e in v["gnt_drbd"]] for v in cleanup.hosts.values()] == [[port]] * 2
    assert len(_disks(cluster)) == 2
    assert port not in pool
    assert port in cluster.master.config.cluster()["tcpudp_port_pool"]


# -- ext ----------------------------------------------------------------------------------

@pytest.fixture
def ext(cluster, monkeypatch):
    from multinode import install

    install(cluster, monkeypatch)
    monkeypatch.setattr(rpc, "ext_diagnose", lambda store, node, path: [
        {"name": "filevol", "path": f"{path[0]}/filevol", "valid": True, "error": "",
         "parameters": [["dir", "Directory holding the volume files"]]}])
    job = cluster.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=["ext", "diskless"])
    assert job.status == SUCCESS, job.ops[0].log
    _create(cluster, "ext", sizes=(), disks=[{"size": "1G", "provider": "filevol",
                                              "dir": "/srv/vols"}])
    return cluster


def test_ext_add_checks_the_provider_creates_and_detaches(ext):
    before = ext.config_bytes()
    assert "not supported by provider 'filevol'" in _error(_modify(ext, [[
        "add", -1, {"size": 64, "provider": "filevol", "pool": "x"}]]))
    assert "Missing provider for template 'ext'" in _error(_modify(ext, [[
        "add", -1, {"size": 64}]]))
    assert ext.config_bytes() == before
    since = len(ext.executor.calls)
    value = "{{ lookup('pipe', 'id') }}"
    _ok(_modify(ext, [["add", -1, {"size": 64, "provider": "filevol", "dir": value}]]))
    create, detach = _plays(ext, since)
    assert create.role == "instance_create" and detach.role == "instance_volumes"
    [disk] = create.hosts[N1]["gnt_instance"]["disks"]
    assert disk["ext"]["params"] == {"dir": value} and disk["index"] == 1
    assert detach.hosts[N1]["gnt_volumes_active"] is False
    new = _disks(ext)[1]
    assert new["params"] == {"provider": "filevol", "dir": value}
    assert new["logical_id"][0] == "filevol" and new["logical_id"][1].endswith(".ext.disk1")


def test_ext_modify_params_and_remove(ext):
    changes = _ok(_modify(ext, [["modify", 0, {"dir": "/srv/other", "name": "root"}]]))
    assert changes == [["disk.name/0", "root"], ["disk.params:dir/0", "/srv/other"]]
    assert _disks(ext)[0]["params"] == {"provider": "filevol", "dir": "/srv/other"}
    before = ext.config_bytes()
    assert "Disk 'provider' parameter change is not possible" in _error(
        _modify(ext, [["modify", 0, {"provider": "other"}]]))
    assert ext.config_bytes() == before
    volume = _disks(ext)[0]["logical_id"][1]
    since = len(ext.executor.calls)
    _ok(_modify(ext, [["remove", 0, {}]]))
    [play] = _plays(ext, since)
    assert play.role == "instance_disk_remove"
    [gone] = play.hosts[N1]["gnt_instance"]["disks"]
    assert gone["ext"]["name"] == volume and gone["ext"]["params"] == {"dir": "/srv/other"}
