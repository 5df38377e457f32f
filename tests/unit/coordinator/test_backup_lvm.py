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


def _exported(cluster) -> None:
    cluster.executor.facts["instance_export"] = {"gnt_export_result": {"msg": "", "disks": [
        {"index": 0, "ok": True, "method": "raw", "bytes": 4096, "duration_s": 0.1,
         "msg": ""}]}}


def test_export_of_a_stopped_plain_instance_reads_its_volume(cluster, lvm):
    _plain(cluster)
    _exported(cluster)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=INST, target_node=N3)
    assert job.status == SUCCESS, job.ops[0].log
    roles = [role for role, _hosts in _roles(cluster, since)]
    assert "instance_export" in roles and "instance_disk_snapshot" not in roles
    [disk] = _host(cluster, "instance_export")["gnt_instance"]["disks"]
    assert disk["dev_type"] == "plain" and disk["path"].startswith("/dev/xenvg/")


def test_export_of_a_running_plain_instance_stops_it_or_refuses_noshutdown(cluster, lvm):
    _plain(cluster, start=True)
    _exported(cluster)
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=INST, target_node=N3, shutdown=False)
    assert job.status == ERROR and "--noshutdown" in job.ops[0].result["args"][0]
    assert cluster.config_bytes() == before and _roles(cluster, since) == []
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=INST, target_node=N3)
    assert job.status == SUCCESS, job.ops[0].log
    roles = [role for role, _hosts in _roles(cluster, since)]
    assert roles == ["instance_stop", "instance_export", "instance_start", "export_place"]


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
    host = _host(cluster, "instance_import")
    assert host["gnt_import"]["disks"][0]["dump"] == f"{export_path(INST)}/disk0.dump.zst"
    if template == "drbd":    # written through the drbd device on the primary
        drbd = _host(cluster, "instance_drbd")
        assert host["gnt_instance"]["disks"][0]["path"] == drbd["gnt_drbd"][0]["link"]
