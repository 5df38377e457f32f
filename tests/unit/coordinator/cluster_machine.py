"""Clusters initialised and destroyed on this machine by root name (``GNT_ROOT`` under one
private temporary directory), with no daemon and with Ansible replaced by the executor a test
gives: what the gnt-cluster destroy tests share."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt.admin import bootstrap
from gnt.nodes.recording import RecordingExecutor


class ClusterMachine:
    """``init(root, link)`` and ``destroy(root)``; ``log`` holds their feedback. Ansible is
    replaced by a new :attr:`executor` per init (a subclass may give another)."""

    executor: type[RecordingExecutor] = RecordingExecutor

    def __init__(self, monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
        self._monkeypatch = monkeypatch
        self.base = base
        self.log: list[str] = []

    def _at(self, root: str) -> None:
        self._monkeypatch.setenv("GNT_ROOT", str(self.base / root))

    def init(self, root: str, link: str) -> None:
        """gnt-cluster init of a cluster whose NICs use bridge ``link``."""
        self._at(root)
        bootstrap.init_cluster("cluster.example.com", nicparams={"link": link},
                               executor=self.executor(), start_master=False,
                               feedback=self.log.append)

    def destroy(self, root: str) -> None:
        """gnt-cluster destroy of the cluster under ``root``."""
        self._at(root)
        bootstrap.destroy_cluster(feedback=self.log.append)


def cluster_machine(monkeypatch: pytest.MonkeyPatch, prefix: str,
                    kind: type[ClusterMachine] = ClusterMachine) -> Iterator[ClusterMachine]:
    """A fixture's body: the machine (node1.example.com), its directory removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    monkeypatch.setenv("GNT_NODE_NAME", "node1.example.com")
    monkeypatch.setenv("GNT_NODE_IP", "198.18.0.11")
    monkeypatch.setattr(bootstrap, "_run_destroy_job", lambda: None)
    yield kind(monkeypatch, base)
    shutil.rmtree(base, ignore_errors=True)
