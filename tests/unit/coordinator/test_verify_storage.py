"""LVM and DRBD checks of ``gnt-cluster verify`` (issue 14, Ganeti's orphan/missing volume,
DRBD minor, usermode helper and degraded-disk checks), through OP_CLUSTER_VERIFY on a
three-node cluster with plain and drbd instances; the nodes' verify answers are built from the
config and then spoiled one fact at a time (the node side runs for real in the lab:
tests/integration/test_storage_lab_verify.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.config import drbdmap
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.jobstate import SUCCESS
from gnt.lu import verify_storage
from gnt.lu.verify_disks import instance_volumes
from gnt.nodes import rpc

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"
VG = "xenvg"


@pytest.fixture
def lab(cluster, monkeypatch):
    """The cluster with plain instance ``p1`` (on N2, running) and drbd instance ``d1``
    (N1:N2, running) and ``d2`` (N2:N3, stopped); ``lab.answers`` are the nodes' verify
    answers (by node name), made healthy from the config and changed by the tests."""
    drbd_cluster(cluster, monkeypatch, N2, N3)
    base = {"name_check": False, "ip_check": False, "no_install": True, "start": False,
            "os_type": "blank", "disks": [{"size": "1G"}]}
    for name, template, nodes in (("p1", "plain", (N2, None)), ("d1", "drbd", (N1, N2)),
                                  ("d2", "drbd", (N2, N3))):
        job = cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template=template,
                          pnode=nodes[0], snode=nodes[1], **base)
        assert job.status == SUCCESS, job.ops[0].log
    for name in ("p1", "d1"):
        assert cluster.run("OP_INSTANCE_STARTUP", instance_name=name).status == SUCCESS
    cfg = cluster.master.config
    cluster.answers = healthy_answers(cfg)
    cluster.asked = {}

    def verify_info_many(store, nodes, asks=None):
        cluster.asked = {store.get("nodes", uuid)["name"]: ask
                         for uuid, ask in (asks or {}).items()}
        shared = store.cluster()["shared_file_storage_dir"]
        out: dict[str, Any] = {}
        for node in nodes:
            answer = {"dirs": {store.cluster()["file_storage_dir"]: True, shared: True},
                      "files": [], "bridges": ["gnt-br0"], "ssconf_master_node": MASTER,
                      "config_serial": store.serial_no, "ssconf_serial": store.serial_no}
            answer.update(copy.deepcopy(cluster.answers[node["name"]]))
            out[node["uuid"]] = answer
        return out

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    return cluster


def healthy_answers(cfg: Any) -> dict[str, dict[str, Any]]:
    """Per node name: the VG there, every instance volume active, every configured minor up
    to date and connected, the helper the cluster wants."""
    answers = {n["name"]: {"vgs_found": [VG], "lvs": {}, "drbd_helper": "/bin/true",
                           "drbd_minors": {}} for n in cfg.all("nodes")}
    for inst in cfg.all("instances"):
        for node_uuid, volume in instance_volumes(cfg, inst):
            answers[cfg.get("nodes", node_uuid)["name"]]["lvs"][volume] = True
    for node_uuid, minors in drbdmap.minor_map(cfg.data).items():
        for minor in minors:
            answers[cfg.get("nodes", node_uuid)["name"]]["drbd_minors"][str(minor)] = {
                "configured": True, "degraded": False, "local_disk": "ok"}
    return answers


def verify(cluster) -> tuple[dict[str, Any], list[str]]:
    """The verify result and the ERROR/WARNING lines of its disk section."""
    job = cluster.run("OP_CLUSTER_VERIFY")
    assert job.status == SUCCESS, job.ops[0].result
    return job.ops[0].result, disk_findings(job)


def disk_findings(job) -> list[str]:
    """The ERROR/WARNING lines of the disk section of a verify job's log."""
    lines = [entry[3] for entry in job.ops[0].log]
    section = lines[lines.index("* Verifying disks"):lines.index(
        "* Verifying N+1 memory redundancy")]
    return [line.strip() for line in section if "ERROR" in line or "WARNING" in line]


def volumes_of(cluster, name: str, node: str) -> list[str]:
    cfg = cluster.master.config
    inst = cfg.find("instances", name)
    return [vol for uuid, vol in instance_volumes(cfg, inst)
            if cfg.get("nodes", uuid)["name"] == node]


def minors_of(cluster, name: str, node: str) -> list[int]:
    cfg = cluster.master.config
    inst, node_uuid = cfg.find("instances", name), cfg.lookup("nodes", node)["uuid"]
    return [minor for minor, disk in drbdmap.minor_map(cfg.data)[node_uuid].items()
            if disk in inst["disks"]]


def test_healthy_cluster_has_no_storage_findings_and_every_node_is_asked(lab):
    result, lines = verify(lab)
    assert result == {"ok": True, "errors": 0}, lines
    assert lines == []
    assert lab.asked == {n: {"vgs": [VG], "drbd": True} for n in (N1, N2, N3)}


def test_missing_volume_is_an_error_of_the_instance(lab):
    [data, meta] = volumes_of(lab, "d1", N2)
    del lab.answers[N2]["lvs"][meta]
    result, lines = verify(lab)
    assert result == {"ok": False, "errors": 1}
    assert lines == [f"- ERROR: instance d1: volume {meta} missing on node {N2}"]


def test_unknown_volume_warns_unless_reserved(lab):
    lab.answers[N3]["lvs"].update({f"{VG}/stray": True, "othervg/notours": True})
    result, lines = verify(lab)
    assert result == {"ok": True, "errors": 0}                   # a warning only
    assert lines == [f"- WARNING: node {N3}: volume {VG}/stray is unknown"]
    job = lab.run("OP_CLUSTER_SET_PARAMS", reserved_lvs=[f"{VG}/str.*"])
    assert job.status == SUCCESS, job.ops[0].log
    assert verify(lab)[1] == []
    # a pattern matches the whole name, not a part of it (Ganeti's field sets)
    assert lab.run("OP_CLUSTER_SET_PARAMS", reserved_lvs=["stray"]).status == SUCCESS
    assert verify(lab)[1] == [f"- WARNING: node {N3}: volume {VG}/stray is unknown"]


def test_lvm_problem_or_missing_group_stops_the_volume_checks_of_that_node(lab):
    lab.answers[N2] = {"lvm_error": "vgs failed: /dev/sdb: read error",
                       "drbd_helper": "/bin/true", "drbd_minors":
                       lab.answers[N2]["drbd_minors"]}
    lab.answers[N3]["vgs_found"] = []
    result, lines = verify(lab)
    assert lines == [f"- ERROR: node {N2}: LVM problem on node: vgs failed: /dev/sdb: read"
                     " error", f"- ERROR: node {N3}: volume group '{VG}' missing"]
    assert result == {"ok": False, "errors": 2}


def test_drbd_minor_of_a_running_instance_must_be_active(lab):
    [minor] = minors_of(lab, "d1", N2)
    del lab.answers[N2]["drbd_minors"][str(minor)]
    [disk] = lab.master.config.find("instances", "d1")["disks"]
    # d2 is stopped: its minors being down is no finding
    for stopped in minors_of(lab, "d2", N3):
        del lab.answers[N3]["drbd_minors"][str(stopped)]
    result, lines = verify(lab)
    assert lines == [f"- ERROR: node {N2}: drbd minor {minor} of disk {disk} (attached in"
                     " instance 'd1') is not active"]
    assert result["errors"] == 1


def test_minor_in_use_that_the_config_does_not_have(lab):
    lab.answers[N1]["drbd_minors"]["7"] = {"configured": True, "degraded": True,
                                           "local_disk": "faulty"}
    lab.answers[N1]["drbd_minors"]["8"] = {"configured": False}     # listed, not configured
    assert verify(lab)[1] == [f"- ERROR: node {N1}: unallocated drbd minor 7 is in use"]


def test_wrong_usermode_helper_matters_where_devices_are_in_use(lab):
    lab.answers[N2]["drbd_helper"] = "/usr/sbin/other-helper"
    lab.answers[N3]["drbd_helper"] = None        # not loaded: loaded on demand with ours
    lab.answers[N1]["drbd_helper"] = "/sbin/drbdadm"
    lab.answers[N1]["drbd_minors"] = {}          # no devices: set before the first one
    assert lab.run("OP_INSTANCE_SHUTDOWN", instance_name="d1").status == SUCCESS
    assert verify(lab)[1] == [f"- ERROR: node {N2}: wrong drbd usermode helper:"
                              " /usr/sbin/other-helper"]


@pytest.mark.parametrize("local, level, name", [("sync", "WARNING", "syncing"),
                                                ("ok", "WARNING", "ok"),
                                                ("faulty", "ERROR", "faulty")])
def test_degraded_disk_of_a_running_instance(lab, local, level, name):
    [minor] = minors_of(lab, "d1", N2)
    lab.answers[N2]["drbd_minors"][str(minor)].update(degraded=True, local_disk=local)
    for stopped in minors_of(lab, "d2", N2):        # a stopped instance's ends: not judged
        lab.answers[N2]["drbd_minors"][str(stopped)].update(degraded=True, local_disk="faulty")
    result, lines = verify(lab)
    assert lines == [f"- {level}: instance d1: disk/0 on {N2} is degraded; local disk state"
                     f" is '{name}'"]
    assert result["ok"] is (level == "WARNING")


def test_what_to_ask_follows_templates_capability_and_instance_volume_groups(lab):
    cfg = lab.master.config
    nodes = sorted(cfg.all("nodes"), key=lambda n: n["name"])
    nodes[2] = dict(nodes[2], vm_capable=False)
    asks = {cfg.get("nodes", uuid)["name"]: ask
            for uuid, ask in verify_storage.what_to_ask(cfg, nodes).items()}
    # N3 holds d2's secondary volumes: still asked about their group, not about DRBD
    assert asks[N3] == {"vgs": [VG], "drbd": False}
    assert asks[N1] == {"vgs": [VG], "drbd": True}
    cluster = dict(cfg.cluster(), enabled_disk_templates=["file"])
    assert not verify_storage.lvm_enabled(cluster) and not verify_storage.drbd_enabled(cluster)


# --- error codes (--error-codes) and ignored codes (--ignore-errors) -------------------------

def test_error_codes_print_each_finding_in_ganetis_parseable_form(lab):
    [data, meta] = volumes_of(lab, "d1", N2)
    del lab.answers[N2]["lvs"][meta]
    lab.answers[N3]["lvs"][f"{VG}/stray"] = True
    job = lab.run("OP_CLUSTER_VERIFY", error_codes=True)
    assert job.status == SUCCESS, job.ops[0].result
    assert disk_findings(job) == [
        f"- ERROR:EINSTANCEMISSINGDISK:instance:d1:volume {meta} missing on node {N2}",
        f"- WARNING:ENODEORPHANLV:node:{N3}:volume {VG}/stray is unknown"]
    assert job.ops[0].result == {"ok": False, "errors": 1}


def test_ignored_code_turns_its_errors_into_warnings_that_do_not_fail(lab):
    [minor] = minors_of(lab, "d1", N2)
    del lab.answers[N2]["drbd_minors"][str(minor)]
    lab.answers[N1]["drbd_minors"]["7"] = {"configured": True}
    lab.answers[N3]["vgs_found"] = []
    job = lab.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODEDRBD"], error_codes=True)
    assert job.status == SUCCESS, job.ops[0].result
    lines = disk_findings(job)
    assert [line.split(":")[:4] for line in lines] == [
        ["- ERROR", "ENODELVM", "node", N3], ["- WARNING", "ENODEDRBD", "node", N1],
        ["- WARNING", "ENODEDRBD", "node", N2]], lines
    assert job.ops[0].result == {"ok": False, "errors": 1}           # ENODELVM still counts
    job = lab.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODEDRBD", "ENODELVM"])
    assert job.ops[0].result == {"ok": True, "errors": 0}
    assert disk_findings(job)[0] == f"- WARNING: node {N3}: volume group '{VG}' missing"


def test_unknown_ignored_code_is_refused_before_the_job_runs(lab):
    with pytest.raises(OpPrereqError) as err:
        lab.submit("OP_CLUSTER_VERIFY", ignore_errors=["ENODELVM", "ENOSUCHTHING"])
    assert "'ENOSUCHTHING'" in str(err.value) and err.value.args[1] == ECODE_INVAL
