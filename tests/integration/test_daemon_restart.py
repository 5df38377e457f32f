"""Master daemon restart: jobs that were running become errors ("master daemon restarted"),
jobs still queued run after the restart."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def gnt(tmp_path):
    gnt = make_cluster(tmp_path, "cluster.restart.example")
    yield gnt
    gnt.env.pop("GNT_MAX_RUNNING_JOBS", None)
    gnt.run("gnt-masterd", "start", check=False)
    destroy_cluster(gnt)


def _job(gnt, job_id: str) -> dict:
    path = gnt.root / "var/lib/gnt/queue" / f"job-{job_id}"
    return json.loads(path.read_text())


def _wait_status(gnt, job_id: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _job(gnt, job_id)["ops"][0]["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {status}: {_job(gnt, job_id)}")


def test_restart_fails_running_jobs_and_runs_queued_ones(gnt):
    gnt.run("gnt-masterd", "stop")
    gnt.env["GNT_MAX_RUNNING_JOBS"] = "1"  # one worker: the second job stays queued
    gnt.run("gnt-masterd", "start")
    running = gnt.run("gnt-debug", "delay", "--submit", "60").stdout.split()[-1]
    _wait_status(gnt, running, "running")
    queued = gnt.run("gnt-cluster", "add-tags", "--submit", "after:restart").stdout.split()[-1]
    assert _job(gnt, queued)["ops"][0]["status"] == "queued"
    pid = int((gnt.root / "var/run/gnt/gnt-masterd.pid").read_text())
    os.kill(pid, signal.SIGKILL)  # a crash, not a clean stop
    gnt.env.pop("GNT_MAX_RUNNING_JOBS")
    gnt.run("gnt-masterd", "start")
    watch = gnt.run("gnt-job", "watch", queued)
    assert watch.returncode == 0
    assert "after:restart" in gnt.run("gnt-cluster", "list-tags").stdout
    info = gnt.run("gnt-job", "info", running).stdout
    assert "error" in info and "master daemon restarted" in info
    assert gnt.run("gnt-job", "watch", running, check=False).returncode == 1
