"""Submitting jobs to the master daemon and following them, as Ganeti's CLI does."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from gnt.client import jobwait
from gnt.client.jobwait import JobCanceled
from gnt.core.errors import (
    ConfigError,
    GntError,
    JobLost,
    JobQueueDrainError,
    JobQueueFull,
    MasterNotRunning,
    OpExecError,
    OpPrereqError,
    ProtocolError,
)

Feedback = Callable[[str], None]


class CommandFailed(GntError):
    """A failure whose message is already in its final form (printed as-is, exit 1)."""


class JobSubmitted(Exception):  # noqa: N818 - a control-flow signal, like Ganeti's
    """Raised after ``--submit``: the job id was queued; the command exits 0."""

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id


def stdout(text: str = "") -> None:
    """Print a line to stdout and flush (output is interleaved with stderr)."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def stderr(text: str) -> None:
    """Print a line to stderr and flush."""
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def format_error(err: BaseException) -> tuple[int, str]:
    """Ganeti's ``FormatError``: (exit code, message) for an error of a command."""
    msg = str(err)
    if isinstance(err, ConfigError):
        return 2, f"Corrupt configuration file: {msg}\nAborting."
    if isinstance(err, OpPrereqError):
        if len(err.args) == 2:
            return 1, ("Failure: prerequisites not met for this operation:\n"
                       f"error type: {err.args[1]}, error details:\n{err.args[0]}")
        return 1, f"Failure: prerequisites not met for this operation:\n{msg}"
    if isinstance(err, OpExecError):
        return 1, f"Failure: command execution error:\n{msg}"
    if isinstance(err, JobQueueDrainError):
        return 1, ("Failure: the job queue is marked for drain and doesn't accept new"
                   " requests")
    if isinstance(err, JobQueueFull):
        return 1, ("Failure: the job queue is full and doesn't accept new job submissions"
                   " until old jobs are archived")
    if isinstance(err, JobLost):
        return 1, f"Error checking job status: {msg}"
    if isinstance(err, (MasterNotRunning, ProtocolError, CommandFailed)):
        return 1, msg
    if isinstance(err, JobCanceled):
        return 1, msg
    return 1, f"Failure: {msg}"


def format_log_message(log_type: str, message: Any) -> str:
    """A job log message as text (non-plain entries are shown with ``str``)."""
    return message if isinstance(message, str) else str(message)


def print_log_entry(entry: Sequence[Any]) -> None:
    """``Mon Oct 26 00:22:48 2009 message`` for a ``[serial, [sec, usec], type, msg]`` entry."""
    _serial, ts, log_type, message = entry[:4]
    stamp = ts[0] + ts[1] / 1_000_000 if isinstance(ts, (list, tuple)) else float(ts or 0)
    stdout(f"{time.ctime(stamp)} {format_log_message(log_type, message)}")


def poll_job(client: Any, job_id: int, feedback: Callable[[Sequence[Any]], None] | None = None
             ) -> list[Any]:
    """Follow ``job_id`` until it is final, printing its log; return the opcode results.

    Raises the job's error (OpPrereqError, OpExecError, ...) when it failed and
    :class:`JobCanceled` when it was canceled (:func:`gnt.client.jobwait.poll_job`).
    """
    return jobwait.poll_job(client, job_id, feedback or print_log_entry, notice=stderr)


def submit_job(client: Any, ops: list[dict[str, Any]], priority: int, name: str) -> int:
    """Submit one job; a drained queue becomes Ganeti's ``Failed to submit job for`` error."""
    try:
        return int(client.call("submit_job", ops=ops, priority=priority))
    except (JobQueueDrainError, JobQueueFull) as err:
        raise CommandFailed(f"Failed to submit job for {name}: {err}") from err


class JobExecutor:
    """Submit several jobs (one per object) and wait for them, like Ganeti's JobExecutor.

    ``verbose`` announces the submitted job ids (multi-object operations).
    """

    def __init__(self, client: Any, priority: int, verbose: bool = False) -> None:
        self.client = client
        self.priority = priority
        self.verbose = verbose
        self.queue: list[tuple[str, list[dict[str, Any]]]] = []
        # (submitted, job id or message, name or None)
        self.jobs: list[tuple[bool, Any, str | None]] = []

    def queue_job(self, name: str, *ops: dict[str, Any]) -> None:
        """Record a job for ``name`` made of ``ops``."""
        self.queue.append((name, list(ops)))

    def add_job_id(self, name: str | None, submitted: bool, job_id: Any) -> None:
        """Follow a job submitted elsewhere (e.g. by an LU: ``{"jobs": [[ok, id], ...]}``)."""
        self.jobs.append((bool(submitted), int(job_id) if submitted else job_id, name))

    def submit_pending(self) -> None:
        """Submit all queued jobs (one call for several; a refused batch fails them all)."""
        if len(self.queue) == 1:
            name, ops = self.queue[0]
            try:
                job_id = self.client.call("submit_job", ops=ops, priority=self.priority)
                self.jobs.append((True, int(job_id), name))
            except (JobQueueDrainError, JobQueueFull) as err:
                self.jobs.append((False, str(err), name))
        elif self.queue:
            try:
                answers = self.client.call("submit_jobs", jobs=[ops for _unused, ops in self.queue],
                                           priority=self.priority)
            except (JobQueueDrainError, JobQueueFull) as err:
                answers = [[False, str(err)]] * len(self.queue)
            for (ok, data), (name, _ops) in zip(answers, self.queue):
                self.jobs.append((bool(ok), int(data) if ok else data, name))
        self.queue = []

    def show_submitted(self) -> list[tuple[bool, Any]]:
        """``--submit``: print the job ids instead of waiting."""
        self.submit_pending()
        for ok, data, name in self.jobs:
            if ok:
                stdout(f"{data}: {name}")
            else:
                stderr(f"Failure for {name}: {data}")
        return [(ok, data) for ok, data, _name in self.jobs]

    def get_results(self) -> list[tuple[bool, Any]]:
        """Wait for every job; returns ``(success, result or error text)`` in order."""
        if not self.jobs:
            self.submit_pending()
        if self.verbose:
            ok_ids = [str(data) for ok, data, _unused in self.jobs if ok]
            if ok_ids:
                stdout("Submitted jobs " + ", ".join(ok_ids))
        results: list[tuple[bool, Any]] = []
        for ok, data, name in self.jobs:
            for_name = f" for {name}" if name else ""
            if not ok:
                stderr(f"Failed to submit job{for_name}: {data}")
                results.append((False, data))
                continue
            stdout(f"Waiting for job {data}{for_name} ...")
            try:
                results.append((True, poll_job(self.client, data)))
            except JobLost as err:
                stderr(f"Job {data}{for_name} has been archived, cannot check its result")
                results.append((False, format_error(err)[1]))
            except GntError as err:
                text = format_error(err)[1]
                stderr(f"Job {data}{for_name} has failed: {text}")
                results.append((False, text))
        return results
