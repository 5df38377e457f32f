"""The master daemon's state: config, queue, locks, executor and scheduler, together."""

from __future__ import annotations

import logging
import threading
from typing import Any

from gnt.config.store import ConfigStore
from gnt.core import settings
from gnt.core.errors import GntError
from gnt.daemon.scheduler import Scheduler
from gnt.jobs.locking import LockManager
from gnt.jobs.queue import JobQueue
from gnt.lu.base import Context
from gnt.nodes.executor import AnsibleExecutor, Executor
from gnt.nodes.queuesync import QueueSync
from gnt.nodes.replication import Replicator
from gnt.nodes.runprocs import stop_orphaned_runs
from gnt.opcodes import registry

LOG = logging.getLogger("gnt.masterd")


class Master:
    """Everything one master daemon holds."""

    def __init__(self, executor: Executor | None = None, workers: int | None = None) -> None:
        import gnt.lu  # noqa: F401 - registers the logical units

        paths = settings.paths()
        self.config = ConfigStore.load(paths.config_file)
        self.replicator = Replicator()
        self.config.on_commit = self.replicator
        self.queue = JobQueue(paths.queue_dir)
        # The master candidates' copies of the queue (drain flag, serial, current jobs).
        self.queue_sync = QueueSync(self.config, paths.queue_dir)
        self.queue.on_submit = self.queue_sync.wake
        self.locks = LockManager()
        self.executor = executor or AnsibleExecutor()
        self.ctx = Context(config=self.config, locks=self.locks, executor=self.executor,
                           queue=self.queue, submit_jobs=self.submit_many)
        self.scheduler = Scheduler(self.ctx, self.queue, workers or settings.max_running_jobs())
        self._redistribute: threading.Thread | None = None

    def start(self) -> None:
        """Stop Ansible runs a killed predecessor left behind, recover the queue (running jobs
        -> error, queued jobs run again) and start workers."""
        stopped = stop_orphaned_runs()
        if stopped:
            LOG.warning("stopped %d Ansible run(s) left by the previous master daemon"
                        " (PIDs %s)", len(stopped), stopped)
        requeue = self.queue.load()
        # Bring every node's config/ssconf up to date, without delaying the daemon's start
        # on an unreachable node (config writes wait for it under the store's lock).
        self._redistribute = threading.Thread(target=self.config.redistribute,
                                              name="redistribute", daemon=True)
        self._redistribute.start()
        prewarm = getattr(self.executor, "prewarm", None)
        if prewarm is not None:
            threading.Thread(target=self._prewarm, args=(prewarm,), name="prewarm",
                             daemon=True).start()
        self.queue_sync.start()
        self.scheduler.start()
        for job in requeue:
            self.scheduler.enqueue(job)

    @staticmethod
    def _prewarm(prewarm: Any) -> None:
        try:
            prewarm()
        except Exception as err:  # noqa: BLE001 - the first run starts the worker instead
            LOG.warning("could not start the warm Ansible worker ahead of time: %s", err)

    def stop(self) -> None:
        """Stop the workers and the executor (its Ansible runs and warm worker) and wait
        (briefly) for the start-up redistribution to end."""
        self.scheduler.stop()
        self.queue_sync.stop()
        close = getattr(self.executor, "close", None)
        if close is not None:
            close()
        if self._redistribute is not None:
            self._redistribute.join(timeout=30)

    def submit(self, ops: list[dict[str, Any]]) -> int:
        job = self.queue.submit(ops, ops[0].get("priority", 0))
        self.scheduler.enqueue(job)
        return job.id

    def submit_many(self, jobs: list[list[dict[str, Any]]]) -> list[list[Any]]:
        """Validate and submit each job (jobs an LU made); ``[True, id]`` or ``[False, why]``
        per job, as Ganeti's SubmitManyJobs answers."""
        answers: list[list[Any]] = []
        for ops in jobs:
            try:
                answers.append([True, self.submit([registry.validate(dict(op)) for op in ops])])
            except GntError as err:
                answers.append([False, str(err)])
        return answers
