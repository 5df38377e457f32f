"""Runs one job: its opcodes in order, each through its logical unit with locks held."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from gnt.core.errors import ECODE_TEMP_NORES, GntError, LockError, OpExecError, OpPrereqError
from gnt.core.jobstate import CANCELED, CANCELING, ERROR, RUNNING, SUCCESS, WAITING, now_ts
from gnt.core.locklevels import ALL, LEVEL_CLUSTER, LEVELS
from gnt.jobs.job import Job, OpCode
from gnt.jobs.queue import JobQueue
from gnt.lu.base import LU_REGISTRY, Context, LogicalUnit, ResultWithJobs

LOG = logging.getLogger("gnt.processor")


def _error_result(err: BaseException) -> dict[str, Any]:
    if isinstance(err, GntError):
        return err.to_dict()
    return OpExecError(f"Unexpected error: {type(err).__name__}: {err}").to_dict()


class OpFeedback:
    """An opcode's feedback: called with a text line for the job log; :meth:`structured`
    adds an entry of another log type (Ganeti's ``remote-import`` information, a dict)."""

    def __init__(self, queue: JobQueue, job: Job, op: OpCode) -> None:
        self.queue, self.job, self.op = queue, job, op

    def __call__(self, message: str) -> None:
        self.queue.log(self.job, self.op, message)

    def structured(self, log_type: str, message: Any) -> None:
        """Log ``message`` (any JSON value) as an entry of ``log_type``."""
        self.queue.log(self.job, self.op, message, log_type)


class JobProcessor:
    """Executes a job's opcodes; the caller runs it on a worker thread."""

    def __init__(self, ctx: Context, queue: JobQueue, job: Job) -> None:
        self.ctx = ctx
        self.queue = queue
        self.job = job

    def _canceled(self, op: OpCode) -> bool:
        return op.status == CANCELING

    def run(self) -> None:
        """Run every opcode; on the first failure the rest are marked as errors.

        The job always ends finalized in memory (waiters see the outcome) even when its file
        cannot be written; the queue writes it again when it can.
        """
        try:
            self._run_ops()
        finally:
            if self.job.id in self.queue.unsaved:
                LOG.error("job %s ended %s, but its job file could not be written: %s",
                          self.job.id, self.job.status, self.queue.unsaved[self.job.id])

    def _run_ops(self) -> None:
        for index, op in enumerate(self.job.ops):
            if op.status != "queued":
                continue
            try:
                op.result = self._run_opcode(op)
                self.queue.mark(self.job, op, SUCCESS)
            except LockError as err:
                # one change: readers see the final state only once it is written
                with self.queue.changing(self.job, sync=True):
                    if op.status == CANCELING:
                        self.job.add_log(op, "Job canceled while waiting for locks")
                        self.job.finalize_remaining(CANCELED, "Job canceled by request")
                    else:
                        self.job.finalize_remaining(ERROR, _error_result(err))
                return
            except BaseException as err:  # every failure must end the job, never the daemon
                if not isinstance(err, GntError):
                    LOG.error("job %s opcode %s crashed:\n%s", self.job.id, op.op_id,
                              traceback.format_exc())
                with self.queue.changing(self.job, sync=True):
                    op.result = _error_result(err)
                    self.job.add_log(op, f"Error: {err}")
                    op.status = ERROR
                    op.end_timestamp = now_ts()
                    rest = self.job.ops[index + 1:]
                    for later in rest:
                        later.status = ERROR
                        later.result = {"type": "OpExecError",
                                        "message": "Previous opcode failed",
                                        "args": ["Previous opcode failed"]}
                    self.job.finalize_remaining(ERROR, op.result)
                return

    def _run_opcode(self, op: OpCode) -> Any:
        lu_cls = LU_REGISTRY[op.op_id]
        owner = self.job.id
        lu = lu_cls(self.ctx, op.input, OpFeedback(self.queue, self.job, op))
        lu.lock_owner = owner
        self.queue.mark(self.job, op, WAITING)
        self.queue.require_saved(self.job)   # no change is made for a job that is not on disk
        try:
            lu.check_arguments()
            lu.expand_names()
            while True:
                self._lock(lu, op)
                try:
                    lu.check_prereq()
                    break
                except OpPrereqError as err:
                    if err.args[1:] != (ECODE_TEMP_NORES,) or not lu.prepare_retry():
                        raise
                    # Ganeti's internal retry: the opportunistically locked nodes were too
                    # few; all locks are given back and taken again as declared now.
                    self.ctx.locks.release(owner)
                    self.queue.log(self.job, op, f"{err.message}; trying again with the"
                                   " locks of every node")
                    self.queue.mark(self.job, op, WAITING)
            if op.input.get("dry_run"):
                lu.report_dry_run()
                return None
            result = lu.exec()
        finally:
            self.ctx.locks.release(owner)
            # addresses the opcode took from network pools are written or given back now
            self.ctx.config.temp_ips.drop(owner)
        if isinstance(result, ResultWithJobs):
            return self._submit_jobs(op, result)
        return result

    def _lock(self, lu: LogicalUnit, op: OpCode) -> None:
        """Take the unit's locks, level by level in the fixed order (opportunistically where
        it asks to), then mark the opcode running."""
        owner = self.job.id
        names, shared = lu.cluster_locks()
        wanted = lu.declare_locks()
        opportunistic = lu.opportunistic_locks()

        def cancel() -> bool:
            return self._canceled(op)

        self.ctx.locks.acquire(owner, LEVEL_CLUSTER, names, shared, should_cancel=cancel)
        for level in LEVELS[1:]:
            if level not in wanted:
                continue
            if level in opportunistic and wanted[level] != ALL:
                got = self.ctx.locks.acquire_opportunistic(
                    owner, level, wanted[level], level in lu.SHARED_LEVELS,
                    minimum=opportunistic[level], should_cancel=cancel)
                wanted.update(lu.locks_acquired(level, got))
            else:
                self.ctx.locks.acquire(owner, level, wanted[level], level in lu.SHARED_LEVELS,
                                       should_cancel=cancel)
        if op.status == CANCELING:
            raise LockError("Job canceled")
        self.queue.mark(self.job, op, RUNNING)
        self.queue.require_saved(self.job)

    def _submit_jobs(self, op: OpCode, result: ResultWithJobs) -> dict[str, Any]:
        """Submit the jobs an LU asked for (after it released its locks: they lock on their
        own), each with the opcode's priority; the answer goes into the result."""
        if self.ctx.submit_jobs is None:
            raise OpExecError(f"{op.op_id} made jobs, but this daemon cannot submit them")
        jobs = [[{**child, "priority": child.get("priority", op.priority)} for child in ops]
                for ops in result.jobs]
        answers = self.ctx.submit_jobs(jobs) if jobs else []
        for (ok, data), ops in zip(answers, jobs):
            what = ", ".join(child.get("instance_name") or child["OP_ID"] for child in ops)
            self.queue.log(self.job, op, f"Submitted job {data} ({what})" if ok
                           else f"Could not submit the job for {what}: {data}")
        return {**(result.other or {}), "jobs": answers}
