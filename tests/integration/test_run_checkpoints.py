"""A coordinator step between two plays of one run, through real Ansible runs in both executor
modes (issue 11): the second play starts only once the step has returned, and a step that
raises stops the run there, its exception raised by the executor.

Real Ansible runs on this machine through the local connection (no libvirt needed).
"""

from __future__ import annotations

import time

import pytest

from gnt.nodes.executor import AnsibleExecutor, NodeAccess, Play

pytestmark = pytest.mark.integration

NODES = {"n1": NodeAccess("n1", "127.0.0.1", True)}
MODES = ("warm", "runner")


@pytest.fixture
def executor(tmp_path, monkeypatch, request):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))
    made = AnsibleExecutor(mode=request.param, timeout=600)
    yield made
    made.cancel_runs()
    made.close()


def _delay(seconds: float, then=None) -> Play:
    return Play("test_delay", {"n1": {"gnt_delay": seconds}}, title="delay", then=then)


@pytest.mark.parametrize("executor", MODES, indirect=True)
def test_the_next_play_waits_for_the_step(executor):
    times: dict[str, float] = {}

    def first() -> None:
        times["first"] = time.monotonic()
        time.sleep(0.5)
        times["first done"] = time.monotonic()

    def second() -> None:
        times["second"] = time.monotonic()

    start = time.monotonic()
    result = executor.run([_delay(0.2, first), _delay(0.3, second)], NODES, lambda _l: None)
    assert result.ok
    assert times["first"] - start >= 0.2             # after the first play's sleep
    # the second play (a 0.3 s sleep) ran after the first step returned
    assert times["second"] - times["first done"] >= 0.3


@pytest.mark.parametrize("executor", MODES, indirect=True)
def test_a_failing_step_stops_the_run_and_is_raised(executor):
    called: list[str] = []
    lines: list[str] = []

    def failing() -> None:
        called.append("first")
        raise RuntimeError("the config could not be written")

    with pytest.raises(RuntimeError, match="could not be written"):
        executor.run([_delay(0.1, failing), _delay(0.1, lambda: called.append("second"))],
                     NODES, lines.append)
    assert called == ["first"]
    assert any("stopped by the coordinator: the config could not be written" in line
               for line in lines)


@pytest.mark.parametrize("executor", MODES, indirect=True)
def test_a_checkpoint_that_cannot_be_answered_stops_the_run_at_once(executor, tmp_path):
    """The answer cannot be written (as on a full disk): the run is stopped then, not left
    waiting at the checkpoint until its timeout, and the write's error is raised."""
    called: list[str] = []

    def block_the_answer() -> None:
        called.append("first")
        for run_dir in (tmp_path / "root").glob("**/runs/run-*"):
            (run_dir / ".checkpoint-0.tmp").mkdir()   # the answer's file cannot be written

    start = time.monotonic()
    with pytest.raises(OSError):
        executor.run([_delay(0.1, block_the_answer), _delay(0.1, lambda: called.append("2nd"))],
                     NODES, lambda _l: None)
    assert called == ["first"]
    assert time.monotonic() - start < 60
