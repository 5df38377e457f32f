"""Remote export and import (move-instance) of instances on logical volumes: plain and drbd
(issues 15 and 14). Real LUs and Master, recording executor, the nodes' volume groups and
DRBD status faked at the network edge (multinode.py). What each side reads or writes: the
source sends from its LVs (a drbd disk's data volume, or their LVM snapshots while the
instance keeps running), the destination receives into the LVs it made (drbd: onto the
primary's device, made Primary and resynced first). The data path itself runs for real in
tests/integration/test_move_instance_lvm_lab.py."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster
from test_remote_import_export import _cert, _destination, _listening, _source

from gnt.core import domainsecret, rie
from gnt.core.jobstate import SUCCESS
from gnt.core.locklevels import LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES, name_lock

N2, N3 = "node2.example.com", "node3.example.com"
SRC, DEST = "lv-src.example.com", "lv-dest.example.com"


@pytest.fixture
def lvm(cluster, monkeypatch):
    return drbd_cluster(cluster, monkeypatch, N2, N3)


def _create(cluster, template: str, start: bool = False) -> dict[str, Any]:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=SRC, disk_template=template,
                      disks=[{"size": "256M"}, {"size": "128M"}], pnode=MASTER,
                      snode=N2 if template == "drbd" else None, name_check=False,
                      ip_check=False, no_install=True, start=start, os_type="blank",
                      beparams={"memory": "128M"})
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.lookup("instances", SRC)


def _export(cluster, **over: Any):
    job = cluster.run("OP_BACKUP_PREPARE", instance_name=SRC, mode="remote")
    assert job.status == SUCCESS, job.ops[0].log
    secret = domainsecret.local_secret()
    cluster.executor.facts["instance_remote_send"] = {"gnt_export_result": {"msg": "", "disks": [
        {"index": index, "ok": True, "method": "raw", "duration_s": 0.1} for index in (0, 1)]}}
    since = len(cluster.executor.calls)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=SRC, mode="remote",
                      x509_key_name=job.ops[0].result["x509_key_name"], compress="none",
                      **_destination(secret, 2), **over)
    assert job.status == SUCCESS, job.ops[0].log
    return [play for plays in cluster.executor.calls[since:] for play in plays]


def _data_volumes(cluster, inst: dict[str, Any]) -> list[str]:
    """/dev/VG/LV of each disk's data (a drbd disk's first child)."""
    paths = []
    for disk in cluster.master.config.instance_disks(inst):
        volume = disk["children"][0] if disk["dev_type"] == "drbd" else disk
        vg, lv = volume["logical_id"]
        paths.append(f"/dev/{vg}/{lv}")
    return paths


def _sent_from(plays) -> list[str]:
    send = next(play for play in plays if play.role == "instance_remote_send")
    return [disk["path"] for disk in send.hosts[MASTER]["gnt_instance"]["disks"]]


@pytest.mark.parametrize("template", ["plain", "drbd"])
def test_stopped_instance_is_sent_from_its_volumes(lvm, cluster, template):
    inst = _create(cluster, template)
    plays = _export(cluster)
    # its disks are not active: activated for the copy, plain ones deactivated after it
    after = ["instance_volumes"] if template == "plain" else []
    assert [play.role for play in plays] == ["instance_volumes", "instance_remote_send", *after]
    # not the drbd device (down while the instance is stopped): the data volume itself
    assert _sent_from(plays) == _data_volumes(cluster, inst)


def test_running_instance_is_sent_from_snapshots_and_keeps_running(lvm, cluster):
    inst = _create(cluster, "plain", start=True)
    plays = _export(cluster)
    assert [play.role for play in plays] == ["instance_stop", "instance_lv_snapshot",
                                             "instance_start", "instance_remote_send",
                                             "instance_lv_snapshot"]
    taken, dropped = (play.hosts[MASTER]["gnt_lv_snapshot"] for play in plays
                      if play.role == "instance_lv_snapshot")
    assert (taken["state"], dropped["state"]) == ("present", "absent")
    snaps = [f"/dev/{vol['vg']}/{vol['snap']}" for vol in taken["volumes"]]
    assert _sent_from(plays) == snaps
    assert [path.rsplit(".snap", 1)[0] for path in snaps] == _data_volumes(cluster, inst)


def _import(cluster, template: str, **over: Any):
    _listening(cluster)
    secret = domainsecret.local_secret()
    since = len(cluster.executor.calls)
    op = {"instance_name": DEST, "mode": "remote-import", "disk_template": template,
          "disks": [{"size": 256}, {"size": 128}], "pnode": MASTER,
          "snode": N2 if template == "drbd" else None, "name_check": False,
          "ip_check": False, "start": False, **_source(secret)}
    job = cluster.run("OP_INSTANCE_CREATE", **{**op, **over})
    return job, [play for plays in cluster.executor.calls[since:] for play in plays]


@pytest.mark.parametrize("template", ["plain", "drbd"])
def test_import_receives_into_the_new_volumes(lvm, cluster, template):
    job, plays = _import(cluster, template)
    assert job.status == SUCCESS, job.ops[0].log
    roles = [play.role for play in plays]
    made = ["instance_drbd"] if template == "drbd" else []
    assert roles == [*made, "instance_create", "instance_remote_receive",
                     "instance_remote_receive"], roles
    inst = cluster.master.config.lookup("instances", DEST)
    disks = cluster.master.config.instance_disks(inst)
    assert [d["dev_type"] for d in disks] == [template, template]
    listen = plays[roles.index("instance_remote_receive")].hosts[MASTER]
    paths = [disk["path"] for disk in listen["gnt_instance"]["disks"]]
    if template == "plain":
        assert paths == _data_volumes(cluster, inst)
    else:       # the primary's DRBD device (its link), so that the secondary gets each byte
        ends = plays[0].hosts[MASTER]
        assert [end["link"] for end in ends["gnt_drbd"]] == paths
        assert ends["gnt_drbd_state"] == "primary" and ends["gnt_drbd_create"]
        assert plays[0].hosts[N2]["gnt_drbd_state"] == "secondary"
    assert plays[roles.index("instance_create")].hosts[MASTER]["gnt_install"] is False


def test_import_into_drbd_without_a_secondary_is_refused(lvm, cluster):
    job, plays = _import(cluster, "drbd", snode=None)
    assert job.status != SUCCESS
    assert "The networked disk templates need a mirror node" in str(job.ops[0].result)
    assert plays == [] and cluster.master.config.find("instances", DEST) is None


def test_foreign_certificate_still_refused_for_lvs(lvm, cluster):
    signed = rie.sign_certificate(_cert(), "e" * 40, rie.new_salt())
    job, plays = _import(cluster, "plain", source_x509_ca=signed)
    assert job.status != SUCCESS and "signature is invalid" in str(job.ops[0].result)
    assert plays == []


def test_waiting_for_the_data_holds_no_node_lock(lvm, cluster, monkeypatch):
    """As Ganeti's: once the disks exist, the import keeps only its instance's lock, so that
    a move within one cluster can export from the same nodes meanwhile."""
    held: list[list[str]] = []
    real_run = cluster.executor.run

    def run(plays, nodes, feedback):
        remote = plays[0].hosts.get(MASTER, {}).get("gnt_remote", {})
        if plays[0].role == "instance_remote_receive" and remote.get("state") == "finished":
            held.append([name for name, mode, _owners, _pending in
                         cluster.master.locks.snapshot() if mode])
        return real_run(plays, nodes, feedback)

    monkeypatch.setattr(cluster.executor, "run", run)
    job, _plays = _import(cluster, "drbd")
    assert job.status == SUCCESS, job.ops[0].log
    assert len(held) == 1
    names = held[0]
    assert not [name for name in names
                if name.split("/")[0] in (LEVEL_NODE, LEVEL_NODE_RES)], names
    assert f"{LEVEL_INSTANCE}/{name_lock(DEST)}" in names, names
