"""Runs queued jobs on a bounded pool of worker threads, by priority then job id, as the
job filter rules (:mod:`gnt.jobs.filters`) allow: a job they pause or rate-limit waits aside
(looked at again when a job ends or the rules change), one they reject is canceled."""

from __future__ import annotations

import heapq
import logging
import threading

from gnt.jobs import filters
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
        self._held: dict[int, tuple[int, int]] = {}   # job id -> heap entry (paused/limited)
        self._running: dict[int, Job] = {}            # jobs handed to a worker
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

    def filters_changed(self) -> None:
        """The filter rules changed: cancel the queued jobs a rule now rejects and look at
        the held ones again."""
        with self._cond:
            rules = self.ctx.config.filters()
            entries = self._heap + list(self._held.values())
            for _prio, job_id in entries:
                job = self.queue.runnable(job_id)
                if job is not None:
                    self._decide(job, rules)
            self._release_held()

    def _release_held(self) -> None:
        """Put the held jobs back on the heap (called with :attr:`_cond` held)."""
        for entry in self._held.values():
            heapq.heappush(self._heap, entry)
        self._held.clear()
        self._cond.notify_all()

    def _decide(self, job: Job, rules: list[dict]) -> str:
        """What the filter rules say about queued ``job``; cancels a rejected one."""
        if not rules:
            return filters.RUN
        decision, rule = filters.decide(rules, job, self._running.values())
        if decision == filters.CANCEL and rule is not None:
            ok, message = self.queue.cancel(
                job.id, f"Job canceled: rejected by filter rule {rule['uuid']}")
            LOG.info("job %s rejected by filter rule %s: %s", job.id, rule["uuid"], message)
        return decision

    def _next(self) -> Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                rules = self.ctx.config.filters()
                while self._heap:
                    entry = heapq.heappop(self._heap)
                    job = self.queue.runnable(entry[1])   # the job itself, not a reader's copy
                    if job is None:
                        continue
                    decision = self._decide(job, rules)
                    if decision == filters.RUN:
                        self._running[job.id] = job
                        return job
                    if decision == filters.HOLD:
                        self._held[job.id] = entry
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
            finally:
                with self._cond:
                    self._running.pop(job.id, None)
                    if self._held:
                        self._release_held()   # a rate limit's slot may be free now
