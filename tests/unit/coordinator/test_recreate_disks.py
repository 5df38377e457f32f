"""recreate-disks, coordinator side (issue 14): the plays for file, plain and drbd instances,
the config after a change of size, mode or nodes, and Ganeti's refusals (config unchanged).

Plays from the recording executor (vars checked against the roles' specs), node answers from
fakes; the roles run for real in tests/integration/test_storage_lab_recreate.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import rpc

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def lab(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    state["files"] = []
    monkeypatch.setattr(rpc, "verify_info_many", lambda store, nodes: {
        node["uuid"]: {"files": list(state["files"])} for node in nodes})
    return state


def _create(cluster, template: str, pnode: str = N1, snode: str | None = None,
            disks: list[str] | None = None, **kw: Any) -> dict:
    spec = {"instance_name": NAME, "disk_template": template,
            "disks": [{"size": size} for size in disks or ["1G", "512M"]],
            "pnode": pnode, "snode": snode, "name_check": False, "ip_check": False,
            "no_install": True, "start": False, "os_type": "blank"}
    spec.update(kw)
    job = cluster.run("OP_INSTANCE_CREATE", **spec)
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", NAME)


def _recreate(cluster, **kw: Any):
    return cluster.run("OP_INSTANCE_RECREATE_DISKS", instance_name=NAME, **kw)


def _disks(cluster) -> list[dict]:
    cfg = cluster.master.config
    return cfg.instance_disks(cfg.find("instances", NAME))


def _plays(cluster, since: int) -> list[tuple[str, dict[str, Any]]]:
    return [(p.role, {h: v.get("gnt_drbd_state", "-") for h, v in p.hosts.items()})
            for plays in cluster.executor.calls[since:] for p in plays]


def test_plain_recreates_every_disk_empty_on_the_primary(cluster, lab):
    _create(cluster, "plain")
    since = len(cluster.executor.calls)
    job = _recreate(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    [[play]] = cluster.executor.calls[since:]
    assert play.role == "instance_create" and list(play.hosts) == [N1]
    host = play.hosts[N1]
    assert host["gnt_install"] is False
    names = [d["logical_id"][1] for d in _disks(cluster)]
    assert [d["path"] for d in host["gnt_instance"]["disks"]] == \
        [f"/dev/xenvg/{name}" for name in names]
    assert "reinstall" in "\n".join(str(line) for line in job.ops[0].log)


def test_plain_one_disk_with_a_new_size_and_mode(cluster, lab):
    _create(cluster, "plain")
    since = len(cluster.executor.calls)
    job = _recreate(cluster, disks=[[1, {"size": "2G", "mode": "ro"}]])
    assert job.status == SUCCESS, job.ops[0].log
    [[play]] = cluster.executor.calls[since:]
    [disk] = play.hosts[N1]["gnt_instance"]["disks"]
    assert disk["index"] == 1 and disk["size_mib"] == 2048 and disk["mode"] == "ro"
    first, second = _disks(cluster)
    assert (first["size"], first["mode"]) == (1024, "rw")
    assert (second["size"], second["mode"]) == (2048, "ro")


def test_plain_moves_to_a_new_node(cluster, lab):
    inst = _create(cluster, "plain")
    before = [d["logical_id"] for d in _disks(cluster)]
    since = len(cluster.executor.calls)
    job = _recreate(cluster, nodes=[N2])
    assert job.status == SUCCESS, job.ops[0].log
    [[play]] = cluster.executor.calls[since:]
    assert list(play.hosts) == [N2]
    cfg = cluster.master.config
    n2 = cfg.lookup("nodes", N2)["uuid"]
    assert cfg.get("instances", inst["uuid"])["primary_node"] == n2
    assert [d["nodes"] for d in _disks(cluster)] == [[n2], [n2]]
    assert [d["logical_id"] for d in _disks(cluster)] == before
    assert "remove any disks left on the older nodes" in \
        "\n".join(str(line) for line in job.ops[0].log)


def test_file_disks_are_made_again(cluster, lab):
    _create(cluster, "file")
    since = len(cluster.executor.calls)
    job = _recreate(cluster, disks=[0])
    assert job.status == SUCCESS, job.ops[0].log
    [[play]] = cluster.executor.calls[since:]
    [disk] = play.hosts[N1]["gnt_instance"]["disks"]
    assert disk["index"] == 0 and disk["path"].endswith(f"/{NAME}/disk0")


def test_drbd_on_the_same_nodes(cluster, lab):
    _create(cluster, "drbd", snode=N2)
    before = [d["logical_id"] for d in _disks(cluster)]
    since = len(cluster.executor.calls)
    job = _recreate(cluster, disks=[1])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        ("instance_drbd", {N1: "down", N2: "down"}),
        ("instance_drbd", {N1: "primary", N2: "secondary"}),
        ("instance_drbd", {N1: "down", N2: "down"})]
    create = cluster.executor.calls[-1][1]
    for host, promoted in ((N1, True), (N2, False)):
        hv = create.hosts[host]
        assert [end["index"] for end in hv["gnt_drbd"]] == [1]
        assert hv["gnt_drbd_create"] is True
        assert hv["gnt_drbd_force"] is promoted and hv["gnt_drbd_wait_sync"] is promoted
    assert [d["logical_id"] for d in _disks(cluster)] == before


def test_drbd_on_new_nodes_gets_new_minors_and_keeps_ports(cluster, lab):
    inst = _create(cluster, "drbd", snode=N2)
    before = [list(d["logical_id"]) for d in _disks(cluster)]
    since = len(cluster.executor.calls)
    job = _recreate(cluster, nodes=[N3, N1], disks=[[0, {"size": 2048}], [1, {}]])
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        ("instance_drbd", {N3: "primary", N1: "secondary"}),
        ("instance_drbd", {N3: "down", N1: "down"})]
    cfg = cluster.master.config
    n1, n3 = cfg.lookup("nodes", N1)["uuid"], cfg.lookup("nodes", N3)["uuid"]
    assert cfg.get("instances", inst["uuid"])["primary_node"] == n3
    disks = _disks(cluster)
    for old, disk in zip(before, disks, strict=True):
        lid = disk["logical_id"]
        assert lid[:2] == [n3, n1] and lid[2] == old[2] and lid[5] == old[5]
        assert disk["nodes"] == [n3, n1]
    # node3 had no minors; node1's minors 0 and 1 are still held by the old config entries
    # at allocation time, so it gets the next free ones
    assert [(d["logical_id"][3], d["logical_id"][4]) for d in disks] == [(0, 2), (1, 3)]
    assert disks[0]["size"] == 2048 and disks[0]["children"][0]["size"] == 2048
    assert cfg.instance_secondaries(cfg.get("instances", inst["uuid"])) == [n1]


def _refused(cluster, message: str, **kw: Any) -> str:
    before = cluster.config_bytes()
    job = _recreate(cluster, **kw)
    assert job.status == ERROR
    text = str(job.ops[0].result)
    assert message in text, text
    assert cluster.config_bytes() == before
    return text


def test_refused_while_marked_up_or_running(cluster, lab):
    _create(cluster, "plain", start=True)
    _refused(cluster, f"Instance '{NAME}' is marked to be up, cannot recreate disks")
    cfg = cluster.master.config
    inst = cfg.find("instances", NAME)
    cfg.modify("instances", inst["uuid"], lambda obj: obj.update(admin_state="down"))
    _refused(cluster, f"Instance {NAME} is running, cannot recreate disks")


@pytest.mark.parametrize("template, kw, message", [
    ("plain", {"nodes": [N2, N3]}, f"Instance {NAME} currently has 1 nodes, but 2"
                                   " replacement nodes were specified"),
    ("drbd", {"nodes": [N3]}, f"Instance {NAME} currently has 2 nodes, but 1 replacement"
                              " nodes were specified"),
    ("drbd", {"nodes": [N3, N3]}, f"The new nodes must differ: {N3}:{N3}"),
    ("plain", {"nodes": ["ghost.example.com"]}, "Node 'ghost.example.com' not known"),
    ("plain", {"nodes": [N2], "iallocator": "hail"}, "Do not specify both, iallocator and node"),
    ("plain", {"disks": [2]}, f"Invalid disk index '2' (instance {NAME} has 2 disk(s))"),
    ("plain", {"disks": [[0, {}], [0, {"size": 10}]]},
     "Some disks have been specified more than once: 0"),
    ("plain", {"disks": [[0, {"vg": "other"}]]},
     "Parameters for disk 0 try to change unmodifyable parameter(s): vg"),
    ("plain", {"disks": [[0, {"size": "lots"}]]}, "Invalid disk size for disk 0"),
    ("plain", {"disks": [[0, {"mode": "rx"}]]}, "Invalid mode 'rx' for disk 0"),
    ("plain", {"disks": [[0, {"spindles": 2}]]}, "Spindles in instance disks cannot be"),
    ("plain", {"disks": [0], "nodes": [N2]},
     "Can't recreate disks partially and change the nodes at the same time"),
    ("drbd", {"disks": [[0, {"size": 20000}]]}, "Not enough disk space on target node"),
])
def test_bad_requests_are_refused(cluster, lab, template, kw, message):
    _create(cluster, template, snode=N2 if template == "drbd" else None)
    _refused(cluster, message, **kw)


def test_existing_volumes_are_refused_naming_them(cluster, lab, monkeypatch):
    _create(cluster, "drbd", snode=N2)
    data = _disks(cluster)[1]["children"][0]["logical_id"]
    present = {N2: {f"xenvg/{data[1]}": {"size_mib": 512, "active": False, "open": False}}}
    monkeypatch.setattr(rpc, "lv_list", lambda store, node, vgs: present.get(node["name"], {}))
    text = _refused(cluster, f"disk 1 (xenvg/{data[1]}) still exist(s) on node {N2}")
    assert "--disk N" in text
    job = _recreate(cluster, disks=[0])
    assert job.status == SUCCESS, job.ops[0].log


def test_existing_file_is_refused(cluster, lab):
    inst = _create(cluster, "file")
    path = cluster.master.config.instance_disks(inst)[0]["logical_id"][1]
    lab["files"] = [path]
    _refused(cluster, f"disk 0 ({path}) still exist(s) on node {N1}")


def test_drbd_nodes_chosen_by_the_allocator(cluster, lab):
    inst = _create(cluster, "drbd", snode=N2)
    job = _recreate(cluster, iallocator="builtin")
    assert job.status == SUCCESS, job.ops[0].log
    cfg = cluster.master.config
    inst = cfg.get("instances", inst["uuid"])
    chosen = {cfg.get("nodes", uuid)["name"] for uuid in
              [inst["primary_node"], *cfg.instance_secondaries(inst)]}
    assert len(chosen) == 2
    assert f"Selected nodes for instance {NAME} via iallocator builtin" in "\n".join(str(line) for line in job.ops[0].log)


def test_dead_primary_moves_without_the_state_check(cluster, lab):
    """-n with the old primary offline: its state cannot be asked (Ganeti skips the check)."""
    inst = _create(cluster, "plain", pnode=N2, start=True)
    cfg = cluster.master.config
    n2 = cfg.lookup("nodes", N2)["uuid"]
    cfg.modify("nodes", n2, lambda obj: obj.update(offline=True))
    _refused(cluster, f"Can't use offline node {N2}")
    since = len(cluster.executor.calls)
    job = _recreate(cluster, nodes=[N3])
    assert job.status == SUCCESS, job.ops[0].log
    [[play]] = cluster.executor.calls[since:]
    assert list(play.hosts) == [N3]
    assert cfg.get("instances", inst["uuid"])["primary_node"] == cfg.lookup("nodes", N3)["uuid"]
