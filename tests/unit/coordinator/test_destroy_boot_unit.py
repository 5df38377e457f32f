"""gnt-cluster destroy removes the master's boot unit of the cluster's bridges (which
node_prepare writes on a node booted by systemd), and only this cluster's; on a node not booted
by systemd it looks for none. systemd's directories are temporary ones; only Ansible is
replaced (a recording executor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_machine import ClusterMachine, cluster_machine

from gnt.core import settings
from gnt.core.collection import load_module_util


class BootUnitMachine(ClusterMachine):
    """Clusters whose init also writes the boot unit node_prepare would (bridge gtbu0)."""

    etc: Path
    run: Path
    reloaded: list[int]

    def init(self, root: str, link: str = "gtbu0") -> str:  # type: ignore[override]
        """Init a cluster; write its unit as node_prepare would; the unit's path."""
        super().init(root, link)
        boot = load_module_util("boot_bridges")
        _changed, path = boot.apply(str(settings.paths().os_dir), [link], str(self.etc))
        return str(path)


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    boot = load_module_util("boot_bridges")
    (tmp_path / "run").mkdir()
    (tmp_path / "etc").mkdir()
    monkeypatch.setattr(boot, "BOOTED_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(boot, "SYSTEMD_DIR", str(tmp_path / "etc"))
    reloads: list[int] = []
    monkeypatch.setattr(boot, "daemon_reload", lambda: reloads.append(1))
    for machine in cluster_machine(monkeypatch, "gu", BootUnitMachine):
        assert isinstance(machine, BootUnitMachine)
        machine.etc, machine.run, machine.reloaded = tmp_path / "etc", tmp_path / "run", reloads
        yield machine


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
