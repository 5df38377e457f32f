"""Job persistence and bookkeeping: ids, job files, drain flag, cancel, archive, change waits.

Layout under ``<queue_dir>``: ``serial`` (last job id), ``job-<id>`` (one JSON file per job in
the current queue), ``drain`` (present while drained), ``archive/<id // 10000>/job-<id>``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import JobLost, JobQueueDrainError, JobQueueError
from ..fileutil import atomic_write, read_json, write_json
from .job import (
    CANCELED,
    CANCELING,
    ERROR,
    FINALIZED,
    QUEUED,
    RUNNING,
    WAITING,
    Job,
    OpCode,
    now_ts,
)

RESTART_MESSAGE = "master daemon restarted"
ARCHIVE_BUCKET = 10000


class JobQueue:
    """The current queue in memory plus its files; thread-safe."""

    def __init__(self, queue_dir: Path) -> None:
        self.dir = queue_dir
        self.archive_dir = queue_dir / "archive"
        self.jobs: dict[int, Job] = {}
        self.cond = threading.Condition()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.archive_dir.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------
    def _job_file(self, job_id: int) -> Path:
        return self.dir / f"job-{job_id}"

    def _archive_file(self, job_id: int) -> Path:
        return self.archive_dir / str(job_id // ARCHIVE_BUCKET) / f"job-{job_id}"

    @property
    def _serial_file(self) -> Path:
        return self.dir / "serial"

    @property
    def _drain_file(self) -> Path:
        return self.dir / "drain"

    # -- start-up ------------------------------------------------------------------------
    def load(self) -> list[Job]:
        """Read the current queue; unfinished jobs that were past ``queued`` become errors.

        Returns the jobs still queued, to be scheduled again.
        """
        requeue: list[Job] = []
        for path in sorted(self.dir.glob("job-*")):
            try:
                job = Job.from_dict(read_json(path))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            status = job.status
            if status in (WAITING, RUNNING, CANCELING):
                for op in job.ops:
                    if op.status in (WAITING, RUNNING, CANCELING):
                        job.add_log(op, f"Job marked as error: {RESTART_MESSAGE}")
                job.finalize_remaining(ERROR, {"type": "OpExecError",
                                               "message": RESTART_MESSAGE,
                                               "args": [RESTART_MESSAGE]})
                self._persist(job, sync=True)
            elif status == QUEUED:
                requeue.append(job)
            self.jobs[job.id] = job
        return requeue

    # -- drain ---------------------------------------------------------------------------
    def is_drained(self) -> bool:
        return self._drain_file.exists()

    def set_drain(self, drained: bool) -> None:
        if drained:
            atomic_write(self._drain_file, b"")
        else:
            self._drain_file.unlink(missing_ok=True)

    # -- submission and updates ------------------------------------------------------------
    def _next_id(self) -> int:
        try:
            last = int(self._serial_file.read_text().strip() or 0)
        except FileNotFoundError:
            last = 0
        job_id = last + 1
        atomic_write(self._serial_file, f"{job_id}\n".encode())
        return job_id

    def submit(self, ops: list[dict[str, Any]], priority: int) -> Job:
        """Create and persist a queued job; refused while drained."""
        with self.cond:
            if self.is_drained():
                raise JobQueueDrainError("Job queue is drained, refusing job")
            if not ops:
                raise JobQueueError("A job needs at least one opcode")
            job = Job(id=self._next_id(),
                      ops=[OpCode(input=op, priority=op.get("priority", priority)) for op in ops])
            self._persist(job, sync=True)
            self.jobs[job.id] = job
            self.cond.notify_all()
        return job

    def _persist(self, job: Job, sync: bool) -> None:
        write_json(self._job_file(job.id), job.to_dict(), sync=sync)

    def update(self, job: Job, sync: bool = False) -> None:
        """Write a changed job and wake everyone waiting for changes."""
        with self.cond:
            self._persist(job, sync=sync or job.status in FINALIZED)
            self.cond.notify_all()

    def log(self, job: Job, op: OpCode, message: str) -> None:
        """Append a job log line (with timestamp) and publish it."""
        with self.cond:
            job.add_log(op, message)
            self._persist(job, sync=False)
            self.cond.notify_all()

    # -- lookups -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        """A job of the current queue or the archive."""
        with self.cond:
            job = self.jobs.get(job_id)
        if job is not None:
            return job
        path = self._archive_file(job_id)
        if path.exists():
            return Job.from_dict(read_json(path))
        raise JobLost(f"Job {job_id} not found")

    def current(self) -> list[Job]:
        with self.cond:
            return sorted(self.jobs.values(), key=lambda job: job.id)

    # -- cancel and archive ----------------------------------------------------------------
    def cancel(self, job_id: int) -> tuple[bool, str]:
        """Cancel a job that has not started running (Ganeti's semantics)."""
        with self.cond:
            job = self.jobs.get(job_id)
            if job is None:
                return False, f"Job {job_id} not found"
            status = job.status
            if status == QUEUED:
                job.add_log(job.ops[0], "Job canceled by request")
                job.finalize_remaining(CANCELED, "Job canceled by request")
                self.update(job, sync=True)
                return True, f"Job {job_id} canceled"
            if status == WAITING:
                for op in job.ops:
                    if op.status == WAITING:
                        op.status = CANCELING
                self.update(job)
                return True, f"Job {job_id} will be canceled"
            if status == CANCELING:
                return True, f"Job {job_id} is being canceled"
            return False, f"Job {job_id} is no longer waiting in the queue"

    def archive(self, job_id: int) -> bool:
        """Move a finished job to the archive; False if unknown or not finished."""
        with self.cond:
            job = self.jobs.get(job_id)
            if job is None or job.status not in FINALIZED:
                return False
            target = self._archive_file(job_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._job_file(job_id), target)
            del self.jobs[job_id]
            return True

    def autoarchive(self, age: float, timeout: float) -> tuple[int, int]:
        """Archive finished jobs that ended at least ``age`` seconds ago (``age < 0``: all).

        Returns (archived, left over because ``timeout`` ran out).
        """
        deadline = time.monotonic() + timeout
        now = time.time()
        candidates = [job for job in self.current() if job.status in FINALIZED]
        archived = 0
        for index, job in enumerate(candidates):
            if time.monotonic() > deadline:
                return archived, len(candidates) - index
            end = job.end_timestamp or job.received_timestamp
            if age >= 0 and now - (end[0] + end[1] / 1e6) < age:
                continue
            if self.archive(job.id):
                archived += 1
        return archived, 0

    # -- following a job -------------------------------------------------------------------
    def wait_for_change(self, job_id: int, prev_status: str | None, prev_log_serial: int,
                        timeout: float) -> dict[str, Any]:
        """Block until the job's status or log moved past what the caller saw, or timeout.

        Returns ``{"status", "log", "changed"}`` with the log entries after ``prev_log_serial``.
        """
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                job = self.get(job_id)
                entries = job.log_entries(prev_log_serial)
                status = job.status
                if entries or status != prev_status or status in FINALIZED:
                    return {"status": status, "log": entries, "changed": True}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"status": status, "log": [], "changed": False}
                self.cond.wait(remaining)

    def mark(self, job: Job, op: OpCode, status: str) -> None:
        """Move ``op`` to ``status``, stamping its start/exec timestamps, and publish."""
        ts = now_ts()
        if status == WAITING and op.start_timestamp is None:
            op.start_timestamp = ts
            if job.start_timestamp is None:
                job.start_timestamp = ts
        if status == RUNNING:
            op.exec_timestamp = ts
            if op.start_timestamp is None:
                op.start_timestamp = ts
        op.status = status
        if status in FINALIZED:
            op.end_timestamp = ts
            if all(other.status in FINALIZED for other in job.ops):
                job.end_timestamp = ts
        self.update(job)
