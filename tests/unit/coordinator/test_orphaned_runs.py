"""A restarted master daemon stops the Ansible runs its killed predecessor left (issue 10).

Real processes: a "run" is a process that starts a worker in a session of its own (as
Ansible's workers are), both carrying the run's GNT_ANSIBLE_RUN in their environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gnt.core import settings
from gnt.nodes.proctree import alive
from gnt.nodes.runprocs import RUN_ENV, stop_orphaned_runs

# parent + a worker in a new session (os.setsid), both sleeping
SLEEPER = ("import os, time\n"
           "if os.fork() == 0:\n    os.setsid()\n"
           "time.sleep(300)\n")


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))
    path = settings.paths().ansible_dir / "runs"
    path.mkdir(parents=True)
    started: list[int] = []
    yield path, started
    for pid in started:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def _start(run_dir: Path, started: list[int]) -> list[int]:
    """Start a run's processes; return their PIDs (parent and worker)."""
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], env=dict(os.environ, **{RUN_ENV: str(run_dir)}),
                            start_new_session=True)
    time.sleep(0.5)
    out = subprocess.run(["pgrep", "-f", "-P", str(proc.pid), "time.sleep"], capture_output=True,
                         text=True, check=False)
    pids = [proc.pid] + [int(pid) for pid in out.stdout.split()]
    started.extend(pids)
    return pids


def test_every_process_of_a_run_is_stopped(runs):
    runs_dir, started = runs
    pids = _start(runs_dir / "run-orphan", started)
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    assert stop_orphaned_runs(timeout=5) == sorted(pids)
    assert not any(alive(pid) for pid in pids)


def test_runs_of_another_root_are_left_alone(runs, tmp_path):
    _runs_dir, started = runs
    other = tmp_path / "other-root/var/lib/gnt/ansible/runs/run-x"
    pids = _start(other, started)
    assert stop_orphaned_runs(timeout=5) == []
    assert all(alive(pid) for pid in pids)


def test_nothing_to_stop(runs):
    assert stop_orphaned_runs(timeout=1) == []
