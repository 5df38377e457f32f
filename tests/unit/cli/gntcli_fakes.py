"""A fake master daemon client for the gnt-* CLI tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gnt.cli import common

TS = [1256516568, 123456]  # Mon Oct 26 00:22:48 2009 UTC


class FakeClient:
    """Records calls; answers job calls from a tiny in-memory queue.

    ``handlers[method]`` overrides a method (a value or a callable taking the call's
    arguments). Submitted jobs finish at once with ``outcome``: ``("success", result)`` or
    ``("error", error_dict)``; ``log`` lists the messages their log holds.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.handlers: dict[str, Any] = {}
        self.jobs: dict[int, list[dict[str, Any]]] = {}
        self.next_id = 1
        self.outcome: tuple[str, Any] = ("success", None)
        self.outcomes: dict[int, tuple[str, Any]] = {}   # per job id, before ``outcome``
        self.log: list[str] = []

    def call(self, method: str, **args: Any) -> Any:
        self.calls.append((method, args))
        if method in self.handlers:
            handler = self.handlers[method]
            return handler(**args) if callable(handler) else handler
        fn: Callable[..., Any] | None = getattr(self, f"_{method}", None)
        if fn is None:
            raise AssertionError(f"unexpected call {method}({args})")
        return fn(**args)

    def close(self) -> None:
        pass

    # job queue --------------------------------------------------------------------------
    def _submit_job(self, ops: list[dict[str, Any]], priority: int = 0) -> int:
        job_id = self.next_id
        self.next_id += 1
        self.jobs[job_id] = ops
        return job_id

    def _submit_jobs(self, jobs: list[list[dict[str, Any]]], priority: int = 0) -> list:
        return [[True, self._submit_job(ops, priority)] for ops in jobs]

    def _wait_for_job_change(self, job_id: int, prev_status: Any, prev_log_serial: int,
                             timeout: int) -> dict[str, Any]:
        log = [[i + 1, TS, "message", msg] for i, msg in enumerate(self.log)]
        return {"status": self.outcomes.get(job_id, self.outcome)[0], "changed": True,
                "log": [entry for entry in log if entry[0] > prev_log_serial]}

    def _query_jobs(self, ids: list[int], fields: list[str]) -> list[Any]:
        answers = []
        for job_id in ids:
            status, result = self.outcomes.get(job_id, self.outcome)
            answers.append([status, [status], [result]])
        return answers

    # helpers ----------------------------------------------------------------------------
    def submitted_ops(self) -> list[dict[str, Any]]:
        """Every opcode of every submitted job, in order."""
        ops = []
        for method, args in self.calls:
            if method == "submit_job":
                ops.extend(args["ops"])
            elif method == "submit_jobs":
                for job in args["jobs"]:
                    ops.extend(job)
        return ops

    def methods(self) -> list[str]:
        return [method for method, _unused in self.calls]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    """Route every CLI daemon call to a :class:`FakeClient`; run in UTC."""
    client = FakeClient()
    monkeypatch.setattr(common, "get_client", lambda: client)
    monkeypatch.setattr(common, "reset_client", lambda: None)
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    return client


def run_cli(module: Any, argv: list[str]) -> int:
    """Run a gnt-* command's parser in-process; returns the exit code."""
    return common.run(module.build_parser(), argv)


def rstripped(text: str) -> str:
    """``text`` without trailing blanks on its lines."""
    return "".join(line.rstrip() + "\n" for line in text.splitlines())
