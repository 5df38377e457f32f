"""The job, lock and export query kinds (Ganeti's ``/2/query/job|lock|export``) through the
master daemon's ``query``/``query_fields`` calls."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import QUEUED, SUCCESS, WAITING
from gnt.jobs.locking import LockManager
from gnt.nodes import rpc


def _rows(cluster: Any, what: str, fields: list[str], names: list[str] | None = None
          ) -> list[dict[str, Any]]:
    answer = cluster.api.query(what, fields, names or [])
    return [dict(zip(fields, values, strict=True)) for values in answer["data"]]


def test_job_fields_are_ganetis() -> None:
    from gnt.query import engine
    names = [f["name"] for f in engine.field_list("job")]
    assert names == ["id", "status", "priority", "archived", "ops", "opresult", "opstatus",
                     "oplog", "opstart", "opexec", "opend", "oppriority", "summary",
                     "received_ts", "start_ts", "end_ts"]
    titles = {f["name"]: f["title"] for f in engine.field_list("job")}
    assert titles["priority"] == "Priority" and titles["oppriority"] == "OpCode_prio"


def test_job_query_reads_the_queue_and_archive(cluster: Any) -> None:
    job = cluster.run("OP_TEST_DELAY", duration=0)
    fields = ["id", "status", "archived", "summary", "opstatus", "start_ts", "priority"]
    rows = _rows(cluster, "job", fields)
    assert rows[-1]["id"] == job.id and rows[-1]["status"] == SUCCESS
    assert rows[-1]["archived"] is False and rows[-1]["summary"] == ["TEST_DELAY"]
    assert rows[-1]["opstatus"] == [SUCCESS] and rows[-1]["start_ts"] is not None
    assert cluster.api.query_jobs([job.id], ["id", "archived"]) == [[job.id, False]]
    assert cluster.api.archive_job(job.id)
    assert cluster.api.query_jobs([job.id], ["id", "archived"]) == [[job.id, True]]
    assert job.id not in [row["id"] for row in _rows(cluster, "job", ["id"])]
    by_id = _rows(cluster, "job", ["id", "status", "archived"], [str(job.id), "99999"])
    assert by_id == [{"id": job.id, "status": SUCCESS, "archived": True},
                     {"id": 99999, "status": None, "archived": None}]
    with pytest.raises(OpPrereqError, match="'x1'"):
        cluster.api.query("job", ["id"], ["x1"])


def test_lock_query_shows_owners_and_pending_jobs(cluster: Any) -> None:
    cluster.master.locks.acquire("test", "cluster", ["BGL"], shared=False)
    try:
        waiting = cluster.submit("OP_TEST_DELAY", duration=0)
        deadline = time.monotonic() + 5
        while cluster.master.queue.get(waiting).status == QUEUED \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cluster.master.queue.get(waiting).status == WAITING
        rows = _rows(cluster, "lock", ["name", "mode", "owner", "pending"])
        bgl = [row for row in rows if row["name"] == "cluster/BGL"]
        assert bgl == [{"name": "cluster/BGL", "mode": "exclusive", "owner": ["test"],
                        "pending": [["shared", [str(waiting)]]]}]
    finally:
        cluster.master.locks.release("test")
    assert cluster.wait(waiting).status == SUCCESS
    assert _rows(cluster, "lock", ["name"]) == []


def test_lock_snapshot_names_levels_and_modes() -> None:
    locks = LockManager()
    locks.acquire(1, "cluster", ["BGL"], shared=True)
    locks.acquire(1, "instance", ["uuid-a"], shared=False)
    locks.acquire(2, "cluster", ["BGL"], shared=True)
    locks.acquire(2, "node", "__all__", shared=True)
    started = threading.Event()

    def wait_for_a() -> None:
        locks.acquire(3, "instance", ["uuid-a"], shared=True, on_wait=started.set)

    thread = threading.Thread(target=wait_for_a, daemon=True)
    thread.start()
    assert started.wait(5)
    time.sleep(0.05)
    rows = {row[0]: row[1:] for row in locks.snapshot()}
    assert rows["cluster/BGL"] == ("shared", ["1", "2"], [])
    assert rows["instance/uuid-a"] == ("exclusive", ["1"], [["shared", ["3"]]])
    assert rows["instance/[lockset]"][0] == "shared"
    assert rows["node/[lockset]"] == ("shared", ["2"], [])
    locks.release(1)
    thread.join(5)
    assert {row[0] for row in locks.snapshot()} >= {"instance/uuid-a"}
    assert all(not row[3] for row in locks.snapshot())


def test_export_query_lists_exports_per_node(cluster: Any, monkeypatch: Any) -> None:
    asked: list[str] = []

    def exports_many(store: Any, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        asked.extend(n["name"] for n in nodes)
        return {n["uuid"]: {"web2": {"complete": True}, "web1": {"complete": True},
                            "half": {"complete": False}} for n in nodes}

    monkeypatch.setattr(rpc, "exports_many", exports_many)
    rows = _rows(cluster, "export", ["node", "export"])
    assert rows == [{"node": "node1.example.com", "export": "web1"},
                    {"node": "node1.example.com", "export": "web2"}]
    assert asked == ["node1.example.com"]
    # the same code path answers gnt-backup list (OP_BACKUP_QUERY)
    job = cluster.run("OP_BACKUP_QUERY", nodes=[])
    assert job.ops[0].result == {"node1.example.com": ["web1", "web2"]}
    monkeypatch.setattr(rpc, "exports_many", lambda store, nodes: {
        n["uuid"]: "unreachable" for n in nodes})
    assert _rows(cluster, "export", ["node", "export"]) == [
        {"node": "node1.example.com", "export": None}]
    with pytest.raises(OpPrereqError, match="ghost"):
        cluster.api.query("export", ["node"], ["ghost"])
