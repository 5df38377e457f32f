"""Job file writes happen outside the queue's condition (issue 10, job-queue throughput), and
still: racing writes of one job leave its newest state on disk, readers never see a state
before it is written, a submit returns only once its job file is fsynced."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gnt.core import fileutil
from gnt.core.jobstate import RUNNING, SUCCESS, WAITING
from gnt.jobs import queue as queue_mod
from gnt.jobs.queue import JobQueue

DELAY0 = [{"OP_ID": "OP_TEST_DELAY", "duration": 0}]


class Gate:
    """Wraps the queue's ``atomic_write``: the next write of the file named ``name`` blocks
    until :attr:`release` is set (after setting :attr:`entered`); every call is recorded."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name: str | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[tuple[str, bool]] = []

    def arm(self, name: str) -> None:
        self.name = name
        self.entered.clear()
        self.release.clear()

    def __call__(self, path: Path, data: bytes, *args: Any, **kwargs: Any) -> None:
        if path.name == self.name:
            self.name = None
            self.entered.set()
            assert self.release.wait(10), "gate never released"
        self.calls.append((path.name, bool(kwargs.get("sync", True))))
        self.real(path, data, *args, **kwargs)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    wrapper = Gate(fileutil.atomic_write)
    monkeypatch.setattr(queue_mod, "atomic_write", wrapper)
    monkeypatch.setattr(fileutil, "atomic_write", wrapper)   # write_json's writes too
    return wrapper


def _start(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _on_disk(queue: JobQueue, job_id: int) -> dict[str, Any]:
    return json.loads((queue.dir / f"job-{job_id}").read_text())


def test_racing_writes_of_one_job_leave_the_newest_state_on_disk(tmp_path, gate):
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    op = job.ops[0]
    gate.arm(f"job-{job.id}")
    older = _start(queue.log, job, op, "first")          # its write stalls in the disk
    assert gate.entered.wait(5)
    newer = _start(queue.log, job, op, "second")         # a newer state of the same job
    newer.join(0.5)
    gate.release.set()                                   # the older write ends last
    older.join(5)
    newer.join(5)
    assert not older.is_alive() and not newer.is_alive()
    messages = [entry[3] for entry in _on_disk(queue, job.id)["ops"][0]["log"]]
    assert messages == ["first", "second"]
    assert _on_disk(queue, job.id)["log_serial"] == 2


def test_a_stalled_job_file_write_does_not_hold_up_other_jobs(tmp_path, gate):
    queue = JobQueue(tmp_path / "queue")
    slow = queue.submit(DELAY0, 0)
    gate.arm(f"job-{slow.id}")
    stalled = _start(queue.mark, slow, slow.ops[0], WAITING)
    assert gate.entered.wait(5)
    done: list[Any] = []

    def other_job() -> None:
        job = queue.submit(DELAY0, 0)
        queue.mark(job, job.ops[0], RUNNING)
        queue.mark(job, job.ops[0], SUCCESS)
        done.append(queue.wait_for_change(job.id, RUNNING, 0, timeout=5)["status"])
        done.append(queue.get(slow.id).status)
    other = _start(other_job)
    other.join(5)
    alive = other.is_alive()
    gate.release.set()
    stalled.join(5)
    other.join(5)
    assert not alive, "another job waited for the stalled write"
    assert done == [SUCCESS, "queued"]        # the stalled state is not shown before written
    assert queue.get(slow.id).status == WAITING
    assert _on_disk(queue, slow.id)["ops"][0]["status"] == WAITING


def test_readers_see_a_state_only_once_it_is_written(tmp_path, gate):
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    queue.mark(job, job.ops[0], RUNNING)
    gate.arm(f"job-{job.id}")
    ending = _start(queue.mark, job, job.ops[0], SUCCESS)
    assert gate.entered.wait(5)
    seen: list[Any] = []
    reader = _start(lambda: seen.extend([
        queue.get(job.id).status,
        queue.current()[0].status,
        queue.wait_for_change(job.id, RUNNING, 0, timeout=0.2)]))
    reader.join(3)
    alive = reader.is_alive()
    gate.release.set()
    ending.join(5)
    reader.join(5)
    assert not alive, "a reader waited for the write"
    assert seen == [RUNNING, RUNNING, {"status": RUNNING, "log": [], "changed": False}]
    assert queue.wait_for_change(job.id, RUNNING, 0, timeout=5)["status"] == SUCCESS
    assert _on_disk(queue, job.id)["ops"][0]["status"] == SUCCESS


def test_a_waiter_is_woken_by_its_job_once_written(tmp_path, gate):
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    answers: list[Any] = []
    waiter = _start(lambda: answers.append(queue.wait_for_change(job.id, "queued", 0, 10)))
    other = queue.submit(DELAY0, 0)
    queue.mark(other, other.ops[0], SUCCESS)              # another job's change: keeps waiting
    waiter.join(0.2)
    assert waiter.is_alive() and not answers
    gate.arm(f"job-{job.id}")
    marking = _start(queue.mark, job, job.ops[0], WAITING)
    assert gate.entered.wait(5)
    waiter.join(0.2)
    assert waiter.is_alive() and not answers              # not before its file is written
    gate.release.set()
    marking.join(5)
    waiter.join(5)
    assert answers and answers[0]["status"] == WAITING


def test_submits_and_finished_states_are_fsynced_the_serial_is_not(tmp_path, gate):
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    assert gate.calls == [("serial", False), (f"job-{job.id}", True)]
    queue.mark(job, job.ops[0], RUNNING)
    queue.mark(job, job.ops[0], SUCCESS)
    assert gate.calls[2:] == [(f"job-{job.id}", False), (f"job-{job.id}", True)]


def test_ids_continue_after_the_newest_job_file_when_the_serial_file_is_lost(tmp_path):
    queue = JobQueue(tmp_path / "queue")
    last = [queue.submit(DELAY0, 0).id for _unused in range(3)][-1]
    (queue.dir / "serial").unlink()                        # e.g. not yet on disk at a crash
    fresh = JobQueue(queue.dir)
    fresh.load()
    assert fresh.submit(DELAY0, 0).id == last + 1


def test_a_follower_gets_the_states_of_a_fast_job_in_one_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_mod, "SETTLE", 1.0)
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    answers: list[Any] = []
    waiter = _start(lambda: answers.append(queue.wait_for_change(job.id, "queued", 0, 30)))
    queue.mark(job, job.ops[0], WAITING)
    queue.log(job, job.ops[0], "working")
    queue.mark(job, job.ops[0], RUNNING)
    queue.mark(job, job.ops[0], SUCCESS)                  # ends within the settle time
    waiter.join(5)
    assert answers and answers[0]["status"] == SUCCESS
    assert [entry[3] for entry in answers[0]["log"]] == ["working"]


def test_a_change_is_answered_after_the_settle_time_if_the_job_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_mod, "SETTLE", 0.2)
    queue = JobQueue(tmp_path / "queue")
    job = queue.submit(DELAY0, 0)
    queue.mark(job, job.ops[0], WAITING)
    start = time.monotonic()
    answer = queue.wait_for_change(job.id, "queued", 0, 30)
    assert answer == {"status": WAITING, "log": [], "changed": True}
    assert 0.2 <= time.monotonic() - start < 5
    assert queue.wait_for_change(job.id, "queued", 0, 0)["status"] == WAITING   # no wait
