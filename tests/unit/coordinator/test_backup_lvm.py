"""Export and import of plain and drbd instances (real LUs, recording executor; the nodes'
LVM/DRBD answers and export listings faked at the network edge)."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster
from test_backup_export_import_lus import FakeExports, _info

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.lu.backup import export_path
from gnt.nodes import rpc

N2, N3 = "node2.example.com", "node3.example.com"
INST = "web1.example.com"


@pytest.fixture
def lvm(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    cluster.exports = FakeExports()
    monkeypatch.setattr(rpc, "exports_many", cluster.exports.exports_many)
    monkeypatch.setattr(rpc, "export_info", cluster.exports.export_info)
    return state


def _roles(cluster, since: int) -> list[tuple[str, list[str]]]:
    return [(play.role, sorted(play.hosts)) for plays in cluster.executor.calls[since:]
            for play in plays]


def _host(cluster, role: str) -> dict[str, Any]:
    return next(v for plays in reversed(cluster.executor.calls) for play in plays
                if play.role == role for v in play.hosts.values())


def _plain(cluster, start: bool = False) -> None:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, disk_template="plain",
                      disks=[{"size": "1G"}], pnode=N2, name_check=False, ip_check=False,
                      no_install=True, start=start, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log


def _exported(cluster, ok: bool = True) -> None:
    """The export role's facts for the next runs: disk 0 copied (or, not ``ok``, failed)."""
    cluster.executor.facts["instance_export"] = {"gnt_export_result": {"msg": "", "disks": [
        {"index": 0, "ok": ok, "method": "raw", "bytes": 4096, "duration_s": 0.1,
         "msg": "" if ok else "disk 0: read error"}]}}


def _export(cluster, **kw: Any):
    _exported(cluster)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=INST, target_node=N3, **kw)
    return job, since


def _read_from(cluster) -> list[str]:
    return [d["path"] for d in _host(cluster, "instance_export")["gnt_instance"]["disks"]]


def _lv(cluster) -> str:
    inst = cluster.master.config.lookup("instances", INST)
    [disk] = cluster.master.config.instance_disks(inst)
    data = disk["children"][0] if disk["dev_type"] == "drbd" else disk
    return f"{data['logical_id'][0]}/{data['logical_id'][1]}"


def test_export_of_a_stopped_plain_instance_reads_its_volume(cluster, lvm):
    _plain(cluster)
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert [r for r, _h in _roles(cluster, since)] == [
        "instance_volumes", "instance_export", "instance_volumes", "export_place"]
    assert _read_from(cluster) == [f"/dev/{_lv(cluster)}"]


def test_export_noshutdown_of_a_running_plain_instance_reads_a_snapshot(cluster, lvm):
    _plain(cluster, start=True)
    job, since = _export(cluster, shutdown=False)
    assert job.status == SUCCESS, job.ops[0].log
    assert _roles(cluster, since) == [("instance_lv_snapshot", [N2]), ("instance_export", [N2]),
                                      ("instance_lv_snapshot", [N2]), ("export_place", [N3])]
    assert _read_from(cluster) == [f"/dev/{_lv(cluster)}.snap"]
    vg, lv = _lv(cluster).split("/")
    snaps = [play.hosts[N2]["gnt_lv_snapshot"] for play in cluster.executor.calls[since]
             if play.role == "instance_lv_snapshot"]
    assert [s["state"] for s in snaps] == ["present", "absent"]
    assert snaps[0]["volumes"] == [{"vg": vg, "lv": lv, "snap": f"{lv}.snap", "size_mib": 1024}]


def test_export_with_shutdown_restarts_once_the_snapshots_exist(cluster, lvm):
    _plain(cluster, start=True)
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert [r for r, _h in _roles(cluster, since)] == [
        "instance_stop", "instance_lv_snapshot", "instance_start", "instance_export",
        "instance_lv_snapshot", "export_place"]


def test_export_with_remove_instance_reads_the_stopped_volumes(cluster, lvm):
    _plain(cluster, start=True)
    job, since = _export(cluster, remove_instance=True)
    assert job.status == SUCCESS, job.ops[0].log
    roles = [r for r, _h in _roles(cluster, since)]
    assert roles[:2] == ["instance_stop", "instance_export"]
    assert "instance_lv_snapshot" not in roles and "instance_start" not in roles
    assert cluster.master.config.find("instances", INST) is None


def test_export_of_a_running_drbd_instance_snapshots_the_primary_data_volume(cluster, lvm):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, disk_template="drbd",
                      disks=[{"size": "1G"}], pnode=N2, snode=N3, name_check=False,
                      ip_check=False, no_install=True, start=True, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    job, since = _export(cluster, shutdown=False)
    assert job.status == SUCCESS, job.ops[0].log
    assert _lv(cluster).endswith("_data")
    assert _read_from(cluster) == [f"/dev/{_lv(cluster)}.snap"]
    assert [h for r, h in _roles(cluster, since) if r == "instance_lv_snapshot"] == [[N2], [N2]]


@pytest.mark.parametrize("failing", ["instance_lv_snapshot", "instance_export"])
def test_failed_step_removes_the_snapshots_and_restarts(cluster, lvm, failing):
    _plain(cluster, start=True)
    cluster.executor.fail_roles = {failing: "lvcreate: insufficient free space"}
    original, runs = cluster.executor.run, []

    def run(plays, nodes, feedback):
        runs.append(plays)
        if len(runs) > 1:           # the clean-up run succeeds
            cluster.executor.fail_roles = {}
        return original(plays, nodes, feedback)

    cluster.executor.run = run
    job, since = _export(cluster)
    assert job.status == ERROR
    assert "insufficient free space" in job.ops[0].result["args"][0]
    cleanup = [(p.role, p.hosts[N2].get("gnt_lv_snapshot", {}).get("state")) for p in runs[1]]
    assert cleanup == [("instance_lv_snapshot", "absent"), ("instance_start", None)]
    assert _roles(cluster, since)[-1] == ("export_remove", [N3])     # the half export


def test_a_failed_clean_up_names_the_snapshots(cluster, lvm):
    _plain(cluster, start=True)
    cluster.executor.fail_roles = {"instance_lv_snapshot": "lvremove failed"}
    job, _since = _export(cluster, shutdown=False)
    assert job.status == ERROR
    msg = job.ops[0].result["args"][0]
    assert f"{_lv(cluster)}.snap" in msg and "lvremove" in msg


@pytest.mark.parametrize("template,snode,expected", [
    ("plain", None, [("instance_create", [N2]), ("instance_import", [N2])]),
    ("drbd", N3, [("instance_drbd", [N2, N3]), ("instance_create", [N2]),
                  ("instance_import", [N2])]),
])
def test_import_of_a_file_export_into_lvm_templates(cluster, lvm, template, snode, expected):
    cluster.exports.put(MASTER, _info(osparams={}))
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, mode="import", pnode=N2,
                      snode=snode, disk_template=template, start=False, name_check=False,
                      ip_check=False)
    assert job.status == SUCCESS, job.ops[0].log
    inst = cluster.master.config.lookup("instances", INST)
    assert inst["disk_template"] == template
    assert _roles(cluster, since) == expected
    # the disks live on the primary (and secondary), not on the export's source node
    cfg = cluster.master.config
    wanted = [cfg.lookup("nodes", n)["uuid"] for n in (N2, snode) if n]
    assert [disk["nodes"] for disk in cfg.instance_disks(inst)] == [wanted] * len(inst["disks"])
    host = _host(cluster, "instance_import")
    assert host["gnt_import"]["disks"][0]["dump"] == f"{export_path(INST)}/disk0.dump.zst"
    if template == "drbd":    # written through the drbd device on the primary
        drbd = _host(cluster, "instance_drbd")
        assert host["gnt_instance"]["disks"][0]["path"] == drbd["gnt_drbd"][0]["link"]
