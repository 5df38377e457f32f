"""Process trees of Ansible runs: find a run's processes and stop them, by PID.

Ansible's workers put themselves in sessions of their own, so a process group does not hold a
whole run; the tree under the run's first process (by parent PID, read from /proc) does, as
long as nothing in it was orphaned yet.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (zombies are not)."""
    info = _state_and_parent(pid)
    return info is not None and info[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (children, their children, ...), parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _state_and_parent(int(entry.name))
            if info is not None and info[0] != "Z":
                children.setdefault(info[1], []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def terminate(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM every process of ``pids``, then SIGKILL those still alive after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.05)
        if not any(alive(pid) for pid in pids):
            return


def terminate_tree(pid: int, timeout: float = 5.0) -> list[int]:
    """Stop ``pid`` and every process under it; returns the PIDs signalled."""
    pids = [pid] + descendants(pid)
    terminate(pids, timeout)
    return pids
