"""gnt-node powercycle: the LU (master only with force), the node side (a detached child,
refused on the master's kernel) and the RAPI resource. Nothing here reboots anything: the
child's start and the reboot command are replaced by recorders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import powercycle
from gnt.rapi import routes
from gnt.rapi.resources import Request


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Children recorded instead of started; the node counts as a machine of its own."""
    started: list[list[str]] = []
    monkeypatch.setattr(powercycle, "spawn_detached", started.append)
    monkeypatch.setattr(powercycle, "refusal", lambda boot_id, is_master: None)
    return started


def test_master_needs_force_and_then_schedules_the_reboot(cluster: Any,
                                                          spawned: list[list[str]]) -> None:
    job = cluster.run("OP_NODE_POWERCYCLE", node_name="node1")
    assert job.status == ERROR
    assert job.ops[0].result["args"][0] == \
        "The node is the master and the force parameter was not set"
    assert spawned == []
    job = cluster.run("OP_NODE_POWERCYCLE", node_name="node1", force=True)
    assert job.status == SUCCESS, job.ops[0].result
    assert job.ops[0].result == "Reboot scheduled in 5 seconds"
    [argv] = spawned
    assert argv[1:] == ["-m", "gnt.nodes.powercycle", "--delay", "5"]


def test_shared_machines_and_the_masters_kernel_are_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(powercycle, "spawn_detached", started.append)
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    with pytest.raises(powercycle.SharedKernel, match=f"root is {tmp_path}, not /"):
        powercycle.schedule(0, master_boot_id="another-kernel", is_master=True)
    monkeypatch.setenv("GNT_ROOT", "/")
    with pytest.raises(powercycle.SharedKernel, match="master node's kernel"):
        powercycle.schedule(0, master_boot_id=powercycle.boot_id(), is_master=False)
    assert started == []
    assert powercycle.refusal(powercycle.boot_id(), is_master=True) is None
    assert powercycle.refusal("another-kernel", is_master=False) is None


def test_reboot_writes_sysrq_b_or_falls_back(tmp_path: Path) -> None:
    trigger = tmp_path / "sysrq-trigger"
    trigger.write_bytes(b"")
    fallbacks: list[bool] = []
    powercycle.reboot_now(trigger, lambda: fallbacks.append(True))
    assert trigger.read_bytes() == b"b" and fallbacks == []
    powercycle.reboot_now(tmp_path / "no-such-dir" / "trigger", lambda: fallbacks.append(True))
    assert fallbacks == [True]


def test_rapi_post_with_force_query_argument() -> None:
    route, items = routes.match("/2/nodes/node2/powercycle")
    resource = route.methods["POST"].resource
    assert resource is not None
    jobs: list[Any] = []

    class Backend:
        def call(self, method: str, **args: Any) -> int:
            jobs.append(args["ops"])
            return 7

    req = Request("POST", items, {"force": ["1"]}, None, route.name)
    assert resource(Backend(), req) == 7
    [[op]] = jobs
    assert (op["OP_ID"], op["node_name"], op["force"]) == ("OP_NODE_POWERCYCLE", "node2", True)
