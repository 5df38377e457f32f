"""Job persistence and bookkeeping: ids, job files, drain flag, cancel, archive, change waits.

Layout under ``<queue_dir>``: ``serial`` (last job id), ``job-<id>`` (one JSON file per job in
the current queue), ``drain`` (present while drained), ``archive/<id // 10000>/job-<id>``,
``quarantine/`` (job files that could not be read at start-up, kept for inspection). Every file
is 0600 and every directory 0700 from creation. Every master candidate holds a copy of this
directory, kept by the master daemon (:mod:`gnt.nodes.queuesync`), and the node becoming the
master takes over the old master's (:mod:`gnt.nodes.queuecopy`): :meth:`JobQueue.load` then
continues after the highest job id of either.

A job file that cannot be written (full disk, I/O error) never stops a job's in-memory state:
the job still moves on, waiters are woken, the failure is logged and remembered, and the file is
written again with the next successful write. A job whose file cannot be written before its
opcode starts fails (nothing was changed) with the file and the error as its result.

A change is made and serialized under the queue's condition, but written outside it (one
writer per job, newest version wins), so one job's fsync does not hold up the others. Readers
(:meth:`JobQueue.get`, :meth:`JobQueue.wait_for_change`, queries) see a copy of the last
written state: nothing a client was told is newer than the job's file. Finished states and
submits are fsynced; the serial file is not (the newest job file bounds the next id).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnt.core.errors import JobLost, JobQueueDrainError, JobQueueError
from gnt.core.fileutil import atomic_write, ensure_dir, read_json, remove_temp_files, write_json
from gnt.core.jobstate import (
    CANCELED,
    CANCELING,
    ELOG_MESSAGE,
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
# How long wait_for_change gathers further changes of a job before answering (not when it ended).
SETTLE = 0.01
# What a job file write can fail with: the disk (OSError) or a value JSON cannot hold.
WRITE_ERRORS = (OSError, TypeError, ValueError)


def encode_job(job: Job) -> bytes:
    """The content of a job's file: compact JSON (the C encoder; an indent would make json
    fall back to its pure-Python encoder, ten times slower, with the queue's lock held)."""
    return json.dumps(job.to_dict(), sort_keys=True, separators=(",", ":")).encode()


@dataclass
class JobFile:
    """Write state of one job's file: versions are staged under the queue's condition and
    written, newest first, under :attr:`lock` (one writer per job, outside the condition)."""

    version: int = 0                    # newest staged state
    written: int = 0                    # newest state the file holds (write succeeded)
    published: int = 0                  # newest state readers see (written or unwritable)
    data: bytes | BaseException | None = None   # newest staged content, or why there is none
    view: Job | None = None             # copy of the newest staged state
    sync: bool = False                  # a staged, not yet written state needs fsync
    show_unwritten: bool = True         # publish the newest state even if it cannot be written
    lock: threading.Lock = field(default_factory=threading.Lock)


class JobQueue:
    """The current queue in memory plus its files; thread-safe.

    Locking: :attr:`cond` guards the in-memory state and is never held during a file write;
    each job's :class:`JobFile` lock serializes that job's writes and is taken before
    :attr:`cond`, never while holding it.
    """

    def __init__(self, queue_dir: Path) -> None:
        self.dir = queue_dir
        self.archive_dir = queue_dir / "archive"
        self.quarantine_dir = queue_dir / "quarantine"
        self.jobs: dict[int, Job] = {}      # the jobs themselves (workers change them)
        self._lock = threading.RLock()
        self.cond = threading.Condition(self._lock)
        # job id -> why its file could not be written (it is written again when possible)
        self.unsaved: dict[int, str] = {}
        self._files: dict[int, JobFile] = {}    # job id -> write state of its file
        self._views: dict[int, Job] = {}        # job id -> copy of its last written state
        self._waiters: dict[int, list[Any]] = {}  # job id -> [its Condition, waiter count]
        ensure_dir(self.dir)
        ensure_dir(self.archive_dir)
        self._last_id = 0   # highest job id seen on disk or handed out
        # Called (outside :attr:`cond`) with each new job id once its file is written: must be
        # cheap (the master daemon wakes the queue copy thread, gnt.nodes.queuesync).
        self.on_submit: Callable[[int], None] | None = None

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
            elif status == QUEUED:
                requeue.append(job)
            with self.cond:
                self.jobs[job.id] = job
                self._files[job.id] = JobFile(version=1, written=1, published=1)
                self._views[job.id] = job.snapshot()
            if status in (WAITING, RUNNING, CANCELING):
                self.update(job, sync=True)   # a full disk must not stop the daemon's start
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
        """Is the drain flag set (new jobs refused)?"""
        return self._drain_file.exists()

    def set_drain(self, drained: bool) -> None:
        """Set or clear the drain flag on this node (the daemon then pushes it to the master
        candidates: :meth:`gnt.nodes.queuesync.QueueSync.push_drain`)."""
        if drained:
            atomic_write(self._drain_file, b"")
        else:
            self._drain_file.unlink(missing_ok=True)

    # -- submission and updates ------------------------------------------------------------
    def _next_id(self) -> int:
        """The next job id, recorded in the serial file (called with :attr:`cond` held).

        The serial file is written atomically but not fsynced: the durable record of a handed
        out id is the job's own file (fsynced before :meth:`submit` returns), and :meth:`load`
        continues after the newest job file, so ids never go backwards after a crash.
        """
        job_id = max(self._last_id, self._read_serial()) + 1
        while self._job_file(job_id).exists() or self._archive_file(job_id).exists():
            LOG.error("Job file for id %d already exists; the serial file %s was behind",
                      job_id, self._serial_file)
            job_id += 1
        try:
            atomic_write(self._serial_file, f"{job_id}\n".encode(), sync=False)
        except OSError as err:
            raise JobQueueError(f"Cannot submit the job: cannot write the job serial file:"
                                f" {err}") from err
        self._last_id = job_id
        return job_id

    def submit(self, ops: list[dict[str, Any]], priority: int) -> Job:
        """Create and persist a queued job; refused while drained.

        Returns once the job file is durable (fsynced); the write happens outside
        :attr:`cond`, so other jobs move on meanwhile.
        """
        with self.cond:
            if self.is_drained():
                raise JobQueueDrainError("Job queue is drained, refusing job")
            if not ops:
                raise JobQueueError("A job needs at least one opcode")
            job_id = self._next_id()
        job = Job(id=job_id,
                  ops=[OpCode(input=op, priority=op.get("priority", priority)) for op in ops])
        job.add_reasons()
        try:
            atomic_write(self._job_file(job.id), encode_job(job), sync=True)
        except OSError as err:
            raise JobQueueError(f"Cannot submit the job: cannot write its job file: {err}"
                                ) from err
        with self.cond:
            self.jobs[job.id] = job
            self._files[job.id] = JobFile(version=1, written=1, published=1)
            self._views[job.id] = job.snapshot()
            self._notify(job.id)
        if self.unsaved:
            self.retry_unsaved()   # the disk has room again
        if self.on_submit is not None:
            self.on_submit(job.id)
        return job

    def _stage(self, job: Job, sync: bool, show_unwritten: bool = True) -> tuple[JobFile, int]:
        """Record the job's current state as its newest version (called with :attr:`cond`
        held): serialized now, so later changes cannot leak into this version's file.
        ``show_unwritten=False``: readers do not see this state if its write fails."""
        record = self._files.get(job.id)
        if record is None:
            record = self._files[job.id] = JobFile()
        record.version += 1
        record.view = job.snapshot()
        try:
            record.data = encode_job(job)
        except (TypeError, ValueError) as err:   # a value JSON cannot hold
            record.data = err
        record.sync = record.sync or sync
        record.show_unwritten = show_unwritten
        return record, record.version

    def _flush(self, job_id: int, record: JobFile, version: int) -> bool:
        """Make the job file hold ``version`` or newer; then publish (views, waiters).

        Never called with :attr:`cond` held (lock order: the job's file lock, then
        :attr:`cond`). Writes of one job are serialized by its file lock and each writes the
        newest staged version, so the file never goes back to an older state; a writer whose
        version a later write already covered returns at once. Returns False if the write
        failed (remembered in :attr:`unsaved`, published anyway: waiters learn the outcome).
        """
        with record.lock:
            with self.cond:
                if self._files.get(job_id) is not record:   # archived meanwhile
                    return True
                if record.written >= version:
                    return True
                current, data, sync, view = record.version, record.data, record.sync, record.view
                show = record.show_unwritten
                record.sync = False
            error: BaseException | None = None
            try:
                if isinstance(data, BaseException):
                    raise data
                atomic_write(self._job_file(job_id), data or b"", sync=sync)
            except WRITE_ERRORS as err:
                error = err
            with self.cond:
                if error is None:
                    record.written = current
                    if self.unsaved.pop(job_id, None) is not None:
                        LOG.info("Job file of job %s written again", job_id)
                else:
                    record.sync = True
                    if job_id not in self.unsaved:
                        LOG.error("Cannot write the file of job %s: %s", job_id, error)
                    self.unsaved[job_id] = str(error)
                if current > record.published and view is not None \
                        and (error is None or show):
                    record.published = current
                    self._views[job_id] = view
                    self._notify(job_id)
        return error is None

    def _commit(self, job_id: int, record: JobFile, version: int) -> None:
        """:meth:`_flush`, then (if it worked) the writes that failed earlier."""
        if self._flush(job_id, record, version) and self.unsaved:
            self.retry_unsaved()

    def retry_unsaved(self) -> None:
        """Write again the job files whose last write failed (stops at the first failure).

        Called (never with :attr:`cond` held) after each successful job write, when a client
        polls a job, and by autoarchive (which the watcher runs), so a freed disk is used at
        once.
        """
        with self.cond:
            pending = [(job_id, self._files.get(job_id)) for job_id in self.unsaved]
        for job_id, record in pending:
            if record is None or job_id not in self.jobs:
                with self.cond:
                    self.unsaved.pop(job_id, None)
                continue
            if not self._flush(job_id, record, record.version):
                return

    def require_saved(self, job: Job) -> None:
        """Raise :class:`JobQueueError` if the job's last state could not be written."""
        with self.cond:
            reason = self.unsaved.get(job.id)
        if reason is not None:
            raise JobQueueError(f"Cannot write the job file of job {job.id}: {reason}")

    @contextmanager
    def changing(self, job: Job, sync: bool = False, show_unwritten: bool = True
                 ) -> Iterator[None]:
        """Change ``job`` in the block (run with :attr:`cond` held); when it ends the new state
        is written (fsynced if ``sync`` or the job ended) outside :attr:`cond`, and only then
        shown to readers (:meth:`get`, :meth:`wait_for_change`). A write failure is remembered
        in :attr:`unsaved`, never raised: the in-memory state moves on, and readers see it
        unless ``show_unwritten`` is False (the caller then fails the job: see
        :meth:`require_saved`). Must not be entered with :attr:`cond` already held."""
        staged: tuple[JobFile, int] | None = None
        try:
            with self.cond:
                try:
                    yield
                finally:
                    staged = self._stage(job, sync or job.status in FINALIZED, show_unwritten)
        finally:
            if staged is not None:
                self._commit(job.id, *staged)

    def update(self, job: Job, sync: bool = False) -> None:
        """Write a changed job and wake those waiting for its changes (see :meth:`changing`)."""
        with self.changing(job, sync):
            pass

    def log(self, job: Job, op: OpCode, message: Any, log_type: str = ELOG_MESSAGE) -> None:
        """Append a job log entry (with timestamp) and publish it: a text line, or a value of
        another log type (``remote-import``: a dict)."""
        with self.changing(job):
            job.add_log(op, message, log_type)

    def _notify(self, job_id: int) -> None:
        """Wake the waiters of this one job (called with :attr:`cond` held)."""
        waiter = self._waiters.get(job_id)
        if waiter is not None:
            waiter[0].notify_all()

    # -- lookups -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        """A job of the current queue (as last written: a copy, never the job being run) or
        the archive."""
        with self.cond:
            job = self._views.get(job_id) or self.jobs.get(job_id)
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
        """The jobs of the current queue as last written (copies), by id."""
        with self.cond:
            return [self._views.get(job_id) or self.jobs[job_id] for job_id in sorted(self.jobs)]

    def runnable(self, job_id: int) -> Job | None:
        """The job itself (to run it) if it is still queued, else None."""
        with self.cond:
            job = self.jobs.get(job_id)
            return job if job is not None and job.status == QUEUED else None

    # -- cancel and archive ----------------------------------------------------------------
    @property
    def last_id(self) -> int:
        """The highest job id handed out (a filter rule's watermark)."""
        with self.cond:
            return self._last_id

    def cancel(self, job_id: int, reason: str = "Job canceled by request"
               ) -> tuple[bool, str]:
        """Cancel a job that has not started running (Ganeti's semantics); a queued job's
        log and result say ``reason``."""
        staged: tuple[JobFile, int] | None = None
        with self.cond:
            job = self.jobs.get(job_id)
            if job is None:
                return False, f"Job {job_id} not found"
            status = job.status
            if status == QUEUED:
                job.add_log(job.ops[0], reason)
                job.finalize_remaining(CANCELED, reason)
                staged = self._stage(job, sync=True)
                answer = True, f"Job {job_id} canceled"
            elif status == WAITING:
                for op in job.ops:
                    if op.status == WAITING:
                        op.status = CANCELING
                staged = self._stage(job, sync=False)
                answer = True, f"Job {job_id} will be canceled"
            elif status == CANCELING:
                return True, f"Job {job_id} is being canceled"
            else:
                return False, f"Job {job_id} is no longer waiting in the queue"
        self._commit(job_id, *staged)
        return answer

    def archive(self, job_id: int) -> bool:
        """Move a finished job to the archive; False if unknown or not finished.

        The archived file is written from the job in memory (so a job whose last update could
        not be written, or is still being written, is archived as it ended); raises
        :class:`OSError` if that fails. Holds the job's file lock, so no write of the job
        lands in the queue dir after it moved.
        """
        with self.cond:
            record = self._files.get(job_id)
        with record.lock if record is not None else nullcontext():
            with self.cond:
                job = self.jobs.get(job_id)
                if job is None or job.status not in FINALIZED:
                    return False
                target, current = self._archive_file(job_id), self._job_file(job_id)
                stale = (job_id in self.unsaved or not current.is_file()
                         or (record is not None and record.written < record.version))
                if stale:
                    write_json(target, job.to_dict())
                    current.unlink(missing_ok=True)
                else:
                    ensure_dir(target.parent)
                    os.replace(current, target)
                self.unsaved.pop(job_id, None)
                del self.jobs[job_id]
                self._files.pop(job_id, None)
                self._views.pop(job_id, None)
                return True

    def autoarchive(self, age: float, timeout: float) -> tuple[int, int]:
        """Archive finished jobs that ended at least ``age`` seconds ago (``age < 0``: all).

        Returns (archived, left over because ``timeout`` ran out).
        """
        deadline = time.monotonic() + timeout
        now = time.time()
        if self.unsaved:
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
        Only states already written (or known to be unwritable) are seen; only this job's
        changes wake the caller. A finished job is returned at once; other changes are
        returned :data:`SETTLE` seconds after the first one (within the timeout), with what
        followed meanwhile, so a fast job costs its follower one call, not one per state.
        """
        deadline = time.monotonic() + timeout
        if self.unsaved:
            self.retry_unsaved()   # clients poll: the disk may have room again
        with self.cond:
            waiter = self._waiters.setdefault(job_id, [threading.Condition(self._lock), 0])
            waiter[1] += 1
            try:
                settle: float | None = None
                while True:
                    job = self.get(job_id)
                    entries = job.log_entries(prev_log_serial)
                    status = job.status
                    now = time.monotonic()
                    if status in FINALIZED:
                        return {"status": status, "log": entries, "changed": True}
                    if entries or status != prev_status:
                        settle = min(deadline, now + SETTLE) if settle is None else settle
                        if now >= settle:
                            return {"status": status, "log": entries, "changed": True}
                        waiter[0].wait(settle - now)
                        continue
                    if now >= deadline:
                        return {"status": status, "log": [], "changed": False}
                    waiter[0].wait(deadline - now)
            finally:
                waiter[1] -= 1
                if not waiter[1]:
                    del self._waiters[job_id]

    def mark(self, job: Job, op: OpCode, status: str) -> None:
        """Move ``op`` to ``status``, stamping its start/exec timestamps, and publish.

        Readers see the new state only once it is written (or known to be unwritable); the
        write happens outside :attr:`cond` (see :meth:`changing`). An unwritable ``waiting`` or
        ``running`` is never shown: the processor fails the job before its opcode runs.
        """
        ts = now_ts()
        with self.changing(job, show_unwritten=status not in (WAITING, RUNNING)):
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
