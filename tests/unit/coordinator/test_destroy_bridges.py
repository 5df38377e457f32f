"""gnt-cluster destroy removes only what this cluster made: a bridge another cluster on the same
machine also uses stays until the last of them is destroyed.

Real bridges (``ip link``) under real GNT_ROOTs; only Ansible is replaced, by an executor that
makes the bridges node_prepare would make.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from cluster_machine import ClusterMachine, cluster_machine

from gnt.nodes import bridges
from gnt.nodes.recording import RecordingExecutor

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root and iproute2 to make bridges")


class BridgeMakingExecutor(RecordingExecutor):
    """Records plays; node_prepare makes the node's missing bridges, as the role does."""

    def run(self, plays, nodes, feedback):  # type: ignore[no-untyped-def]
        for play in plays:
            if play.role != "node_prepare":
                continue
            for host_vars in play.hosts.values():
                for name in host_vars["gnt_node"]["bridges"]:
                    if not bridges.exists(name):
                        subprocess.run(["ip", "link", "add", name, "type", "bridge"],
                                       check=True)
        return super().run(plays, nodes, feedback)


@pytest.fixture
def bridge() -> Iterator[str]:
    name = f"gtb{secrets.token_hex(4)}"  # at most 15 characters, unique per run
    yield name
    if bridges.exists(name):
        subprocess.run(["ip", "link", "del", name], check=False)


class BridgeMachine(ClusterMachine):
    executor = BridgeMakingExecutor


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Init (making the bridges node_prepare would) or destroy clusters by root name."""
    yield from cluster_machine(monkeypatch, "gb", BridgeMachine)


def test_shared_bridge_stays_until_the_last_cluster_goes(machine: Any, bridge: str) -> None:
    machine.init("a", bridge)
    assert bridges.exists(bridge)  # made by cluster a
    machine.init("b", bridge)  # cluster b uses the same bridge
    machine.destroy("a")
    assert bridges.exists(bridge), machine.log
    assert any("still used by another cluster" in line for line in machine.log)
    machine.destroy("b")
    assert not bridges.exists(bridge), machine.log


def test_shared_bridge_stays_whichever_cluster_goes_first(machine: Any, bridge: str) -> None:
    machine.init("a", bridge)
    machine.init("b", bridge)
    machine.destroy("b")
    assert bridges.exists(bridge), machine.log
    machine.destroy("a")
    assert not bridges.exists(bridge), machine.log


def test_bridge_of_one_cluster_is_removed(machine: Any, bridge: str) -> None:
    machine.init("a", bridge)
    machine.destroy("a")
    assert not bridges.exists(bridge), machine.log


def test_bridge_not_made_by_a_cluster_is_never_touched(machine: Any, bridge: str) -> None:
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", "dev", bridge, "alias", "admin's bridge"], check=True)
    machine.init("a", bridge)
    machine.destroy("a")
    assert bridges.exists(bridge)
    assert (bridges.SYS_NET / bridge / "ifalias").read_text().strip() == "admin's bridge"


def test_more_clusters_than_the_alias_can_list_keep_the_bridge(machine: Any,
                                                               bridge: str) -> None:
    roots = [f"c{index}" for index in range(20)]  # 20 ids of 12 characters: over 255 bytes
    for root in roots:
        machine.init(root, bridge)  # an alias write over 255 bytes failed with EINVAL
    alias = (bridges.SYS_NET / bridge / "ifalias").read_text().strip()
    assert len(alias) <= bridges.ALIAS_MAX and alias.endswith(",+"), alias
    for root in roots:
        machine.destroy(root)
    assert bridges.exists(bridge), machine.log  # users unknown: never deleted automatically
    assert any("more clusters on this machine than its alias can list" in line
               for line in machine.log)
