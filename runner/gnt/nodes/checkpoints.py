"""Checkpoints between two plays of one run (:attr:`gnt.nodes.executor.Play.then`): the task
that ends such a play, waiting on the controller (plugins/action/checkpoint.py), and where the
coordinator writes its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gnt.nodes.runfiles import UnsafeText

#: The action of the checkpoint task (plugins/action/checkpoint.py).
CHECKPOINT_ACTION = "gnt.cluster.checkpoint"
#: The answer that lets a run go on past a checkpoint (any other text stops it).
CHECKPOINT_GO = "go"


def checkpoint_path(run_dir: Path, index: int) -> Path:
    """Where the coordinator answers the checkpoint at the end of play ``index``."""
    return run_dir / f"checkpoint-{index}"


def checkpoint_task(path: Path, timeout: float) -> dict[str, Any]:
    """The task ending a play whose :attr:`Play.then` the coordinator takes: it waits on the
    controller for the answer at ``path`` (written by :class:`_EventCollector`), once for the
    play's hosts."""
    return {"name": "Wait for the coordinator", "run_once": True,
            CHECKPOINT_ACTION: {"path": UnsafeText(str(path)), "timeout": timeout}}
