"""Job queue semantics through the in-process master daemon (recording executor)."""

import json
import threading
import time

import pytest

from gnt.core.errors import JobQueueDrainError, OpPrereqError
from gnt.core.jobstate import CANCELED, ERROR, QUEUED, SUCCESS
from gnt.jobs.job import Job, OpCode
from gnt.jobs.queue import JobQueue


def test_delay_job_succeeds_and_is_persisted(cluster):
    job = cluster.run("OP_TEST_DELAY", duration=0)
    assert job.status == SUCCESS
    on_disk = json.loads((cluster.master.queue.dir / f"job-{job.id}").read_text())
    assert on_disk["ops"][0]["status"] == SUCCESS
    assert on_disk["ops"][0]["exec_timestamp"] is not None


def test_job_ids_are_sequential_and_survive_restart(cluster, tmp_path):
    first = cluster.submit("OP_TEST_DELAY", duration=0)
    second = cluster.submit("OP_TEST_DELAY", duration=0)
    assert second == first + 1
    cluster.wait(second)
    queue = JobQueue(cluster.master.queue.dir)
    queue.load()
    assert queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0).id == second + 1


def test_invalid_opcode_refused_before_queueing(cluster):
    cluster.run("OP_TEST_DELAY", duration=0)
    serial_before = (cluster.master.queue.dir / "serial").read_text()
    with pytest.raises(OpPrereqError, match="duration"):
        cluster.api.submit_job([{"OP_ID": "OP_TEST_DELAY", "duration": "soon"}])
    with pytest.raises(OpPrereqError, match="Unknown opcode"):
        cluster.api.submit_job([{"OP_ID": "OP_NOPE"}])
    with pytest.raises(OpPrereqError, match="priority"):
        cluster.api.submit_job([{"OP_ID": "OP_TEST_DELAY", "duration": 0, "priority": 20}])
    assert (cluster.master.queue.dir / "serial").read_text() == serial_before


def test_drained_queue_refuses_with_message(cluster):
    cluster.api.set_drain_flag(True)
    assert cluster.api.query_queue_info() == {"drained": True}
    with pytest.raises(JobQueueDrainError, match="drained, refusing job"):
        cluster.submit("OP_TEST_DELAY", duration=0)
    cluster.api.set_drain_flag(False)
    assert cluster.run("OP_TEST_DELAY", duration=0).status == SUCCESS


def test_failed_opcode_fails_rest_of_job(cluster):
    job_id = cluster.api.submit_job([
        {"OP_ID": "OP_TAGS_DEL", "kind": "cluster", "tags": ["absent"]},
        {"OP_ID": "OP_TEST_DELAY", "duration": 0},
    ])
    job = cluster.wait(job_id)
    assert job.status == ERROR
    assert [op.status for op in job.ops] == [ERROR, ERROR]
    assert job.ops[0].result["type"] == "OpPrereqError"
    assert "absent" in job.ops[0].result["args"][0]
    assert job.ops[1].result["message"] == "Previous opcode failed"


def test_cancel_queued_job_but_not_running_one(cluster):
    # Hold the instance lock level exclusively so the next job waits for it.
    cluster.master.locks.acquire("test", "cluster", ["BGL"], shared=False)
    try:
        waiting = cluster.submit("OP_TEST_DELAY", duration=0)
        deadline = time.monotonic() + 5
        while cluster.master.queue.get(waiting).status == QUEUED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cluster.master.queue.get(waiting).status == "waiting"
        ok, msg = cluster.api.cancel_job(waiting)
        assert ok, msg
    finally:
        cluster.master.locks.release("test")
    assert cluster.wait(waiting).status == CANCELED
    done = cluster.run("OP_TEST_DELAY", duration=0)
    ok, msg = cluster.api.cancel_job(done.id)
    assert not ok and "no longer waiting" in msg


def test_archive_and_autoarchive(cluster):
    job = cluster.run("OP_TEST_DELAY", duration=0)
    assert cluster.api.archive_job(job.id)
    assert cluster.api.query_jobs([job.id], ["id", "status"]) == [[job.id, SUCCESS]]
    assert [row[0] for row in cluster.api.query_jobs([], ["id"])] == []
    other = cluster.run("OP_TEST_DELAY", duration=0)
    assert cluster.api.autoarchive_jobs(age=3600) == [0, 0]
    assert cluster.api.autoarchive_jobs(age=-1) == [1, 0]
    assert cluster.api.query_jobs([other.id], ["status"]) == [[SUCCESS]]


def test_restart_marks_running_jobs_error_and_requeues_queued(tmp_path):
    queue = JobQueue(tmp_path / "queue")
    running = queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 1}], 0)
    queue.mark(running, running.ops[0], "running")
    queued = queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0)
    fresh = JobQueue(tmp_path / "queue")
    requeue = fresh.load()
    assert [job.id for job in requeue] == [queued.id]
    reloaded = fresh.get(running.id)
    assert reloaded.status == ERROR
    assert "master daemon restarted" in json.dumps(reloaded.ops[0].result)


def test_status_derivation():
    job = Job(1, [OpCode({"OP_ID": "A"}), OpCode({"OP_ID": "B"})])
    assert job.status == QUEUED
    job.ops[0].status = "running"
    assert job.status == "running"
    job.ops[0].status = SUCCESS
    job.ops[1].status = SUCCESS
    assert job.status == SUCCESS
    job.ops[1].status = "canceled"
    assert job.status == "canceled"


def test_wait_for_change_returns_new_log_entries(cluster):
    job_id = cluster.submit("OP_TEST_DELAY", duration=0.2)
    seen = cluster.api.wait_for_job_change(job_id, None, 0, 5)
    assert seen["changed"]
    final = cluster.wait(job_id)
    result = cluster.api.wait_for_job_change(job_id, final.status, final.log_serial, 1)
    assert result["status"] == SUCCESS


def test_jobs_on_different_instances_overlap_same_instance_serialises(cluster):
    for name in ("a.example.com", "b.example.com"):
        assert cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template="diskless",
                           os_type="blank", pnode="node1", start=True).status == SUCCESS
    cluster.executor.delay = 0.3
    # Shutdowns lock their instance exclusively and the node shared (startups also take the
    # node's resources exclusively, as Ganeti does, so those serialise per node).
    ids = [cluster.submit("OP_INSTANCE_SHUTDOWN", instance_name=name)
           for name in ("a.example.com", "b.example.com", "a.example.com")]
    jobs = [cluster.wait(i) for i in ids]
    assert all(job.status == SUCCESS for job in jobs)

    def span(job):
        return job.ops[0].exec_timestamp[0] + job.ops[0].exec_timestamp[1] / 1e6, \
            job.ops[0].end_timestamp[0] + job.ops[0].end_timestamp[1] / 1e6
    a1, b, a2 = (span(job) for job in jobs)
    assert a1[0] < b[1] and b[0] < a1[1], "different instances must run concurrently"
    assert a2[0] >= a1[1] or a1[0] >= a2[1], "same instance must not overlap"


def test_fifty_concurrent_jobs_all_finish(cluster):
    ids = [cluster.submit("OP_TEST_DELAY", duration=0.01) for _unused in range(50)]
    threads_done = [cluster.wait(i).status for i in ids]
    assert threads_done == [SUCCESS] * 50
    assert threading.active_count() < 200
