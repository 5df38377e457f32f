"""The processes of Ansible runs: found by the ``GNT_ANSIBLE_RUN`` variable every process of a
run inherits from the executor's environment, and stopped after a canceled or timed-out run or,
at daemon start, when a killed master daemon left them behind."""

from __future__ import annotations

import os
from pathlib import Path

from gnt.core import settings
from gnt.nodes import proctree

RUN_ENV = "GNT_ANSIBLE_RUN"


def run_processes(runs: Path) -> dict[int, str]:
    """Live processes (pid -> run dir) started for a run under ``runs``: ansible-playbook, its
    workers (Ansible puts them in sessions of their own), modules, their commands and SSH
    masters all inherit ``GNT_ANSIBLE_RUN`` from the executor's environment."""
    prefix = f"{RUN_ENV}={runs}/".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        for item in environ.split(b"\0"):
            if item.startswith(prefix):
                found[int(entry.name)] = item[len(RUN_ENV) + 1:].decode(errors="replace")
                break
    return found


def stop_orphaned_runs(timeout: float = 10.0) -> list[int]:
    """Stop the Ansible runs a previous master daemon of this root left behind (it was killed):
    every process started for a run (see :func:`run_processes`), the warm worker and its
    forks included, gets SIGTERM, then SIGKILL after ``timeout``. Call it only when no run
    of this root can be live (daemon start). Returns the PIDs signalled."""
    victims = sorted(run_processes(settings.paths().ansible_dir / "runs"))
    proctree.terminate(victims, timeout)
    return victims


def stop_run_leftovers(run_dir: Path) -> None:
    """After a canceled or timed-out run: stop what is left of it (module processes and
    commands that outlived their parents carry the run's ``GNT_ANSIBLE_RUN``)."""
    leftovers = [pid for pid, value in run_processes(run_dir.parent).items()
                 if value == str(run_dir)]
    proctree.terminate(leftovers)
