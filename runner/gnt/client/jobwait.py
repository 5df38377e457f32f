"""The one job waiter: follow a job through the master daemon's ``wait_for_job_change`` long
poll until it ends, handing its log entries to a callback; then, for commands, turn the job's
outcome into its opcode results or the job's own error (Ganeti's ``PollJob``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any

from gnt.core.errors import GntError, JobLost, OpExecError, OpPrereqError, error_from_dict
from gnt.core.jobstate import CANCELED, CANCELING, ERROR, FINALIZED, QUEUED, SUCCESS, WAITING

# How long one wait_for_job_change call may block in the daemon (seconds).
WAIT_TIMEOUT = 30
# A command stops following a job once it is being canceled (Ganeti's CLI does the same).
COMMAND_END_STATUSES = (*FINALIZED, CANCELING)

LogFeedback = Callable[[Sequence[Any]], None]


class JobCanceled(GntError):
    """The job we were following was canceled."""


def _stderr(text: str) -> None:
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def follow(client: Any, job_id: int, feedback: LogFeedback | None = None,
           until: Collection[str] = FINALIZED, notice: Callable[[str], None] | None = None,
           timeout: int = WAIT_TIMEOUT) -> str:
    """Follow ``job_id`` until its status is one of ``until``; return that status.

    Each new log entry goes to ``feedback(entry)``; ``notice`` is told once that the job waits
    in the queue and once that it waits for locks, as Ganeti's CLI says on stderr.
    Raises :class:`JobLost` if the daemon no longer knows the job.
    """
    status: str | None = None
    serial = 0
    told: set[str] = set()
    while True:
        change = client.call("wait_for_job_change", job_id=job_id, prev_status=status,
                             prev_log_serial=serial, timeout=timeout)
        if not change:
            raise JobLost(f"Job with id {job_id} lost")
        status = str(change.get("status"))
        log = change.get("log") or []
        for entry in log:
            serial = max(serial, int(entry[0]))
            if feedback is not None:
                feedback(entry)
        if status in until:
            return status
        if notice is not None and not log and not change.get("changed", True) \
                and status not in told:
            if status == QUEUED:
                notice(f"Job {job_id} is waiting in queue")
            elif status == WAITING:
                notice(f"Job {job_id} is trying to acquire all necessary locks")
            told.add(status)


def wait_for_job(client: Any, job_id: int, feedback: LogFeedback | None = None) -> str:
    """Follow a job until it is finished (success, error or canceled); return that status."""
    return follow(client, job_id, feedback)


def op_error(result: Any) -> GntError:
    """The exception an errored opcode's result describes."""
    if isinstance(result, dict) and result.get("type"):
        return error_from_dict(result)
    if isinstance(result, (list, tuple)) and len(result) == 2 and isinstance(result[0], str):
        return error_from_dict({"type": result[0], "args": list(result[1] or [])})
    return OpExecError(str(result))


def job_results(client: Any, job_id: int) -> list[Any]:
    """The opcode results of a finished job, or the job's error raised (the first errored
    opcode's; "partial failure" when earlier opcodes succeeded), :class:`JobCanceled` when it
    was canceled."""
    rows = client.call("query_jobs", ids=[job_id], fields=["status", "opstatus", "opresult"])
    if not rows or rows[0] is None:
        raise JobLost(f"Job with id {job_id} lost")
    status, opstatus, opresult = rows[0]
    if status == SUCCESS:
        return list(opresult or [])
    if status in (CANCELING, CANCELED):
        raise JobCanceled("Job was canceled")
    has_ok = False
    for idx, (op_status, result) in enumerate(zip(opstatus or [], opresult or [])):
        if op_status == SUCCESS:
            has_ok = True
        elif op_status == ERROR:
            err = op_error(result)
            if has_ok and isinstance(err, OpExecError) and not isinstance(err, OpPrereqError):
                raise OpExecError(f"partial failure (opcode {idx}): {err}")
            raise err
    raise OpExecError(str(opresult))


def poll_job(client: Any, job_id: int, feedback: LogFeedback | None = None,
             notice: Callable[[str], None] = _stderr) -> list[Any]:
    """Follow ``job_id`` as a command does (log to ``feedback``, queue/lock notices to stderr)
    and return its opcode results, or raise its error."""
    follow(client, job_id, feedback, until=COMMAND_END_STATUSES, notice=notice)
    return job_results(client, job_id)
