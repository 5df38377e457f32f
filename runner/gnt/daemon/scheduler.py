"""Runs queued jobs on a bounded pool of worker threads, by priority then job id."""

from __future__ import annotations

import heapq
import logging
import threading

from gnt.jobs.job import Job
from gnt.jobs.processor import JobProcessor
from gnt.jobs.queue import JobQueue
from gnt.lu.base import Context

LOG = logging.getLogger("gnt.scheduler")


class Scheduler:
    """``workers`` threads take the best queued job (lowest priority value, then oldest)."""

    def __init__(self, ctx: Context, queue: JobQueue, workers: int) -> None:
        self.ctx = ctx
        self.queue = queue
        self._heap: list[tuple[int, int]] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"gnt-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def enqueue(self, job: Job) -> None:
        with self._cond:
            heapq.heappush(self._heap, (job.priority, job.id))
            self._cond.notify()

    def _next(self) -> Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                while self._heap:
                    _prio, job_id = heapq.heappop(self._heap)
                    job = self.queue.runnable(job_id)   # the job itself, not a reader's copy
                    if job is not None:
                        return job
                self._cond.wait()

    def _work(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            try:
                JobProcessor(self.ctx, self.queue, job).run()
            except Exception:  # the processor handles job errors; this guards the thread
                LOG.exception("worker crashed on job %s", job.id)
