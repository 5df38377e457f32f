"""Locks follow identity (issue 10): instances are locked by UUID, so jobs that name one
instance by two names (before and after a rename) exclude each other; a rename re-checks its
name under the lock; a failed rename on the node is undone. Real Master, LockManager and job
queue; the recording executor's delay keeps a job inside its play while others are queued."""

from __future__ import annotations

import time

from gnt.core.errors import ECODE_NOENT
from gnt.core.jobstate import ERROR, RUNNING, SUCCESS
from gnt.core.locklevels import LEVEL_INSTANCE

NAME = "inst1.example.com"
NEW = "inst2.example.com"
OTHER = "inst3.example.com"


def _ok(job):
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)
    return job.ops[0].result


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"]


def _create(cluster, name=NAME):
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template="file",
                    disks=[{"size": "1G"}], os_type="tinylinux", pnode="node1.example.com",
                    start=False, beparams={"memory": "128M"}))
    return cluster.master.config.lookup("instances", name)


def _wait_running(cluster, job_id, timeout=5.0):
    """Wait until job ``job_id`` is inside its LU (locks held)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.master.queue.get(job_id).status == RUNNING:
            return
        time.sleep(0.005)
    raise AssertionError(f"job {job_id} did not start running")


def _instances(cluster):
    return {inst["uuid"]: inst["name"] for inst in cluster.master.config.all("instances")}


def test_instance_lock_is_the_uuid(cluster):
    """A job on the instance waits for whoever holds the instance's UUID lock."""
    inst = _create(cluster)
    locks = cluster.master.locks
    locks.acquire("tester", LEVEL_INSTANCE, [inst["uuid"]], shared=False)
    try:
        job_id = cluster.submit("OP_INSTANCE_STARTUP", instance_name=NAME)
        time.sleep(0.5)
        assert cluster.master.queue.get(job_id).status != SUCCESS
        assert NAME not in cluster.hv.running
    finally:
        locks.release("tester")
    _ok(cluster.wait(job_id))
    assert NAME in cluster.hv.running


def test_second_concurrent_rename_fails_cleanly(cluster):
    inst = _create(cluster)
    cluster.executor.delay = 0.4
    first = cluster.submit("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW)
    _wait_running(cluster, first)
    # Submitted while the first rename is on the node: the name still maps to the instance.
    second = cluster.submit("OP_INSTANCE_RENAME", instance_name=NAME, new_name=OTHER)
    assert _ok(cluster.wait(first)) == NEW
    after_first = cluster.config_bytes()
    message, ecode = _error(cluster.wait(second))
    assert ecode == ECODE_NOENT
    assert f"Instance '{NAME}' not known" in message
    assert NEW in message  # says what it is called now
    assert cluster.config_bytes() == after_first
    assert _instances(cluster) == {inst["uuid"]: NEW}
    assert [play.role for plays in cluster.executor.calls for play in plays
            ].count("instance_rename") == 1


def test_startup_queued_behind_rename_starts_the_renamed_instance(cluster):
    inst = _create(cluster)
    cluster.executor.delay = 0.3
    rename = cluster.submit("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW)
    _wait_running(cluster, rename)
    startup = cluster.submit("OP_INSTANCE_STARTUP", instance_name=NAME)
    _ok(cluster.wait(rename))
    _ok(cluster.wait(startup))
    started = [host["gnt_instance"]["name"] for plays in cluster.executor.calls
               for play in plays if play.role == "instance_start"
               for host in play.hosts.values()]
    assert started == [NEW]
    assert set(cluster.hv.running) == {NEW}
    assert cluster.master.config.get("instances", inst["uuid"])["admin_state"] == "up"


def test_jobs_naming_one_instance_by_old_and_new_name_are_serialized(cluster):
    """A startup queued under the old name and a rename submitted under the new name act on
    one instance: they must not run at the same time, so the running domain and the config
    always agree on the instance's name."""
    inst = _create(cluster)
    cluster.executor.delay = 0.4
    rename = cluster.submit("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW)
    _wait_running(cluster, rename)
    startup = cluster.submit("OP_INSTANCE_STARTUP", instance_name=NAME)
    _ok(cluster.wait(rename))
    rename2 = cluster.submit("OP_INSTANCE_RENAME", instance_name=NEW, new_name=OTHER)
    jobs = [cluster.wait(startup), cluster.wait(rename2)]
    assert jobs[0].status == SUCCESS, jobs[0].ops[0].result
    name = cluster.master.config.get("instances", inst["uuid"])["name"]
    assert set(cluster.hv.running) == {name}
    if jobs[1].status == ERROR:  # the startup ran first: a running instance is not renamed
        assert "is running" in _error(jobs[1])[0]


def test_rename_reserves_the_new_name(cluster):
    """A rename and an add claiming the same new name: exactly one gets it."""
    _create(cluster)
    cluster.executor.delay = 0.3
    rename = cluster.submit("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW)
    _wait_running(cluster, rename)
    add = cluster.submit("OP_INSTANCE_CREATE", instance_name=NEW, disk_template="file",
                         disks=[{"size": "1G"}], os_type="tinylinux", pnode="node1.example.com",
                         start=False, beparams={"memory": "128M"})
    _ok(cluster.wait(rename))
    message, _ecode = _error(cluster.wait(add))
    assert "already in the cluster" in message
    assert sorted(_instances(cluster).values()) == [NEW]


def test_renamed_away_instance_removed_meanwhile_is_a_clear_error(cluster):
    inst = _create(cluster)
    cluster.executor.delay = 0.3
    remove = cluster.submit("OP_INSTANCE_REMOVE", instance_name=NAME)
    _wait_running(cluster, remove)
    startup = cluster.submit("OP_INSTANCE_STARTUP", instance_name=NAME)
    _ok(cluster.wait(remove))
    message, ecode = _error(cluster.wait(startup))
    assert ecode == ECODE_NOENT
    assert f"Instance '{NAME}' not known" in message and "removed" in message
    assert inst["uuid"] not in _instances(cluster)


def test_failed_rename_on_node_is_undone_and_says_so(cluster):
    inst = _create(cluster)
    before = cluster.config_bytes()
    cluster.executor.fail_roles["instance_rename"] = "OS rename script failed"
    message = _error(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW))[0]
    # The undo ran the rename role back (new -> old) without the OS script; here it fails
    # too, so the error names the command that finishes the job.
    renames = [host for plays in cluster.executor.calls for play in plays
               if play.role == "instance_rename" for host in play.hosts.values()]
    assert [(h["gnt_old_instance"]["name"], h["gnt_instance"]["name"]) for h in renames] == [
        (NAME, NEW), (NEW, NAME)]
    assert renames[1]["gnt_rename_os"] is False
    assert f"run 'gnt-instance rename {NAME} {NEW}' again" in message
    assert cluster.config_bytes() == before
    assert _instances(cluster) == {inst["uuid"]: NAME}


def test_failed_rename_undone_on_node_reports_agreement(cluster, monkeypatch):
    _create(cluster)
    executor = cluster.executor
    real_run = executor.run
    seen = []

    def run(plays, nodes, feedback):  # the forward rename fails, the undo works
        if plays[0].role == "instance_rename":
            seen.append(plays[0].title)
            executor.fail_roles = {"instance_rename": "disk move failed"} if len(seen) == 1 \
                else {}
        return real_run(plays, nodes, feedback)
    monkeypatch.setattr(executor, "run", run)
    message = _error(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NEW))[0]
    assert seen == ["instance_rename", "undo rename"]
    assert "disk move failed" in message and "moved back" in message
    assert f"instance {NAME} keeps its name" in message
