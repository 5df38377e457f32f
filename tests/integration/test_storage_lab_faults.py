"""Node failures under drbd instances on the mixed lab cluster of the storage tests
(gnt_storagelab: node1 the namespace master, node2 and node3 QEMU TCG guests with DRBD 8.4 and
``xenvg``): a guest node is crashed for real (its QEMU killed by PID through the lab: no
shutdown, DRBD's peer just vanishes), the instance is failed over the way a Ganeti operator
would, and the node is brought back and made the instance's secondary again.

What boots: one OS-less domain (``--no-install``: SeaBIOS idles and writes nothing; the data
is written to the DRBD device directly), started on node2, failed over to node3 and
live-migrated back; and the crashed guest node itself, which boots its own Linux again (20-70 s
to SSH under TCG) with the same disks, like a hard reset.

Every gnt command runs on node1 as an operator would type it; the state is checked on the
guests (``/proc/drbd``, ``lvs``, checksums through the device). The cluster is left healthy
for the storage tests that follow in the same session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster, verify_lines
from gnt_storagelab import (
    OS,
    PREREQ_EXIT,
    VG,
    instance_disk,
    instance_names,
    lv_names,
    skip_reason,
)
from test_storage_lab_drbd import drbd_lines, link, minor_on

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1800)]

MIB8 = 8 << 20


def checksum(lc: LabCluster, node: str, path: str, size: int = MIB8) -> str:
    """sha256 of the first ``size`` bytes of ``path`` on ``node``."""
    return lc.run(node, f"head -c {size} {path} | sha256sum").stdout.split()[0]


def wait_synced(lc: LabCluster, minors: dict[str, int], timeout: float = 300) -> None:
    """Until both ends are connected and UpToDate/UpToDate (the resync done)."""
    deadline = time.monotonic() + timeout
    lines: dict[str, str] = {}
    while time.monotonic() < deadline:
        lines = {node: drbd_lines(lc, node).get(minor, "") for node, minor in minors.items()}
        if all("cs:Connected" in line and "ds:UpToDate/UpToDate" in line
               for line in lines.values()):
            return
        time.sleep(2)
    raise AssertionError(f"not in sync within {timeout} s: {lines}")


def node_flags(lc: LabCluster, node: str) -> dict[str, bool]:
    """The node's role flags in the master's config."""
    for obj in lc.config()["nodes"].values():
        if obj["name"].split(".")[0] == node:
            return {k: bool(obj[k]) for k in ("offline", "master_candidate", "drained")}
    raise KeyError(node)


def verify_errors(lc: LabCluster) -> set[str]:
    """The ERROR lines of gnt-cluster verify, without their time stamps."""
    _code, lines = verify_lines(lc)
    return {re.sub(r"^.*?- ERROR", "ERROR", ln) for ln in lines if "ERROR" in ln}


def test_primary_crash_failover_and_recovery(storage_cluster: LabCluster,
                                             timed: Callable[[str], None]) -> None:
    """A running drbd instance (node2 primary, node3 secondary) with 8 MiB of random data
    written through node2's DRBD device, in sync. node2 crashes (its QEMU killed).
    gnt-instance failover is refused (exit 1, naming node2 and --ignore-consistency) with the
    config unchanged; with --ignore-consistency the instance runs on node3 and reads the same
    data there, and gets 8 MiB more while node2 is away. node2 is marked offline; it boots
    again (the stale domain there does not start), is re-added (gnt-node add --readd: online,
    candidate, its bridge back) and gnt-cluster verify-disks activates the instance's disks:
    node2's end resyncs from node3, UpToDate/UpToDate on both. Live-migrated back to node2,
    the 16 MiB read there are node3's. Removed: nothing left on either node, and
    gnt-cluster verify reports no error it did not report before the test."""
    lc = storage_cluster
    name = "crash1"
    before = verify_errors(lc)
    lc.gnt(f"gnt-instance add -t drbd --no-install --no-start -o {OS} -n node2:node3"
           f" --disk 0:size=64M -B maxmem=96M,minmem=96M {name}")
    timed("add (drbd, initial resync)")
    crashed = False
    try:
        disk = instance_disk(lc, name)
        minors = {"node2": minor_on(lc, name, "node2"), "node3": minor_on(lc, name, "node3")}
        lc.gnt(f"gnt-instance activate-disks {name}")
        dev = link(lc, name)
        lc.run("node2", f"dd if=/dev/urandom of={dev} bs=1M count=8 oflag=direct status=none")
        written = checksum(lc, "node2", dev)
        lc.gnt(f"gnt-instance start {name}")
        timed("activate-disks, 8 MiB written, start")
        assert lc.domains("node2")[name] == "running"
        wait_synced(lc, minors)
        assert "ro:Primary/Secondary" in drbd_lines(lc, "node2")[minors["node2"]]

        lc.lab.kill_node("node2")
        crashed = True
        timed("node2 crashed (QEMU killed)")
        serial = lc.config()["serial_no"]
        proc = lc.gnt(f"gnt-instance failover -f {name}", check=False)
        timed("failover refused")
        text = proc.stdout + proc.stderr
        assert proc.returncode == PREREQ_EXIT, text
        assert f"Could not shut down instance {name} on node node2.lab.example" in text, text
        assert "--ignore-consistency" in text, text
        assert lc.config()["serial_no"] == serial and lc.instance_node(name) == "node2"

        out = lc.gnt(f"gnt-instance failover -f --ignore-consistency {name}").stdout
        timed("failover --ignore-consistency")
        assert re.search(r"WARNING: Could not shut down instance crash1 on node"
                         r" node2\.lab\.example", out), out
        assert lc.instance_node(name) == "node3"
        assert lc.domains("node3")[name] == "running"
        assert "ro:Primary/Unknown" in drbd_lines(lc, "node3")[minors["node3"]]
        assert checksum(lc, "node3", dev) == written
        lc.run("node3", f"dd if=/dev/urandom of={dev} bs=1M count=8 seek=8 oflag=direct"
                        " status=none")
        both = checksum(lc, "node3", dev, 2 * MIB8)

        lc.gnt("gnt-node modify -O yes node2")
        timed("node2 offlined")
        assert node_flags(lc, "node2")["offline"]
        lc.lab.start_node("node2")
        crashed = False
        timed("node2 booted again")
        assert lc.domains("node2").get(name) != "running"     # no second copy after the boot
        assert minors["node2"] not in drbd_lines(lc, "node2")
        lc.gnt("gnt-node add --readd node2")
        timed("gnt-node add --readd node2")
        assert node_flags(lc, "node2") == {"offline": False, "master_candidate": True,
                                           "drained": False}
        out = lc.gnt("gnt-cluster verify-disks").stdout
        timed("verify-disks activating")
        assert f"Activating disks for instance '{name}'" in out, out
        wait_synced(lc, minors)
        timed("node2's end in sync")
        assert "ro:Secondary/Primary" in drbd_lines(lc, "node2")[minors["node2"]]

        lc.gnt(f"gnt-instance migrate -f {name}")
        timed("live migration back to node2")
        assert lc.instance_node(name) == "node2"
        assert lc.domains("node2")[name] == "running"
        assert checksum(lc, "node2", dev, 2 * MIB8) == both
        assert checksum(lc, "node2", dev) == written
    finally:
        if crashed:
            lc.lab.start_node("node2")
            lc.gnt("gnt-node add --readd node2", check=False)
        lc.gnt(f"gnt-instance remove -f --shutdown-timeout 0 {name}", check=False)
        timed("remove")
    assert name not in instance_names(lc)
    lv = disk["children"][0]["logical_id"][1]
    for node in ("node2", "node3"):
        assert not any(n.startswith(lv) for n in lv_names(lc, node)), node
        assert lc.gnt(f"gnt-node list-drbd --no-headers {node}").stdout.strip() == ""
        assert minors[node] not in drbd_lines(lc, node), node
        assert name not in lc.domains(node), node
    assert verify_errors(lc) <= before
    assert node_flags(lc, "node2")["master_candidate"]


def sync_progress(lc: LabCluster, node: str, minor: int) -> float | None:
    """The percentage a resync of ``minor`` on ``node`` has done (``/proc/drbd``'s line after
    the minor's status line), or None when none runs."""
    out = lc.run(node, "cat /proc/drbd").stdout
    block = re.search(rf"^\s*{minor}: cs:.*?(?=^\s*\d+: cs:|\Z)", out, re.M | re.S)
    found = re.search(r"sync'ed:\s*([\d.]+)%", block.group(0)) if block else None
    return float(found.group(1)) if found else None


@pytest.mark.skip(reason="racy: 'drbdsetup disk-options --resync-rate=1M' does not reliably"
                  " slow the initial resync of the nested TCG guests, which can end before"
                  " node3 is crashed (it did in the clean-clone CI run of a7ceb2b); to be"
                  " made deterministic")
def test_secondary_crash_mid_sync_and_recovery(storage_cluster: LabCluster,
                                               timed: Callable[[str], None]) -> None:
    """A drbd instance created with --no-wait-for-sync (node2 primary, node3 secondary), 8 MiB
    of random data written through node2's device, the initial resync slowed by hand
    (``drbdsetup disk-options``: a fixed 1 MiB/s). node3 crashes mid-sync;
    node2 keeps serving its UpToDate data alone. node3 boots again, is re-added, and
    ``gnt-instance activate-disks --wait-for-sync`` reconnects its end: the resync completes
    (UpToDate/UpToDate) and node3's data volume holds node2's bytes. Removed: nothing left."""
    lc = storage_cluster
    name = "sync1"
    lc.gnt(f"gnt-instance add -t drbd --no-install --no-start --no-wait-for-sync -o {OS}"
           f" -n node2:node3 --disk 0:size=256M -B maxmem=96M,minmem=96M {name}")
    timed("add (drbd, --no-wait-for-sync)")
    crashed = False
    try:
        disk = instance_disk(lc, name)
        lv = disk["children"][0]["logical_id"][1]
        minors = {"node2": minor_on(lc, name, "node2"), "node3": minor_on(lc, name, "node3")}
        lc.gnt(f"gnt-instance activate-disks {name}")
        for node, minor in minors.items():     # the target paces a resync in DRBD 8.4
            lc.run(node, f"drbdsetup disk-options {minor} --c-plan-ahead=0 --resync-rate=1M")
        dev = link(lc, name)
        lc.run("node2", f"dd if=/dev/urandom of={dev} bs=1M count=8 oflag=direct status=none")
        timed("activate-disks, resync slowed, 8 MiB written")
        line = drbd_lines(lc, "node3")[minors["node3"]]
        done = sync_progress(lc, "node3", minors["node3"])
        assert "ds:Inconsistent/UpToDate" in line and done is not None and done < 90, line

        lc.lab.kill_node("node3")
        crashed = True
        timed(f"node3 crashed at {done}% of the resync")
        whole = checksum(lc, "node2", dev, 256 << 20)
        line = drbd_lines(lc, "node2")[minors["node2"]]
        assert "ro:Primary/" in line and "ds:UpToDate/" in line, line

        lc.lab.start_node("node3")
        crashed = False
        timed("node3 booted again")
        lc.gnt("gnt-node add --readd node3")
        timed("gnt-node add --readd node3")
        lc.run("node2", f"drbdsetup disk-options {minors['node2']} --c-plan-ahead=20")
        # (node3's end comes back with the default pacing: the boot cleared it)
        lc.gnt(f"gnt-instance activate-disks --wait-for-sync {name}")
        timed("activate-disks --wait-for-sync (the resync completed)")
        wait_synced(lc, minors, timeout=60)
        lc.gnt(f"gnt-instance deactivate-disks {name}")
        assert checksum(lc, "node3", f"/dev/{VG}/{lv}", 256 << 20) == whole
        assert checksum(lc, "node2", f"/dev/{VG}/{lv}", 256 << 20) == whole
    finally:
        if crashed:
            lc.lab.start_node("node3")
            lc.gnt("gnt-node add --readd node3", check=False)
        lc.gnt(f"gnt-instance remove -f {name}", check=False)
        timed("remove")
    assert name not in instance_names(lc)
    for node in ("node2", "node3"):
        assert not any(n.startswith(lv) for n in lv_names(lc, node)), node
        assert minors[node] not in drbd_lines(lc, node), node
