"""Helpers of the multi-node LU tests: nodes added straight into the config, a hypervisor fake
that knows on which node each domain lives, and a fake ``gnt.nodes.ssh.run`` at the network edge.

Used on top of the ``cluster`` fixture of conftest.py (a real Master, recording executor).
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from gnt.config.objects import new_uuid
from gnt.nodes import live, rpc, ssh
from gnt.nodes.recording import RecordingExecutor

MASTER = "node1.example.com"
RUNNING = ("running", "paused", "blocked")


def node_entry(cluster: Any, name: str, ip: str, **kw: Any) -> dict[str, Any]:
    """A complete node object (every field schema.py requires) in the master's group."""
    now = time.time()
    node = {"uuid": new_uuid(), "name": name, "primary_ip": ip, "secondary_ip": ip,
            "master_candidate": False, "offline": False, "drained": False,
            "master_capable": True, "vm_capable": True,
            "group": cluster.master.config.master_node()["group"], "ndparams": {},
            "tags": [], "serial_no": 1, "ctime": now, "mtime": now}
    node.update(kw)
    return node


def add_node(cluster: Any, name: str, ip: str, **kw: Any) -> dict[str, Any]:
    """Add a node to the config directly (no LU); returns the stored node."""
    node = node_entry(cluster, name, ip, **kw)
    cluster.master.config.add("nodes", node)
    return cluster.master.config.get("nodes", node["uuid"])


class MultiHV:
    """Domains per node name: name -> {state, memory_mib, ...}; nodes in ``down`` raise
    NodeDown when asked; ``mfree`` per node name (default 8192)."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, dict[str, Any]]] = {}
        self.down: set[str] = set()
        self.mfree: dict[str, int] = {}
        self.dfree: dict[str, int] = {}
        # When set, a *failing* instance_migrate play still leaves the domain on this node.
        self.failed_migration_lands_on: str | None = None

    def put(self, node: str, inst: str, memory: int = 256, state: str = "running") -> None:
        self.nodes.setdefault(node, {})[inst] = {"state": state, "memory_mib": memory,
                                                 "maxmem_mib": memory, "vcpus": 1, "id": 1}

    def drop(self, node: str, inst: str) -> None:
        self.nodes.get(node, {}).pop(inst, None)

    def where(self, inst: str) -> list[str]:
        return sorted(n for n, doms in self.nodes.items() if inst in doms)

    def domains(self, store: Any, node: dict[str, Any]) -> dict[str, dict[str, Any]]:
        if node["name"] in self.down:
            raise live.NodeDown(f"{node['name']}: ssh: connect to host: No route to host")
        return {k: dict(v) for k, v in self.nodes.get(node["name"], {}).items()}

    def live_info(self, store: Any, node: dict[str, Any]) -> dict[str, Any] | None:
        if node["offline"] or node["name"] in self.down:
            return None
        return {"mtotal": 16384, "mfree": self.mfree.get(node["name"], 8192), "mnode": 512,
                "ctotal": 2, "dtotal": 100000, "dfree": self.dfree.get(node["name"], 50000),
                "domains": self.domains(store, node)}

    def live_info_or_error(self, store: Any, node: dict[str, Any]) -> dict[str, Any]:
        info = self.live_info(store, node)
        if info is None:
            raise live.NodeDown(f"{node['name']}: ssh: connect to host: No route to host")
        return info


WARM_CALL = re.compile(
    r"^import sys\nfrom gnt\.nodes\.agent import main\nsys\.exit\(main\((\[.*\])\)\)\n$")


def agent_command(command: str, stdin: bytes | None) -> str:
    """``command``, or for a node call sent to the warm interpreter (``agent.warm_request``:
    the call travels on stdin) the agent's command line it stands for, as
    ``agent.command_line`` writes it."""
    found = WARM_CALL.match((stdin or b"").decode("utf-8", "replace"))
    if found is None:
        return command
    args = ast.literal_eval(found.group(1))
    return " ".join(shlex.quote(arg) for arg in [sys.executable, "-m", "gnt.nodes.agent", *args])


class FakeSSH:
    """Stands in for ``gnt.nodes.ssh.run``: records (target, command, stdin), a node call as its
    agent command line (:func:`agent_command`); answers with rc 0 or
    what ``rules`` says (callables ``(target, command) -> Result | None``, first wins)."""

    def __init__(self) -> None:
        self.calls: list[tuple[ssh.Target, str, bytes | None]] = []
        self.rules: list[Callable[[ssh.Target, str], ssh.Result | None]] = []
        self.stdout_for: Callable[[ssh.Target, str], str] = lambda target, command: ""

    def unreachable(self, name: str) -> None:
        """Make ``name`` answer like ssh does for a host it cannot connect to."""
        self.rules.append(lambda t, c: ssh.Result(
            t.name, 255, "", f"ssh: connect to host {t.address} port 22: No route to host\n")
            if t.name == name else None)

    def __call__(self, target: ssh.Target, command: str, stdin: bytes | None = None,
                 timeout: float = 60.0, forward: tuple[str, str] | None = None) -> ssh.Result:
        del forward  # no control master here: a relay is never set up
        command = agent_command(command, stdin)
        self.calls.append((target, command, stdin))
        for rule in self.rules:
            result = rule(target, command)
            if result is not None:
                return result
        return ssh.Result(target.name, 0, self.stdout_for(target, command), "")

    def to(self, name: str) -> list[tuple[ssh.Target, str, bytes | None]]:
        return [call for call in self.calls if call[0].name == name]


def _after(apply: Any, play: Any, step: Any) -> Any:
    """A checkpoint step that applies ``play``'s effect first, then takes ``step``."""
    def then() -> None:
        apply(play)
        if step is not None:
            step()
    return then


def install(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[MultiHV, FakeSSH]:
    """Patch the network edges (ssh.run, node domains, live info) and make the recording
    executor move domains between nodes as the roles would."""
    hv = MultiHV()
    fake_ssh = FakeSSH()
    monkeypatch.setattr(ssh, "run", fake_ssh)
    monkeypatch.setattr(live, "node_domains", hv.domains)
    monkeypatch.setattr(rpc, "live_info", hv.live_info)
    monkeypatch.setattr(rpc, "live_info_or_error", hv.live_info_or_error)
    executor = cluster.executor
    store = cluster.master.config

    def run(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        for play in plays:
            if play.role == "instance_migrate" and hv.failed_migration_lands_on \
                    and play.role in executor.fail_roles:
                for host, host_vars in play.hosts.items():
                    name = host_vars["gnt_instance"]["name"]
                    dom = hv.nodes.get(host, {}).pop(name, None)
                    if dom is not None:
                        hv.nodes.setdefault(hv.failed_migration_lands_on, {})[name] = dom
        # each play's effect on the domains lands when the play is done (before a
        # checkpoint after it, as on real nodes), not only at the end of the run
        steps = [play.then for play in plays]
        for play, step in zip(plays, steps):
            play.then = _after(apply, play, step)
        try:
            return RecordingExecutor.run(executor, plays, nodes, feedback)
        finally:
            for play, step in zip(plays, steps):
                play.then = step

    def apply(play):  # type: ignore[no-untyped-def]
        for host, host_vars in play.hosts.items():
            inst = host_vars.get("gnt_instance")
            if not inst:
                continue
            name = inst["name"]
            if play.role == "instance_start":
                hv.put(host, name, inst["memory"])
            elif play.role == "instance_stop" and host_vars.get("gnt_undefine"):
                hv.drop(host, name)
            elif play.role == "instance_stop":
                if name in hv.nodes.get(host, {}):
                    hv.nodes[host][name]["state"] = "shutoff"
            elif play.role in ("instance_remove", "instance_undefine"):
                hv.drop(host, name)
            elif play.role == "instance_define":
                hv.put(host, name, inst["memory"], state="shutoff")
            elif play.role == "instance_runtime_memory":
                hv.nodes[host][name]["memory_mib"] = host_vars["gnt_memory_mib"]
            elif play.role == "instance_migrate":
                uri = host_vars["gnt_migration"]["target_uri"]
                target = next(n["name"] for n in store.all("nodes")
                              if f"@{n['secondary_ip']}/" in uri)
                dom = hv.nodes[host].pop(name)
                hv.nodes.setdefault(target, {})[name] = dom

    monkeypatch.setattr(executor, "run", run)
    return hv, fake_ssh


def lvm_cluster(cluster: Any, monkeypatch: pytest.MonkeyPatch, second: str,
                second_ip: str = "198.18.0.12") -> dict[str, Any]:
    """A two-node cluster (``install`` done) with volume group ``xenvg`` and drbd enabled; node
    answers about volume groups and LVs come from the returned state (``free``: node name ->
    MiB free in each VG; ``lvs``: what lv-list answers)."""
    from gnt.core.jobstate import SUCCESS

    hv, fake_ssh = install(cluster, monkeypatch)
    job = cluster.run("OP_CLUSTER_SET_PARAMS", vg_name="xenvg", drbd_helper="/bin/true",
                      enabled_disk_templates=["file", "plain", "drbd", "diskless"])
    assert job.status == SUCCESS, job.ops[0].log
    add_node(cluster, second, second_ip)
    state: dict[str, Any] = {"free": {MASTER: 10240, second: 10240}, "lvs": {}, "hv": hv,
                             "ssh": fake_ssh}

    def vg_info(store: Any, node: dict[str, Any], vg: str) -> dict[str, Any]:
        if vg not in ("xenvg", "metavg"):
            return {"vg_error": f"volume group {vg} not found"}
        return {"vg_total": 20480, "vg_free": state["free"][node["name"]]}

    monkeypatch.setattr(rpc, "vg_info", vg_info)
    monkeypatch.setattr(rpc, "lv_list", lambda store, node, vgs: state["lvs"])
    return state


def drbd_cluster(cluster: Any, monkeypatch: pytest.MonkeyPatch, second: str,
                 third: str) -> dict[str, Any]:
    """``lvm_cluster`` plus a third node (198.18.0.13), with the nodes' DRBD status faked:
    every minor 0-3 configured and connected, its disk state ``state["disk"]`` and its
    local disk status ``state["local_disk"][node name]`` (default ``ok``)."""
    state = lvm_cluster(cluster, monkeypatch, second)
    add_node(cluster, third, "198.18.0.13")
    state["free"][third] = 10240
    state["disk"] = "UpToDate"
    state["local_disk"] = {}

    def drbd_status(store: Any, node: dict[str, Any]) -> dict[int, dict[str, Any]]:
        local = state["local_disk"].get(node["name"], "ok")
        return {minor: {"disk": state["disk"], "local_disk": local, "connection": "Connected"}
                for minor in range(4)}

    monkeypatch.setattr(rpc, "drbd_status", drbd_status)
    return state
