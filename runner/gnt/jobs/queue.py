"""Job persistence and bookkeeping: ids, job files, drain flag, cancel, archive, change waits.

Layout under ``<queue_dir>``: ``serial`` (last job id), ``job-<id>`` (one JSON file per job in
the current queue), ``drain`` (present while drained), ``archive/<id // 10000>/job-<id>``,
``quarantine/`` (job files that could not be read at start-up, kept for inspection). Every file
is 0600 and every directory 0700 from creation.

A job file that cannot be written (full disk, I/O error) never stops a job's in-memory state:
the job still moves on, waiters are woken, the failure is logged and remembered, and the file is
written again with the next successful write. A job whose file cannot be written before its
opcode starts fails (nothing was changed) with the file and the error as its result.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from gnt.core.errors import JobLost, JobQueueDrainError, JobQueueError
from gnt.core.fileutil import atomic_write, ensure_dir, read_json, remove_temp_files, write_json
from gnt.core.jobstate import (
    CANCELED,
    CANCELING,
    ERROR,
    FINALIZED,
    QUEUED,
    RUNNING,
    WAITING,
    now_ts,
)
from gnt.jobs.job import Job, OpCode

RESTART_MESSAGE = ("master daemon restarted while the job was running; what it changed before"
                   " was kept ('gnt-cluster verify' shows anything left half done)")
ARCHIVE_BUCKET = 10000
JOB_FILE_RE = re.compile(r"^job-(\d+)$")
TEMP_PREFIX = ".job-"
SERIAL_TEMP_PREFIX = ".serial."
LOG = logging.getLogger("gnt.jobs")
# What a job file write can fail with: the disk (OSError) or a value JSON cannot hold.
WRITE_ERRORS = (OSError, TypeError, ValueError)


class JobQueue:
    """The current queue in memory plus its files; thread-safe."""

    def __init__(self, queue_dir: Path) -> None:
        self.dir = queue_dir
        self.archive_dir = queue_dir / "archive"
        self.quarantine_dir = queue_dir / "quarantine"
        self.jobs: dict[int, Job] = {}
        self.cond = threading.Condition()
        # job id -> why its file could not be written (it is written again when possible)
        self.unsaved: dict[int, str] = {}
        ensure_dir(self.dir)
        ensure_dir(self.archive_dir)
        self._last_id = 0   # highest job id seen on disk or handed out

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
    def _job_paths(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.dir.iterdir():
            match = JOB_FILE_RE.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _highest_archived_id(self) -> int:
        buckets = [int(p.name) for p in self.archive_dir.iterdir()
                   if p.name.isdigit() and p.is_dir()]
        for bucket in sorted(buckets, reverse=True):
            ids = [int(m.group(1)) for p in (self.archive_dir / str(bucket)).iterdir()
                   if (m := JOB_FILE_RE.match(p.name))]
            if ids:
                return max(ids)
        return 0

    def _quarantine(self, path: Path, reason: str) -> None:
        """Move an unreadable job file aside (never delete it) and log where it went."""
        ensure_dir(self.quarantine_dir)
        target = self.quarantine_dir / path.name
        counter = 0
        while target.exists():
            counter += 1
            target = self.quarantine_dir / f"{path.name}.{counter}"
        os.replace(path, target)
        LOG.error("Job file %s is unreadable (%s); moved to %s", path, reason, target)

    def load(self) -> list[Job]:
        """Read the current queue; unfinished jobs that were past ``queued`` become errors.

        Temp files of interrupted writes are removed; unreadable job files are moved to the
        quarantine dir (logged). Returns the jobs still queued, to be scheduled again.
        """
        remove_temp_files(self.dir, TEMP_PREFIX)
        remove_temp_files(self.dir, SERIAL_TEMP_PREFIX)
        for bucket in self.archive_dir.iterdir():
            if bucket.is_dir():
                remove_temp_files(bucket, TEMP_PREFIX)
        requeue: list[Job] = []
        highest = self._highest_archived_id()
        for file_id, path in self._job_paths():
            highest = max(highest, file_id)
            try:
                job = Job.from_dict(read_json(path))
                if job.id != file_id:
                    raise ValueError(f"it holds job {job.id}")
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                self._quarantine(path, f"{type(err).__name__}: {err}")
                continue
            status = job.status
            if status in (WAITING, RUNNING, CANCELING):
                for op in job.ops:
                    if op.status in (WAITING, RUNNING, CANCELING):
                        job.add_log(op, f"Job marked as error: {RESTART_MESSAGE}")
                job.finalize_remaining(ERROR, {"type": "OpExecError",
                                               "message": RESTART_MESSAGE,
                                               "args": [RESTART_MESSAGE]})
                self._save(job, sync=True)   # a full disk must not stop the daemon's start
            elif status == QUEUED:
                requeue.append(job)
            self.jobs[job.id] = job
        self._check_serial(highest)
        return requeue

    def _read_serial(self) -> int:
        try:
            return int(self._serial_file.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            LOG.error("Job serial file %s is unreadable (%s); continuing after the newest job",
                      self._serial_file, err)
            return 0

    def _check_serial(self, highest: int) -> None:
        """Job ids never go backwards: a serial file behind the newest job file is ignored."""
        serial = self._read_serial()
        if serial < highest:
            LOG.error("Job serial file %s says %d but job %d exists; continuing after job %d",
                      self._serial_file, serial, highest, highest)
        self._last_id = max(self._last_id, serial, highest)

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
        job_id = max(self._last_id, self._read_serial()) + 1
        while self._job_file(job_id).exists() or self._archive_file(job_id).exists():
            LOG.error("Job file for id %d already exists; the serial file %s was behind",
                      job_id, self._serial_file)
            job_id += 1
        try:
            atomic_write(self._serial_file, f"{job_id}\n".encode())
        except OSError as err:
            raise JobQueueError(f"Cannot submit the job: cannot write the job serial file:"
                                f" {err}") from err
        self._last_id = job_id
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
            job.add_reasons()
            try:
                self._persist(job, sync=True)
            except OSError as err:
                raise JobQueueError(f"Cannot submit the job: cannot write its job file: {err}"
                                    ) from err
            self.jobs[job.id] = job
            self.cond.notify_all()
        return job

    def _persist(self, job: Job, sync: bool) -> None:
        """Write the job's file (raises :class:`OSError` naming it); then retry earlier
        failed writes, the disk having room again."""
        write_json(self._job_file(job.id), job.to_dict(), sync=sync)
        if self.unsaved.pop(job.id, None) is not None:
            LOG.info("Job file of job %s written again", job.id)
        self.retry_unsaved()

    def retry_unsaved(self) -> None:
        """Write again the job files whose last write failed (stops at the first failure).

        Called with :attr:`cond` held: after each successful job write, when a client polls a
        job, and by autoarchive (which the watcher runs), so a freed disk is used at once.
        """
        for other_id in list(self.unsaved):
            other = self.jobs.get(other_id)
            if other is None:
                self.unsaved.pop(other_id, None)
                continue
            try:
                write_json(self._job_file(other_id), other.to_dict(), sync=True)
            except WRITE_ERRORS:
                return
            self.unsaved.pop(other_id, None)
            LOG.info("Job file of job %s written again", other_id)

    def _save(self, job: Job, sync: bool) -> None:
        """:meth:`_persist` that never raises: a failure is logged and remembered."""
        try:
            self._persist(job, sync)
        except WRITE_ERRORS as err:
            if job.id not in self.unsaved:
                LOG.error("Cannot write the file of job %s: %s", job.id, err)
            self.unsaved[job.id] = str(err)

    def require_saved(self, job: Job) -> None:
        """Raise :class:`JobQueueError` if the job's last state could not be written."""
        with self.cond:
            reason = self.unsaved.get(job.id)
        if reason is not None:
            raise JobQueueError(f"Cannot write the job file of job {job.id}: {reason}")

    def update(self, job: Job, sync: bool = False) -> None:
        """Write a changed job and wake everyone waiting for changes (a write failure is
        remembered in :attr:`unsaved`, never raised: the in-memory state moves on)."""
        with self.cond:
            self._save(job, sync=sync or job.status in FINALIZED)
            self.cond.notify_all()

    def log(self, job: Job, op: OpCode, message: str) -> None:
        """Append a job log line (with timestamp) and publish it."""
        with self.cond:
            job.add_log(op, message)
            self._save(job, sync=False)
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
            try:
                return Job.from_dict(read_json(path))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                raise JobLost(f"Job {job_id}: archived job file {path} is unreadable:"
                              f" {err}") from err
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
        """Move a finished job to the archive; False if unknown or not finished.

        The archived file is written from the job in memory (so a job whose last update could
        not be written is archived as it ended); raises :class:`OSError` if that fails.
        """
        with self.cond:
            job = self.jobs.get(job_id)
            if job is None or job.status not in FINALIZED:
                return False
            target, current = self._archive_file(job_id), self._job_file(job_id)
            if job_id in self.unsaved or not current.is_file():
                write_json(target, job.to_dict())
                current.unlink(missing_ok=True)
            else:
                ensure_dir(target.parent)
                os.replace(current, target)
            self.unsaved.pop(job_id, None)
            del self.jobs[job_id]
            return True

    def autoarchive(self, age: float, timeout: float) -> tuple[int, int]:
        """Archive finished jobs that ended at least ``age`` seconds ago (``age < 0``: all).

        Returns (archived, left over because ``timeout`` ran out).
        """
        deadline = time.monotonic() + timeout
        now = time.time()
        with self.cond:
            self.retry_unsaved()
        candidates = [job for job in self.current() if job.status in FINALIZED]
        archived = 0
        for index, job in enumerate(candidates):
            if time.monotonic() > deadline:
                return archived, len(candidates) - index
            try:
                end = job.end_timestamp or job.received_timestamp
                if age >= 0 and now - (end[0] + end[1] / 1e6) < age:
                    continue
                if self.archive(job.id):
                    archived += 1
            except (OSError, TypeError, IndexError, ValueError) as err:
                LOG.error("Cannot archive job %s: %s", job.id, err)
        return archived, 0

    # -- following a job -------------------------------------------------------------------
    def wait_for_change(self, job_id: int, prev_status: str | None, prev_log_serial: int,
                        timeout: float) -> dict[str, Any]:
        """Block until the job's status or log moved past what the caller saw, or timeout.

        Returns ``{"status", "log", "changed"}`` with the log entries after ``prev_log_serial``.
        """
        deadline = time.monotonic() + timeout
        with self.cond:
            if self.unsaved:
                self.retry_unsaved()   # clients poll: the disk may have room again
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
        """Move ``op`` to ``status``, stamping its start/exec timestamps, and publish.

        Done under :attr:`cond`, so whoever looks at the job under it never sees a state that
        is not yet written (or known to be unwritable).
        """
        ts = now_ts()
        with self.cond:
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
