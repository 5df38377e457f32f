"""A real multi-node cluster for integration tests: a lab (tests/lab) of N nodes with the
cluster initialised on node1 (master IP on eth0, live migration over the lab's libvirt TCP
listeners) and the other nodes added with ``gnt-node add``.

Every command runs inside a node over SSH, exactly as an operator would type it there.
The lab slot comes from ``$GNT_LAB_SLOT`` (default 0), the directory is per slot and module.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LAB_DIR_CODE = Path(__file__).resolve().parents[1] / "lab"
if str(LAB_DIR_CODE) not in sys.path:
    sys.path.insert(0, str(LAB_DIR_CODE))

from gnt_clusterenv import NAME_CHECKED, NAME_FLAGS  # noqa: E402
from lab import Lab, LabError  # noqa: E402

MIGRATION_URI = "qemu+tcp://{address}/system"
BOOT_MARKER = "gnt-tinylinux: booted"
POWEROFF_MARKER = "gnt-tinylinux: powering off"


def lab_skip_reason() -> str | None:
    """Why a lab cannot run here (None if it can)."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, mounts)"
    for tool in ("ip", "unshare", "nsenter", "sshd"):
        if subprocess.run(["sh", "-c", f"command -v {tool} || test -x /usr/sbin/{tool}"],
                          capture_output=True, check=False).returncode != 0:
            return f"the lab needs '{tool}'"
    if not Path("/usr/sbin/libvirtd").exists():
        return "the lab needs libvirtd (libvirt-daemon-system)"
    return None


@dataclass
class LabCluster:
    """A lab with a gnt cluster on it; ``run`` executes a command inside a node."""

    lab: Lab
    names: list[str]
    log: list[str] = field(default_factory=list)

    def run(self, node: str, command: str, check: bool = True,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in ``node`` (e.g. ``node1``) over SSH; ``check`` raises with output."""
        argv = self.lab.node(node).ssh_argv(command)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
        self.log.append(f"[{node}] $ {command}\n{proc.stdout}{proc.stderr}rc={proc.returncode}")
        if check and proc.returncode != 0:
            raise AssertionError(f"{node}: {command!r} failed rc={proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def gnt(self, command: str, node: str = "node1", check: bool = True,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A gnt-* command line run on ``node`` (the master unless said otherwise); add,
        rename and import get ``--no-name-check`` unless the command sets a check flag."""
        words = command.split(None, 2)
        if tuple(words[:2]) in NAME_CHECKED and not any(flag in command for flag in NAME_FLAGS):
            command = f"{words[0]} {words[1]} --no-name-check {words[2] if len(words) > 2 else ''}"
        return self.run(node, command, check=check, timeout=timeout)

    def fqdn(self, name: str) -> str:
        return self.lab.node(name).fqdn

    def root_on_host(self, node: str) -> Path:
        """The node's GNT_ROOT as the host sees it."""
        return Path(self.lab.node(node).root_on_host)

    def config(self, node: str = "node1") -> dict[str, Any]:
        """``config.data`` of ``node`` (read from the host)."""
        path = self.root_on_host(node) / "var/lib/gnt/config.data"
        return dict(json.loads(path.read_text()))

    def config_bytes(self, node: str = "node1") -> bytes:
        return (self.root_on_host(node) / "var/lib/gnt/config.data").read_bytes()

    def ssconf(self, node: str, key: str) -> str:
        path = self.root_on_host(node) / f"var/lib/gnt/ssconf_{key}"
        return path.read_text()

    def master(self) -> str:
        """The master's short name from node1's ssconf."""
        return self.ssconf("node1", "master_node").strip().split(".")[0]

    def instance_node(self, instance: str) -> str:
        """Short name of the instance's primary node according to the master's config."""
        cfg = self.config(self.master())
        for inst in cfg["instances"].values():
            if inst["name"] == instance:
                return str(cfg["nodes"][inst["primary_node"]]["name"].split(".")[0])
        raise KeyError(instance)

    def domains(self, node: str) -> dict[str, str]:
        """name -> state of the domains on ``node`` (asked through virsh inside the node)."""
        out = self.run(node, "virsh -q -c qemu:///system list --all").stdout
        result = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                result[parts[1]] = " ".join(parts[2:])
        return result

    def console(self, node: str, instance: str) -> str:
        path = self.root_on_host(node) / f"var/log/gnt/console/{instance}.log"
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_console(self, node: str, instance: str, marker: str, timeout: float = 180) -> None:
        """Wait until the instance's console log on ``node`` shows ``marker``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.console(node, instance):
                return
            time.sleep(0.5)
        raise AssertionError(f"{instance} on {node}: no {marker!r} on the console within"
                             f" {timeout} s; console:\n{self.console(node, instance)[-2000:]}")

    def job_ids(self) -> list[int]:
        out = self.gnt("gnt-job list --no-headers -o id").stdout
        return [int(x) for x in out.split()]


def start_cluster(lab_dir: str, n: int, add: int | None = None, *, guests: int = 0,
                  init_options: str = "", **guest_spec: Any) -> LabCluster:
    """Bring a lab of ``n`` nodes up, init the cluster on node1 and add ``add`` more nodes
    (default: all). Raises LabError if the lab cannot start.

    ``guests``: that many QEMU TCG guest nodes (LVM, DRBD) after the ``n`` namespace nodes, a
    mixed lab (tests/lab/labup.py; ``guest_spec``: memory_mb, cpus, data_gib, vg); they count
    for ``add`` like the others. ``init_options`` go on ``gnt-cluster init``'s command line.
    """
    lab = Lab(lab_dir)
    if lab.is_up():
        lab.down()
    lab.up(n, guests=guests, **guest_spec)
    total = n + guests
    names = [f"node{i}" for i in range(1, total + 1)]
    cluster = LabCluster(lab, names)
    try:
        cluster.gnt("gnt-cluster init --master-netdev eth0 --node-parameters"
                    f" {shlex.quote('migration_uri=' + MIGRATION_URI)} {init_options}"
                    " cluster.lab.example")
        for name in names[1:(add or total - 1) + 1]:
            cluster.gnt(f"gnt-node add {name}")
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: LabCluster) -> None:
    """Take the lab down (kills every domain and daemon of it)."""
    try:
        cluster.lab.down()
    except LabError:
        cluster.lab.down()


def lab_dir_for(module: str) -> str:
    """A short per-slot, per-module lab directory (ssh control sockets need short paths)."""
    slot = os.environ.get("GNT_LAB_SLOT", "0")
    return f"/tmp/gl{slot}-{module}"


def lab_marks(*extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """A lab test module's ``pytestmark``: an integration test, skipped with the reason where
    a lab cannot run here (:func:`lab_skip_reason`), then ``extra`` (e.g. a timeout)."""
    reason = lab_skip_reason()
    return [pytest.mark.integration, pytest.mark.skipif(reason is not None, reason=reason or ""),
            *extra]


@contextmanager
def running_cluster(module: str, n: int, add: int | None = None, **kwargs: Any
                    ) -> Iterator[LabCluster]:
    """:func:`start_cluster` in this slot's lab directory for ``module`` (:func:`lab_dir_for`),
    taken down when the block ends, also when what the block sets up fails."""
    cluster = start_cluster(lab_dir_for(module), n, add, **kwargs)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


# --- helpers for the fault and bad-input tests (module-level: they take the cluster) ---

def submit_job(cluster: LabCluster, command: str, node: str = "node1") -> int:
    """Run ``command --submit`` on ``node``; the job ID it printed (``JobID: N``)."""
    out = cluster.gnt(f"{command} --submit", node=node).stdout
    for line in out.splitlines():
        if line.startswith("JobID:"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"{command!r} --submit printed no JobID: {out!r}")


def job_field(cluster: LabCluster, job_id: int, fields: str, node: str = "node1") -> list[str]:
    """``gnt-job list`` ``fields`` (comma separated) of one job, split on ``|``."""
    out = cluster.gnt(f"gnt-job list --no-headers --separator '|' -o {fields} {job_id}",
                      node=node).stdout.strip()
    return out.split("|")


def wait_job(cluster: LabCluster, job_id: int, node: str = "node1",
             timeout: float = 300) -> tuple[str, str]:
    """Wait for a job to finish: (status, ``gnt-job info`` text)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_field(cluster, job_id, "status", node)[0]
        if status in ("success", "error", "canceled"):
            return status, cluster.gnt(f"gnt-job info {job_id}", node=node).stdout
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not finished within {timeout} s")


def wait_job_log(cluster: LabCluster, job_id: int, text: str, node: str = "node1",
                 timeout: float = 120) -> None:
    """Wait until a job's log (``oplog``) contains ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, log = (job_field(cluster, job_id, "status,oplog", node) + [""])[:2]
        if text in log:
            return
        if status in ("success", "error", "canceled"):
            raise AssertionError(f"job {job_id} ended ({status}) before logging {text!r}:"
                                 f" {log}")
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: no {text!r} in its log within {timeout} s")


def nsenter(cluster: LabCluster, node: str, argv: list[str],
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``node``'s namespaces without SSH (works while its link is down)."""
    proc = subprocess.run(cluster.lab.node(node).nsenter_argv(argv), capture_output=True,
                          text=True, timeout=60, check=False)
    cluster.log.append(f"[{node} nsenter] $ {argv}\n{proc.stdout}{proc.stderr}"
                       f"rc={proc.returncode}")
    if check and proc.returncode != 0:
        raise AssertionError(f"{node}: {argv} failed rc={proc.returncode}: {proc.stderr}")
    return proc


def verify_lines(cluster: LabCluster, node: str = "node1") -> tuple[int, list[str]]:
    """``gnt-cluster verify``: (exit code, its ERROR/WARNING/NOTICE lines)."""
    proc = cluster.gnt("gnt-cluster verify", node=node, check=False)
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines()
             if any(k in ln for k in ("ERROR", "WARNING", "NOTICE"))]
    return proc.returncode, lines
