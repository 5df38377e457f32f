"""Job filter rules through a real master daemon: the daemon's replace_filter/delete_filter
calls, the config, and the scheduler holding, canceling and rate-limiting jobs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gnt.config.store import ConfigStore
from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import CANCELED, QUEUED, SUCCESS, ts_float

DELAY = [["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]


def _status_after(cluster: Any, job_id: int, seconds: float = 0.3) -> str:
    time.sleep(seconds)
    return str(cluster.master.queue.get(job_id).status)


def test_rule_is_stored_with_watermark_and_reason(cluster: Any) -> None:
    done = cluster.run("OP_TEST_DELAY", duration=0)
    uuid = cluster.api.replace_filter(priority=3, predicates=DELAY, action="ACCEPT",
                                      reason=[["gnt:user", "maintenance", 1]])
    on_disk = json.loads(cluster.master.config.path.read_text())["filters"][uuid]
    assert on_disk["watermark"] == done.id and on_disk["priority"] == 3
    assert on_disk["action"] == "ACCEPT" and on_disk["predicates"] == DELAY
    assert on_disk["reason_trail"][0] == ["gnt:user", "maintenance", 1]
    assert on_disk["reason_trail"][1][:2] == ["luxid", ""]
    ConfigStore.load(cluster.master.config.path)   # a config with filters validates
    rows = cluster.api.query("filter", ["uuid", "watermark", "action"], [])["data"]
    assert rows == [[uuid, done.id, "ACCEPT"]]
    # replacing keeps the UUID and takes a new watermark
    later = cluster.run("OP_TEST_DELAY", duration=0)
    assert cluster.api.replace_filter(uuid=uuid, action="PAUSE", predicates=DELAY) == uuid
    assert cluster.api.query("filter", ["watermark", "action"], [uuid])["data"] == [
        [later.id, "PAUSE"]]
    cluster.api.delete_filter(uuid)
    assert cluster.api.query("filter", ["uuid"], [])["data"] == []


@pytest.mark.parametrize("args, named", [
    ({"action": "DROP"}, "'DROP'"),
    ({"action": ["RATE_LIMIT", -2]}, "RATE_LIMIT"),
    ({"priority": -5}, "-5"),
    ({"predicates": [["jobs", ["=", "id", 1]]]}, "'jobs'"),
    ({"uuid": "not-a-uuid"}, "'not-a-uuid'"),
])
def test_bad_rules_are_refused_and_config_unchanged(cluster: Any, args: dict[str, Any],
                                                    named: str) -> None:
    before = cluster.config_bytes()
    with pytest.raises(OpPrereqError) as err:
        cluster.api.replace_filter(**args)
    assert named in str(err.value)
    assert cluster.config_bytes() == before


def test_delete_of_unknown_rule_names_it(cluster: Any) -> None:
    with pytest.raises(OpPrereqError, match="does not exist"):
        cluster.api.delete_filter("0b6b1a16-d1f5-4bd5-8ac1-7a4b1b0c0f5e")


def test_pause_keeps_jobs_queued_until_the_rule_goes(cluster: Any) -> None:
    uuid = cluster.api.replace_filter(predicates=[["jobid", [">", "id", "watermark"]]],
                                      action="PAUSE")
    paused = cluster.submit("OP_TEST_DELAY", duration=0)
    assert _status_after(cluster, paused) == QUEUED
    cluster.api.delete_filter(uuid)
    assert cluster.wait(paused).status == SUCCESS


def test_accept_before_pause(cluster: Any) -> None:
    cluster.api.replace_filter(priority=0, action="ACCEPT",
                               predicates=[["reason", ["=~", "reason", "pink bunny"]]])
    cluster.api.replace_filter(priority=1, action="PAUSE",
                               predicates=[["jobid", [">", "id", "watermark"]]])
    paused = cluster.submit("OP_TEST_DELAY", duration=0)
    accepted = cluster.api.submit_job([{"OP_ID": "OP_TEST_DELAY", "duration": 0,
                                        "reason": [["gnt:user", "pink bunny day", 1]]}])
    assert cluster.wait(accepted).status == SUCCESS
    assert cluster.master.queue.get(paused).status == QUEUED


def test_reject_cancels_new_and_already_queued_jobs(cluster: Any) -> None:
    pause = cluster.api.replace_filter(action="PAUSE", predicates=DELAY)
    queued = cluster.submit("OP_TEST_DELAY", duration=0)
    assert _status_after(cluster, queued) == QUEUED
    reject = cluster.api.replace_filter(priority=0, action="REJECT", predicates=DELAY)
    cluster.api.delete_filter(pause)
    job = cluster.wait(queued)
    assert job.status == CANCELED and reject in str(job.ops[0].result)
    assert cluster.wait(cluster.submit("OP_TEST_DELAY", duration=0)).status == CANCELED
    # other jobs still run
    assert cluster.run("OP_TAGS_GET", kind="cluster", name=None).status == SUCCESS


def _peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _end in intervals]
                    + [(end, -1) for _start, end in intervals])
    peak = current = 0
    for _when, change in events:
        current += change
        peak = max(peak, current)
    return peak


def test_rate_limit_runs_at_most_n_matching_jobs(cluster: Any) -> None:
    cluster.api.replace_filter(action=["RATE_LIMIT", 2], predicates=DELAY)
    ids = [cluster.submit("OP_TEST_DELAY", duration=0.2, no_locks=True) for _unused in range(6)]
    jobs = [cluster.wait(job_id) for job_id in ids]
    assert all(job.status == SUCCESS for job in jobs)
    spans = [(ts_float(job.ops[0].exec_timestamp), ts_float(job.ops[0].end_timestamp))
             for job in jobs]
    assert _peak(spans) == 2   # 8 workers, yet two at a time


def test_without_rules_jobs_run_in_parallel(cluster: Any) -> None:
    ids = [cluster.submit("OP_TEST_DELAY", duration=0.2, no_locks=True) for _unused in range(4)]
    jobs = [cluster.wait(job_id) for job_id in ids]
    spans = [(ts_float(job.ops[0].exec_timestamp), ts_float(job.ops[0].end_timestamp))
             for job in jobs]
    assert _peak(spans) > 2
