"""gnt-cluster destroy removes the master's boot unit of the cluster's bridges (which
node_prepare writes on a node booted by systemd), and only this cluster's; on a node not booted
by systemd it looks for none. systemd's directories are temporary ones; only Ansible is
replaced (a recording executor)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt.admin import bootstrap
from gnt.core import settings
from gnt.core.collection import load_module_util
from gnt.nodes.recording import RecordingExecutor


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    base = Path(tempfile.mkdtemp(prefix="gu", dir="/tmp"))
    boot = load_module_util("boot_bridges")
    (tmp_path / "run").mkdir()
    (tmp_path / "etc").mkdir()
    monkeypatch.setattr(boot, "BOOTED_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(boot, "SYSTEMD_DIR", str(tmp_path / "etc"))
    reloads: list[int] = []
    monkeypatch.setattr(boot, "daemon_reload", lambda: reloads.append(1))
    monkeypatch.setenv("GNT_NODE_NAME", "node1.example.com")
    monkeypatch.setenv("GNT_NODE_IP", "198.18.0.11")
    monkeypatch.setattr(bootstrap, "_run_destroy_job", lambda: None)
    messages: list[str] = []

    class Machine:
        log = messages
        etc = tmp_path / "etc"
        run = tmp_path / "run"
        reloaded = reloads

        @staticmethod
        def init(root: str) -> str:
            """Init a cluster; write its unit as node_prepare would; the unit's path."""
            monkeypatch.setenv("GNT_ROOT", str(base / root))
            bootstrap.init_cluster("cluster.example.com", nicparams={"link": "gtbu0"},
                                   executor=RecordingExecutor(), start_master=False,
                                   feedback=messages.append)
            _changed, path = boot.apply(str(settings.paths().os_dir), ["gtbu0"],
                                        str(tmp_path / "etc"))
            return str(path)

        @staticmethod
        def destroy(root: str) -> None:
            monkeypatch.setenv("GNT_ROOT", str(base / root))
            bootstrap.destroy_cluster(feedback=messages.append)

    yield Machine
    shutil.rmtree(base, ignore_errors=True)


def test_destroy_removes_this_clusters_unit_only(machine: Any) -> None:
    unit_a = machine.init("a")
    unit_b = machine.init("b")
    assert unit_a != unit_b
    machine.destroy("a")
    assert not Path(unit_a).exists() and Path(unit_b).exists()
    wants = sorted(p.name for p in (machine.etc / "multi-user.target.wants").iterdir())
    assert wants == [Path(unit_b).name]
    assert any(f"Removed the boot unit {Path(unit_a).name}" in line for line in machine.log)
    assert machine.reloaded == [1]


def test_not_booted_by_systemd_looks_for_no_unit(machine: Any) -> None:
    unit = machine.init("a")
    machine.run.rmdir()
    machine.destroy("a")
    assert Path(unit).exists() and machine.reloaded == []
