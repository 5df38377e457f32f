"""Write failures (issue 10): a full disk or any failed write of config, ssconf or a job file
ends the job with the true outcome and the cause (file and errno), wakes the waiting client,
and the queue recovers once there is room again, without a restart.

The in-process master daemon (conftest ``cluster``) runs on a small real tmpfs as GNT_ROOT,
filled with a real file.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest
from gnt_testutil import fill, mounted_tmpfs

from gnt.core import settings
from gnt.core.errors import JobQueueError
from gnt.core.jobstate import ERROR, RUNNING, SUCCESS, WAITING
from gnt.core.locklevels import LEVEL_CLUSTER
from gnt.jobs.queue import JobQueue

NOSPACE = os.strerror(errno.ENOSPC)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def tmp_path():
    """GNT_ROOT on its own 16 MiB tmpfs (unmounted afterwards)."""
    with mounted_tmpfs("16m", "gnt-fullfs-") as root:
        yield root


def wait_status(cluster, job_id: int, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while cluster.master.queue.get(job_id).status != status:
        assert time.monotonic() < deadline, f"job {job_id} never reached {status}"
        time.sleep(0.01)


def on_disk(cluster, job_id: int) -> dict:
    return json.loads((cluster.master.queue.dir / f"job-{job_id}").read_text())


def message(job) -> str:
    return str(job.ops[0].result)


def test_submit_on_a_full_disk_is_refused_naming_the_file(cluster, tmp_path):
    cluster.run("OP_TEST_DELAY", duration=0)
    serial_before = (cluster.master.queue.dir / "serial").read_text()
    filler = fill(tmp_path)
    with pytest.raises(JobQueueError, match=NOSPACE) as err:
        cluster.submit("OP_TEST_DELAY", duration=0)
    assert str(cluster.master.queue.dir) in str(err.value)
    assert (cluster.master.queue.dir / "serial").read_text() == serial_before
    assert not [p for p in cluster.master.queue.dir.iterdir() if p.name.startswith(".")]
    filler.unlink()
    assert cluster.run("OP_TEST_DELAY", duration=0).status == SUCCESS


def test_job_file_unwritable_before_the_opcode_runs_fails_the_job(cluster, tmp_path):
    locks = cluster.master.locks
    locks.acquire("h2-test", LEVEL_CLUSTER, ["BGL"], shared=False)
    try:
        job_id = cluster.submit("OP_TAGS_SET", kind="cluster", tags=["never-made"])
        wait_status(cluster, job_id, WAITING)
        filler = fill(tmp_path)
        answers: list[dict] = []
        waiter = threading.Thread(target=lambda: answers.append(
            cluster.api.wait_for_job_change(job_id, WAITING, 10**6, timeout=30)))
        waiter.start()
    finally:
        locks.release("h2-test")
    job = cluster.wait(job_id)
    waiter.join(10)
    assert not waiter.is_alive() and answers[0]["status"] == ERROR   # the client got it
    assert job.status == ERROR
    assert f"job-{job_id}" in message(job) and NOSPACE in message(job)
    assert "never-made" not in cluster.master.config.cluster()["tags"]
    assert "never-made" not in cluster.config_bytes().decode()
    filler.unlink()
    assert cluster.run("OP_TAGS_SET", kind="cluster", tags=["after"]).status == SUCCESS
    assert on_disk(cluster, job_id)["ops"][0]["status"] == ERROR       # written once possible


def test_job_file_unwritable_when_the_job_ends_keeps_the_true_outcome(cluster, tmp_path):
    job_id = cluster.submit("OP_TEST_DELAY", duration=1.0)
    wait_status(cluster, job_id, RUNNING)
    filler = fill(tmp_path)
    job = cluster.wait(job_id)
    assert job.status == SUCCESS                  # it did succeed: never reported otherwise
    assert on_disk(cluster, job_id)["ops"][0]["status"] == RUNNING
    filler.unlink()
    cluster.api.wait_for_job_change(job_id, SUCCESS, 10**6, timeout=0)   # a client polls
    assert on_disk(cluster, job_id)["ops"][0]["status"] == SUCCESS     # written without a job
    assert cluster.run("OP_TEST_DELAY", duration=0).status == SUCCESS


def test_config_write_failure_fails_the_job_and_changes_nothing(cluster, tmp_path):
    config = settings.paths().config_file
    cluster.master.config.modify_cluster(
        lambda c: c["tags"].extend(f"pad{i:05d}-{'x' * 100}" for i in range(2000)))
    before, prev_before = config.read_bytes(), (config.parent / "config.data.prev").read_bytes()
    filler = fill(tmp_path, leave=64 * 1024)       # room for job files, not for the config
    job = cluster.run("OP_TAGS_SET", kind="cluster", tags=["not-saved"])
    assert job.status == ERROR
    assert str(config) in message(job) and NOSPACE in message(job), message(job)
    assert "not made" in message(job)
    assert "not-saved" not in cluster.master.config.cluster()["tags"]
    assert config.read_bytes() == before
    assert (config.parent / "config.data.prev").read_bytes() == prev_before
    assert not [p for p in config.parent.iterdir() if p.name.startswith(".config.data.")]
    filler.unlink()
    assert cluster.run("OP_TAGS_SET", kind="cluster", tags=["saved"]).status == SUCCESS
    assert "saved" in json.loads(config.read_bytes())["cluster"]["tags"]


def test_ssconf_write_failure_after_the_config_was_saved_says_it_was_saved(cluster):
    config = settings.paths().config_file
    blocker = config.parent / "ssconf_cluster_tags"
    blocker.unlink()
    blocker.mkdir()                                 # the ssconf file cannot be replaced
    job = cluster.run("OP_TAGS_SET", kind="cluster", tags=["made"])
    assert job.status == ERROR
    assert f"saved to {config}" in message(job), message(job)
    assert "ssconf_cluster_tags" in message(job)
    assert "made" in json.loads(config.read_bytes())["cluster"]["tags"]   # true: it was made
    blocker.rmdir()
    assert cluster.run("OP_TAGS_SET", kind="cluster", tags=["next"]).status == SUCCESS
    assert blocker.read_text() == "made\nnext\n"


def test_a_result_json_cannot_hold_does_not_escape_the_queue(tmp_path):
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0)
    job.ops[0].result = object()                  # e.g. a logical unit returning a set
    queue.mark(job, job.ops[0], SUCCESS)          # never raises into the worker
    assert job.status == SUCCESS and job.id in queue.unsaved
    with pytest.raises(JobQueueError, match=f"job {job.id}"):
        queue.require_saved(job)
    job.ops[0].result = None
    queue.update(job)
    assert json.loads((queue.dir / f"job-{job.id}").read_text())["ops"][0]["status"] == SUCCESS
