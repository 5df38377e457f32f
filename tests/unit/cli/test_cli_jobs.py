"""gnt-job and job following: list, info, watch, cancel, archive, autoarchive."""

from __future__ import annotations

import pytest
from gntcli_fakes import TS, FakeClient, run_cli

from gnt.cli import _jobs, job

JOB_ROW = [
    17776, "error",
    [{"OP_ID": "OP_TAGS_SET", "kind": "cluster", "tags": ["a", "b"], "name": None,
      "_summary": None}],
    [{"type": "OpPrereqError", "message": "Tag exists", "args": ["Tag exists", "wrong_input"]}],
    ["error"],
    [[[1, [1256512682, 200335], "message", "checking tags"]]],
    [[1256512682, 200335]], [[1256512682, 210000]], [[1256512682, 252282]],
    [1256512682, 180569], [1256512682, 200335], [1256512682, 279743],
]


def test_job_info_format(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query_jobs"] = [JOB_ROW, None]
    assert run_cli(job, ["info", "17776", "99"]) == 0
    assert fake.calls[0][1]["ids"] == [17776, 99]
    # Ganeti 3.0's layout (PrintGenericInfo: YAML with aligned timestamps)
    assert capsys.readouterr().out == """\
- Job ID: 17776
  Status: error
  Received:         2009-10-25 23:18:02.180569
  Processing start: 2009-10-25 23:18:02.200335 (delta 0.019766s)
  Processing end:   2009-10-25 23:18:02.279743 (delta 0.079408s)
  Total processing time: 0.099174 seconds
  Opcodes: \n    - Opcode: OP_TAGS_SET
      Status: error
      Processing start: 2009-10-25 23:18:02.200335
      Execution start:  2009-10-25 23:18:02.210000
      Processing end:   2009-10-25 23:18:02.252282
      Input fields: \n        OP_ID: OP_TAGS_SET
        kind: cluster
        name: None
        tags: \n          - a
          - b
      Result: \n        - OpPrereqError
        - - Tag exists
          - wrong_input
      Execution log: \n        - Time: 2009-10-25 23:18:02.200335
          Content: [1, message, checking tags]
- Job ID 99 not found
"""


def test_job_info_without_timestamps_or_log(fake: FakeClient,
                                            capsys: pytest.CaptureFixture) -> None:
    row = [5, "queued", [{"OP_ID": "OP_TEST_DELAY", "duration": 1.5}], [None], ["queued"],
           [[]], [None], [None], [None], [1256512682, 180569], None, None]
    fake.handlers["query_jobs"] = [row]
    assert run_cli(job, ["info", "5"]) == 0
    assert capsys.readouterr().out == """\
- Job ID: 5
  Status: queued
  Received:         2009-10-25 23:18:02.180569
  Processing start: unknown (None)
  Processing end:   unknown (None)
  Total processing time: N/A
  Opcodes: \n    - Opcode: OP_TEST_DELAY
      Status: queued
      Processing start: N/A
      Execution start:  N/A
      Processing end:   N/A
      Input fields: \n        OP_ID: OP_TEST_DELAY
        duration: 1.5
      Result: None
      Execution log: \n"""


def test_job_list(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query_jobs"] = [[17776, "error", ["CLUSTER_RENAME(x)"]],
                                   [17792, "success", ["INSTANCE_REBOOT(i1)", "X"]],
                                   [9, "running", ["TEST_DELAY"]]]
    assert run_cli(job, ["list"]) == 0
    assert capsys.readouterr().out == ("   ID Status  Summary\n"
                                       "17776 error   CLUSTER_RENAME(x)\n"
                                       "17792 success INSTANCE_REBOOT(i1),X\n"
                                       "    9 running TEST_DELAY\n")
    fake.handlers["query_jobs"] = [[17776, "error"], [9, "running"]]
    assert run_cli(job, ["list", "--running", "-o", "id", "--no-headers"]) == 0
    assert capsys.readouterr().out == "9\n"
    assert fake.calls[-1][1] == {"ids": [], "fields": ["id", "status"]}


def test_watch(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.log = ["* creating instance disks...", "adding instance instance1 to cluster config"]
    assert run_cli(job, ["watch", "17818"]) == 0
    assert capsys.readouterr().out == (
        "Output from job 17818 follows\n-----------------------------\n"
        "Mon Oct 26 00:22:48 2009 * creating instance disks...\n"
        "Mon Oct 26 00:22:48 2009 adding instance instance1 to cluster config\n")
    fake.log = []
    fake.outcome = ("error", {"type": "OpExecError", "message": "boom", "args": ["boom"]})
    assert run_cli(job, ["watch", "5"]) == 1
    assert capsys.readouterr().err == "Job 5 failed: Failure: command execution error:\nboom\n"


def test_cancel_archive_autoarchive(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    answers = {17810: [True, "Job 17810 canceled"],
               17805: [False, "Job 17805 is no longer waiting in the queue"]}
    fake.handlers["cancel_job"] = lambda job_id: answers[job_id]
    assert run_cli(job, ["cancel", "17810"]) == 0
    assert run_cli(job, ["cancel", "17810", "17805"]) == 1
    assert capsys.readouterr().out == ("Job 17810 canceled\nJob 17810 canceled\n"
                                       "Job 17805 is no longer waiting in the queue\n")
    fake.handlers["archive_job"] = lambda job_id: job_id == 1
    assert run_cli(job, ["archive", "1", "2"]) == 1
    assert capsys.readouterr().err == "Failed to archive job with ID '2'\n"
    fake.handlers["autoarchive_jobs"] = [3, 0]
    assert run_cli(job, ["autoarchive", "2h"]) == 0
    assert run_cli(job, ["autoarchive", "all", "-t", "5"]) == 0
    assert capsys.readouterr().out == "Archived 3 jobs, 0 unchecked left\n" * 2
    assert [args for method, args in fake.calls if method == "autoarchive_jobs"] == [
        {"age": 7200, "timeout": 30}, {"age": -1, "timeout": 5}]
    assert run_cli(job, ["autoarchive", "2x"]) == 1
    assert "Invalid time specification '2x'" in capsys.readouterr().err
    assert run_cli(job, ["info", "abc"]) == 1
    assert "Invalid job ID 'abc'" in capsys.readouterr().err


def test_poll_job_follows_log_serials(capsys: pytest.CaptureFixture) -> None:
    class Client:
        def __init__(self) -> None:
            self.waits: list[tuple] = []
            self.answers = [
                {"status": "queued", "log": [], "changed": False},
                {"status": "running", "log": [[1, TS, "message", "one"]], "changed": True},
                {"status": "success", "log": [[2, TS, "message", "two"]], "changed": True},
            ]

        def call(self, method: str, **args: object) -> object:
            if method == "wait_for_job_change":
                self.waits.append((args["prev_status"], args["prev_log_serial"]))
                return self.answers.pop(0)
            assert method == "query_jobs"
            return [["success", ["success", "success"], [None, {"x": 1}]]]

    client = Client()
    assert _jobs.poll_job(client, 7) == [None, {"x": 1}]
    assert client.waits == [(None, 0), ("queued", 0), ("running", 1)]
    out, err = capsys.readouterr()
    assert out == "Mon Oct 26 00:22:48 2009 one\nMon Oct 26 00:22:48 2009 two\n"
    assert err == "Job 7 is waiting in queue\n"


def test_poll_job_partial_failure_and_cancel() -> None:
    class Client:
        def __init__(self, row: list) -> None:
            self.row = row

        def call(self, method: str, **args: object) -> object:
            if method == "wait_for_job_change":
                return {"status": self.row[0], "log": []}
            return [self.row]

    with pytest.raises(_jobs.OpExecError, match="partial failure"):
        _jobs.poll_job(Client(["error", ["success", "error"], [None, "disk broke"]]), 1)
    with pytest.raises(_jobs.JobCanceled):
        _jobs.poll_job(Client(["canceled", ["canceled"], [None]]), 1)
    with pytest.raises(_jobs.JobLost):
        _jobs.poll_job(type("C", (), {"call": lambda self, m, **a: None})(), 1)


def test_job_list_priority_and_archived_as_ganeti(fake: FakeClient,
                                                  capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query_jobs"] = [[3, -10, True], [4, 0, False]]
    assert run_cli(job, ["list", "-o", "id,priority,archived", "3", "4"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ID Priority Archived", " 3      -10 Y", " 4        0 N"]
    assert fake.calls[-1][1] == {"ids": [3, 4], "fields": ["id", "priority", "archived"]}
