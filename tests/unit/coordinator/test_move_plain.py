"""gnt-instance move of plain instances (issue 14): real LUs and Master, recording executor;
the nodes' volume groups, hypervisors and SSH faked at the network edge (multinode.py). What
runs where and in which order, the free-space refusal, and what a failure before the primary
changes leaves behind (the copy itself: test_block_send.py and the storage lab)."""

from __future__ import annotations

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.jobstate import ERROR, SUCCESS

N2, N3 = "node2.example.com", "node3.example.com"
INST = "plain1.example.com"


@pytest.fixture
def lvm(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    cluster.hv2 = state["hv"]
    return state


def _create(cluster, start=False, sizes=("1G",)):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, disk_template="plain",
                      disks=[{"size": size} for size in sizes], pnode=N2, name_check=False,
                      ip_check=False, no_install=True, start=start, os_type="blank",
                      beparams={"memory": "128M"})
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.lookup("instances", INST)


def _move(cluster, **kw):
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_MOVE", instance_name=INST, target_node=N3, **kw)
    return job, since


def _plays(cluster, since):
    return [[(play.role, host) for play in plays for host in play.hosts]
            for plays in cluster.executor.calls[since:]]


def _host(cluster, since, role):
    return next(host for plays in cluster.executor.calls[since:] for play in plays
                if play.role == role for host in play.hosts.values())


def _primary(cluster):
    store = cluster.master.config
    return store.get("nodes", store.lookup("instances", INST)["primary_node"])["name"]


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    args = job.ops[0].result["args"]
    return args[0], args[1] if len(args) > 1 else None


def test_move_stopped_plain_instance(lvm, cluster):
    inst = _create(cluster, sizes=("1G", "512M"))
    store = cluster.master.config
    lids = [disk["logical_id"] for disk in store.instance_disks(inst)]
    cluster.executor.facts["instance_volume_copy"] = {"gnt_disk_copy_result": {
        "changed": True, "disks": [
            {"action": "copied", "size_mib": 1024.0, "duration_s": 8.0},
            {"action": "skipped", "size_mib": 512.0, "duration_s": 0.0}]}}
    job, since = _move(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    # one run: new volumes on the target, the copy from the source, (checkpoint: the new
    # primary recorded), define on the target, remove the old copy
    assert _plays(cluster, since) == [[("instance_create", N3), ("instance_volume_copy", N2),
                                       ("instance_define", N3), ("instance_remove", N2)]]
    create = _host(cluster, since, "instance_create")
    assert create["gnt_install"] is False and create["gnt_node"]["name"] == N3
    paths = [f"/dev/{vg}/{lv}" for vg, lv in lids]
    assert [(d["path"], d["size_mib"]) for d in create["gnt_instance"]["disks"]] == \
        list(zip(paths, [1024, 512], strict=True))
    copy = _host(cluster, since, "instance_volume_copy")["gnt_copy"]
    assert copy["disks"] == [{"src": p, "dst": p} for p in paths]
    assert copy["allowed_vgs"] == ["xenvg"] and copy["target_address"] == "198.18.0.13"
    log = "\n".join(str(entry) for entry in job.ops[0].log)
    assert f"disk/0: copied 1024 MiB to {N3} in 8.0 s, 128.0 MiB/s" in log
    assert f"disk/1: skipped 512 MiB to {N3} in 0.0 s" in log
    removed = _host(cluster, since, "instance_remove")["gnt_instance"]["disks"]
    assert [d["path"] for d in removed] == paths
    # the config: primary and the disks' node are the target; the volume names are kept
    inst = store.lookup("instances", INST)
    n3 = store.lookup("nodes", N3)["uuid"]
    assert _primary(cluster) == N3
    assert [d["nodes"] for d in store.instance_disks(inst)] == [[n3], [n3]]
    assert [d["logical_id"] for d in store.instance_disks(inst)] == lids


def test_move_running_plain_instance_stops_after_creating(lvm, cluster):
    _create(cluster, start=True)
    job, since = _move(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert _plays(cluster, since) == [
        [("instance_create", N3), ("instance_stop", N2), ("instance_volume_copy", N2),
         ("instance_start", N3), ("instance_remove", N2)]]
    assert cluster.hv2.where(INST) == [N3]


def test_move_plain_not_enough_space_refused_nothing_run(lvm, cluster):
    _create(cluster, sizes=("1G", "512M"))
    lvm["free"][N3] = 1500
    before, since = cluster.config_bytes(), len(cluster.executor.calls)
    msg, code = _error(_move(cluster)[0])
    assert code == "insufficient_resources"
    assert msg == (f"Not enough disk space on target node {N3} vg xenvg: required 1536 MiB,"
                   " available 1500 MiB")
    assert cluster.executor.calls[since:] == [] and cluster.config_bytes() == before
    lvm["free"][N3] = 1536
    assert _move(cluster)[0].status == SUCCESS


def test_move_plain_copy_failure_removes_new_volumes_and_restarts(lvm, cluster):
    _create(cluster, start=True)
    cluster.executor.fail_roles["instance_volume_copy"] = "verification failed"
    before = cluster.config_bytes()
    job, since = _move(cluster)
    msg, _code = _error(job)
    assert "verification failed" in msg
    assert f"the instance stays on {N2}" in msg and f"new volumes on {N3} were removed" in msg
    assert _plays(cluster, since)[1:] == [[("instance_disk_remove", N3)],
                                          [("instance_start", N2)]]
    removed = _host(cluster, since, "instance_disk_remove")
    assert removed["gnt_node"]["name"] == N3
    assert removed["gnt_instance"]["disk_template"] == "plain"
    assert cluster.config_bytes() == before and _primary(cluster) == N2
    assert cluster.hv2.where(INST) == [N2]


def test_move_plain_create_failure_leaves_source_alone(lvm, cluster):
    _create(cluster, start=True)
    cluster.executor.fail_roles["instance_create"] = "Volume group xenvg has insufficient"
    before = cluster.config_bytes()
    job, since = _move(cluster)
    msg, _code = _error(job)
    assert f"stays on {N2}" in msg and f"new volumes on {N3} were removed" in msg
    # the run ended at its first play (the source was not stopped), so no restart
    assert _plays(cluster, since)[1:] == [[("instance_disk_remove", N3)]]
    assert cluster.hv2.where(INST) == [N2]
    assert cluster.config_bytes() == before


def test_move_plain_failed_cleanup_says_so(lvm, cluster):
    _create(cluster)
    cluster.executor.fail_roles["instance_volume_copy"] = "connection reset"
    cluster.executor.fail_roles["instance_disk_remove"] = "lvremove failed"
    before = cluster.config_bytes()
    msg, _code = _error(_move(cluster)[0])
    assert f"new volumes on {N3} could not be removed" in msg and "by hand" in msg
    assert cluster.config_bytes() == before and _primary(cluster) == N2


def test_move_plain_target_without_the_vg_refused(lvm, cluster, monkeypatch):
    _create(cluster)
    from gnt.nodes import rpc
    real = rpc.vg_info
    monkeypatch.setattr(rpc, "vg_info", lambda store, node, vg: {
        "vg_error": f"volume group {vg} not found"} if node["name"] == N3
        else real(store, node, vg))
    msg, code = _error(_move(cluster)[0])
    assert code == "environment_error" and N3 in msg and "not found" in msg


def test_move_drbd_instance_refused(lvm, cluster):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, disk_template="drbd",
                      disks=[{"size": "1G"}], pnode=N2, snode=MASTER, name_check=False,
                      ip_check=False, no_install=True, start=False, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    msg, code = _error(_move(cluster)[0])
    assert code == "wrong_state" and "'drbd'" in msg and "failover or migrate" in msg


def test_move_plain_stop_failure(lvm, cluster):
    """A failed shutdown ends the move (new volumes removed) unless --ignore-consistency,
    which copies anyway, as Ganeti's move does."""
    _create(cluster, start=True)
    cluster.executor.fail_roles["instance_stop"] = "domain did not shut down"
    before = cluster.config_bytes()
    job, since = _move(cluster)
    msg, _code = _error(job)
    assert "did not shut down" in msg and f"new volumes on {N3} were removed" in msg
    assert _plays(cluster, since)[1:] == [[("instance_disk_remove", N3)]]
    assert cluster.config_bytes() == before
    job, since = _move(cluster, ignore_consistency=True)
    assert job.status == SUCCESS, job.ops[0].log
    # the run that stopped at the failed shutdown, then the rest in one more run
    assert _plays(cluster, since)[1:] == [[("instance_volume_copy", N2), ("instance_start", N3),
                                           ("instance_remove", N2)]]
    log = "\n".join(str(entry) for entry in job.ops[0].log)
    assert "proceeding anyway (--ignore-consistency)" in log
    assert _primary(cluster) == N3
