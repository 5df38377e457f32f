"""A mixed lab (``Lab.up(1, guests=1)``): node1 a namespace node, node2 a QEMU TCG guest node, in
one slot. Both directions over SSH and libvirt's TCP listener, the guest's volume group, the
guest's root login with the key node1 holds (its private copy of the lab key), the per-node
kinds in ``lab.json``, a crash and restart of the guest, ``down`` leaving nothing, and ``down``
after the starting process was killed in the middle of ``up``.

Boots one guest for the module (20-80 s under TCG) and one more for the restart test; the
last test starts a second lab and kills its starter before the guest boots. Needs what
namespace nodes and guest nodes need (root, ``ip netns``, QEMU, virtiofsd, the cached guest
image or debootstrap); skipped with the reason otherwise. Uses the slot of ``$GNT_LAB_SLOT``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import guestconf
import labconf
import labguest
import pytest
from lab import Lab, default_slot
from labnet import active_lab_dir, free_slots
from labproc import alive, mounts_under, processes_in

pytestmark = pytest.mark.integration

LAB_PY = Path(__file__).resolve().parent / "lab.py"
SLOW = 120.0     # seconds for one command in a TCG guest


def _skip_reason() -> str | None:
    """Why a mixed lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, taps, mounts)"
    for tool in ("ip", "unshare", "nsenter", "/usr/sbin/sshd", "/usr/sbin/libvirtd", "virsh"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    reason = labguest.skip_reason()
    if reason:
        return reason
    slot = default_slot()
    other = active_lab_dir(slot)
    if other is not None:
        return (f"another lab is up in slot {slot} in {other}; choose a free slot with "
                f"{labconf.SLOT_ENV}=K (free: {free_slots()})")
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """node1 (namespaces) and node2 (guest) in a fresh short directory, removed again."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab_dir = Path(tempfile.mkdtemp(prefix="gntml-", dir="/tmp"))
    the_lab = Lab(lab_dir)
    try:
        t0 = time.monotonic()
        the_lab.up(1, guests=1, data_gib=4)
        print(f"mixed lab up in {time.monotonic() - t0:.1f} s: {the_lab.timings}")
        yield the_lab
    finally:
        the_lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)


def sh(lab: Lab, node: str, command: str, timeout: float = SLOW) -> str:
    """Run a shell command on a node; its stdout (fails the test on error)."""
    proc = lab.ssh(node, command, check=False, timeout=timeout)
    assert proc.returncode == 0, f"{node}: {command!r} failed ({proc.returncode}): " \
                                 f"{proc.stderr or proc.stdout}"
    return proc.stdout


def test_kinds_per_node(lab: Lab) -> None:
    node1, node2 = lab.nodes
    assert (node1.kind, node2.kind) == ("netns", "guest")
    assert node1.netns == f"gntlab{lab.slot}-node1" and node2.netns == ""
    assert node1.root_on_host == str(lab.dir / "node1" / "root") and node2.root_on_host == ""
    assert node1.gnt_root == node2.gnt_root == str(lab.gnt_root)
    assert (node1.address, node2.address) == (lab.net.node_address(1), lab.net.node_address(2))
    state = json.loads(lab.state_file.read_text())
    assert state["kind"] == "mixed"
    assert [rec["kind"] for rec in state["nodes"]] == ["netns", "guest"]
    assert "image" in state and "spec" in state
    # One set of lab-wide files covers both nodes; each node has a copy of the hosts file.
    hosts = (lab.dir / "hosts").read_text()
    assert "node1.lab.example" in hosts and "node2.lab.example" in hosts
    known = (lab.dir / "known_hosts").read_text().splitlines()
    assert [line.split(",")[0] for line in known] == ["node1", "node2"]
    assert sh(lab, "node1", "cat /etc/hosts") == sh(lab, "node2", "cat /etc/hosts") == hosts


def test_ssh_both_ways_and_the_guest_volume_group(lab: Lab) -> None:
    node1, node2 = lab.nodes
    assert sh(lab, "node1", "hostname; ssh node2 hostname").split() == [node1.fqdn, node2.fqdn]
    assert sh(lab, "node2", "hostname; ssh node1 hostname").split() == [node2.fqdn, node1.fqdn]
    # node2's root accepts the key in node1's private /root/.ssh alone (no lab ssh_config):
    # what the coordinator's first contact with a new node uses.
    alone = ("ssh -F /dev/null -o IdentitiesOnly=yes -i /root/.ssh/id_ed25519 -o BatchMode=yes "
             f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@{node2.address} "
             "'hostname; echo $GNT_ROOT; vgs --noheadings -o vg_name xenvg'")
    assert sh(lab, "node1", alone).split() == [node2.fqdn, node2.gnt_root, "xenvg"]
    # the namespace node has no device-mapper, the guest has the volume group
    assert lab.ssh("node1", "vgs xenvg", check=False).returncode != 0


def test_libvirt_both_ways(lab: Lab) -> None:
    node1, node2 = lab.nodes
    for src, dst in ((node1, node2), (node2, node1)):
        out = sh(lab, src.name, f"virsh -c {dst.libvirt_uri} hostname; "
                                f"virsh -c {dst.libvirt_uri} uri")
        assert out.split() == [dst.fqdn, dst.libvirt_uri], (src.name, out)
    status = {s.name: s for s in lab.status()}
    assert all(s.init_alive and s.sshd and s.libvirtd for s in status.values()), status


def test_kill_and_start_the_guest_node(lab: Lab) -> None:
    sh(lab, "node2", "echo kept >$GNT_ROOT/ml-probe && sync")
    qemu_pid, node1_pid = lab.node("node2").init_pid, lab.node("node1").init_pid
    lab.kill_node("node2")
    assert not alive(qemu_pid, None)
    status = {s.name: s for s in lab.status()}
    assert not status["node2"].init_alive and not status["node2"].sshd
    assert status["node1"].init_alive and status["node1"].sshd and status["node1"].libvirtd
    assert lab.ssh("node1", "ssh -o ConnectTimeout=3 node2 true", check=False).returncode != 0
    t0 = time.monotonic()
    node2 = lab.start_node("node2")
    print(f"guest node2 started again in {time.monotonic() - t0:.1f} s")
    assert node2.init_pid != qemu_pid and lab.node("node1").init_pid == node1_pid
    assert sh(lab, "node1", "ssh node2 cat \\$GNT_ROOT/ml-probe").strip() == "kept"
    # a namespace node of the mixed lab crashes and restarts the same way as in a netns lab
    lab.kill_node("node1")
    assert not alive(node1_pid, None)
    lab.start_node("node1")
    assert sh(lab, "node2", "ssh node1 hostname").strip() == "node1.lab.example"


def _leftovers(lab_dir: Path, slot: int, pids: list[int]) -> list[str]:
    """What is still there of a lab: processes, links, namespaces, mounts, files."""
    net = labconf.SlotLayout(slot)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=True).stdout
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                        check=True).stdout
    left = [f"pid {pid}" for pid in pids if alive(pid, None)]
    left += [f"link {word}" for word in links.split() if word.startswith(net.bridge)]
    left += [f"netns {line}" for line in namespaces.splitlines() if net.netns_prefix in line]
    left += [f"process {line}" for line in ps.splitlines() if str(lab_dir) in line]
    left += [f"mount {point}" for point in mounts_under(lab_dir)]
    if lab_dir.exists():
        left += [f"file {entry}" for entry in lab_dir.iterdir()]
    return left


def test_down_leaves_nothing(lab: Lab) -> None:
    state = json.loads(lab.state_file.read_text())
    pids = [rec[key] for rec in state["nodes"] for key in ("init_pid", "unshare_pid", "vfs_pid")
            if rec.get(key)]
    pids += list(processes_in(state["nodes"][0]["pid_ns"]))
    assert len(pids) >= 4, state      # PID 1 and unshare of node1, QEMU and virtiofsd of node2
    lab.down()
    assert _leftovers(lab.dir, lab.slot, pids) == []
    assert guestconf.tap(labconf.NodeLayout(2, lab.dir, lab.slot)) == f"gntlab{lab.slot}-n2"


def test_down_after_the_starter_was_killed(lab: Lab) -> None:
    """``lab.py up 1 --guests 1`` SIGKILLed once the guest's QEMU runs (long before it
    answers): ``down`` from another process removes everything."""
    lab.down()      # no-op when the previous test already did
    lab_dir = Path(tempfile.mkdtemp(prefix="gntmk-", dir="/tmp"))
    slot = lab.slot
    starter = subprocess.Popen([sys.executable, str(LAB_PY), "up", "1", "--guests", "1",
                                "--slot", str(slot), "--dir", str(lab_dir), "--data-size", "4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                state = json.loads((lab_dir / "lab.json").read_text())
            except (OSError, ValueError):
                state = {"nodes": []}
            recs = state["nodes"]
            if len(recs) == 2 and recs[0].get("init_pid") and recs[1].get("init_pid"):
                pids = [recs[0]["init_pid"], recs[0]["unshare_pid"], recs[1]["init_pid"],
                        recs[1]["vfs_pid"]]
                break
            assert starter.poll() is None, "lab.py up ended before its guest started"
            time.sleep(0.05)
        assert pids, "lab.py up recorded no QEMU within 60 s"
        assert all(alive(pid, None) for pid in pids)
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        assert all(alive(pid, None) for pid in pids)    # the nodes outlive their starter
        Lab(lab_dir).down()
        assert _leftovers(lab_dir, slot, pids) == []
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        Lab(lab_dir).down()
        shutil.rmtree(lab_dir, ignore_errors=True)
