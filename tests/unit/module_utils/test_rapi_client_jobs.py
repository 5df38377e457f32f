"""The RAPI client follows the jobs a job submitted (node evacuate/migrate: one job per
instance), as Ganeti's CLI does: it returns once they ended and fails with the first that
failed or could not be submitted."""

from __future__ import annotations

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    JobFailed,
    RapiClient,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_module import JobTracker


class FakeClient(RapiClient):
    """Answers GET /2/jobs/N from ``jobs``; a job is running for its first ``polls`` looks."""

    def __init__(self, jobs: dict[int, dict], polls: int = 1) -> None:
        super().__init__()
        self.jobs, self.polls = jobs, polls
        self.seen: dict[int, int] = {}
        self.submitted: tuple | None = None

    def request(self, method, path, query=None, body=None):
        if method != "GET":
            self.submitted = (method, path, query, body)
            return 1
        job_id = int(path.rsplit("/", 1)[1])
        self.seen[job_id] = self.seen.get(job_id, 0) + 1
        if self.seen[job_id] <= self.polls:
            return {"id": job_id, "status": "running", "opresult": [], "oplog": []}
        return self.jobs[job_id]


def _job(job_id: int, status: str = "success", result=None, log: str = "") -> dict:
    return {"id": job_id, "status": status, "opstatus": [status], "opresult": [result],
            "oplog": [[[0, [0, 0], "message", log]]] if log else [[]]}


def test_submitted_jobs_are_waited_for_and_tracked():
    client = FakeClient({1: _job(1, result={"jobs": [[True, 2], [True, 3]]}, log="evacuate"),
                         2: _job(2, log="moved inst1"), 3: _job(3, log="moved inst2")})
    tracker = JobTracker(client, check_mode=False)
    job = tracker.run("POST", "/2/nodes/node3/evacuate", None, {"mode": "primary-only"})
    assert [j["id"] for j in job["submitted_jobs"]] == [2, 3]
    assert client.seen == {1: 2, 2: 2, 3: 2}        # each polled until it ended
    assert tracker.jobs == [1, 2, 3] and tracker.changed
    assert tracker.log == ["evacuate", "moved inst1", "moved inst2"]


def test_a_failed_or_unsubmitted_job_fails_the_run():
    failed = _job(3, status="error", result=["OpExecError", ["disk copy failed"]])
    client = FakeClient({1: _job(1, result={"jobs": [[True, 2], [True, 3]]}), 2: _job(2),
                         3: failed}, polls=0)
    with pytest.raises(JobFailed, match="Job 3 error: disk copy failed"):
        client.run_job("POST", "/2/nodes/node3/evacuate")
    client = FakeClient({1: _job(1, result={"jobs": [[False, "queue full"]]})}, polls=0)
    with pytest.raises(JobFailed, match="Job 1 could not submit a job: queue full"):
        client.run_job("POST", "/2/nodes/node3/migrate")


def test_plain_results_have_no_submitted_jobs():
    client = FakeClient({1: _job(1, result=True)}, polls=0)
    assert client.run_job("PUT", "/2/nodes/node3/role")["submitted_jobs"] == []
