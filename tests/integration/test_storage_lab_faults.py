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

from gnt.opcodes import params

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1800)]

MIB8 = 8 << 20


def bridges_made_at_boot(lc: LabCluster, node: str) -> None:
    """After ``node`` (a guest booted by systemd) booted again, before any re-add: the
    cluster's bridge is there and up, made by the boot unit node preparation wrote and
    enabled (the kernel forgot the bridge ``gnt-node add`` made; nothing else makes bridges
    on a node). node1, a namespace node whose /etc is the host's, has no such unit."""
    bridge = params.filled_nicparams(lc.config()["cluster"], {})["link"]
    wants = lc.run(node, "ls /etc/systemd/system/multi-user.target.wants").stdout.split()
    [unit] = [name for name in wants if name.startswith("gnt-bridges-")]
    assert lc.run(node, f"systemctl is-active {unit}").stdout.strip() == "active"
    link = lc.run(node, f"test -d /sys/class/net/{bridge}/bridge && ip -o link show dev"
                        f" {bridge}", check=False)
    assert link.returncode == 0 and "UP" in link.stdout.split(">")[0], link.stdout
    assert lc.run("node1", f"test -e /etc/systemd/system/{unit}", check=False).returncode == 1


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


def clean_up(lc: LabCluster, timed: Callable[[str], None], name: str,
             crashed: str | None, remove_options: str = "") -> None:
    """A fault test's ``finally``: the crashed guest node (if still down) booted and re-added,
    then the instance removed (failures there are left to the test's own checks)."""
    if crashed:
        lc.lab.start_node(crashed)
        lc.gnt(f"gnt-node add --readd {crashed}", check=False)
    lc.gnt(f"gnt-instance remove -f {remove_options}{name}", check=False)
    timed("remove")


def test_primary_crash_failover_and_recovery(storage_cluster: LabCluster,
                                             timed: Callable[[str], None]) -> None:
    """A running drbd instance (node2 primary, node3 secondary) with 8 MiB of random data
    written through node2's DRBD device, in sync. node2 crashes (its QEMU killed).
    gnt-instance failover is refused (exit 1, naming node2 and --ignore-consistency) with the
    config unchanged; with --ignore-consistency the instance runs on node3 and reads the same
    data there, and gets 8 MiB more while node2 is away. node2 is marked offline; it boots
    again (the stale domain there does not start; the cluster's bridge is back and up before
    any re-add, made by the boot unit node preparation wrote), is re-added (gnt-node add --readd: online,
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
        bridges_made_at_boot(lc, "node2")
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
        clean_up(lc, timed, name, "node2" if crashed else None, "--shutdown-timeout 0 ")
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


SLOW_KIB = 512     # the fixed resync rate of the test: 256 MiB take over 8 minutes


def own_resync_rate(lc: LabCluster) -> int | None:
    """The cluster's own drbd resync-rate disk parameter (None: Ganeti's default)."""
    own = (lc.config()["cluster"].get("diskparams") or {}).get("drbd") or {}
    return own.get("resync-rate")


def set_resync_rate(lc: LabCluster, rate: int | None) -> None:
    """``gnt-cluster modify -D drbd:resync-rate=RATE`` (None: back to the default)."""
    lc.gnt("gnt-cluster modify -D " + (f"drbd:resync-rate={rate}" if rate is not None
                                       else "drbd:-resync-rate"))
    assert own_resync_rate(lc) == rate


def disk_options(lc: LabCluster, node: str, minor: int) -> str:
    """The ``disk { }`` section of ``drbdsetup show --show-defaults MINOR`` on ``node``."""
    out = lc.run(node, f"drbdsetup show --show-defaults {minor}").stdout
    found = re.search(r"^\s*disk \{\n(.*?)^\s*\}", out, re.M | re.S)
    assert found, out
    return found.group(1)


def pacing(lc: LabCluster, node: str, minor: int) -> tuple[str, str]:
    """(c-plan-ahead, resync-rate) as the kernel has them for ``minor`` on ``node``."""
    text = disk_options(lc, node, minor)
    values = tuple(re.search(rf"^\s*{key}\s+(\S+?)[;\s]", text, re.M) for key in
                   ("c-plan-ahead", "resync-rate"))
    assert all(values), text
    return values[0].group(1), values[1].group(1)     # type: ignore[union-attr]


def test_secondary_crash_mid_sync_and_recovery(storage_cluster: LabCluster,
                                               timed: Callable[[str], None]) -> None:
    """The cluster's drbd resync-rate set to 512 KiB/s (``gnt-cluster modify -D``) before a
    drbd instance is created with --no-wait-for-sync (node2 primary, node3 secondary): both
    ends get it with the attach (the kernel shows c-plan-ahead 0 and resync-rate 512k: a
    fixed rate), so the initial resync of 256 MiB is slow from its first block. 8 MiB of
    random data written through node2's device; node3 crashes mid-sync (under 90% done);
    node2 keeps serving its UpToDate data alone. node3 boots again and is re-added; the
    default rate restored (``modify -D drbd:-resync-rate``), ``gnt-instance activate-disks
    --wait-for-sync`` sets it on node2's attached end too and reattaches node3's: the resync
    completes fast and node3's data volume holds node2's bytes. Removed: nothing left; the
    cluster's disk parameters as before."""
    lc = storage_cluster
    name = "sync1"
    own_rate = own_resync_rate(lc)
    crashed = False
    minors: dict[str, int] = {}
    lv = ""
    try:
        set_resync_rate(lc, SLOW_KIB)
        lc.gnt(f"gnt-instance add -t drbd --no-install --no-start --no-wait-for-sync -o {OS}"
               f" -n node2:node3 --disk 0:size=256M -B maxmem=96M,minmem=96M {name}")
        timed(f"resync-rate {SLOW_KIB}, add (drbd, --no-wait-for-sync)")
        disk = instance_disk(lc, name)
        lv = disk["children"][0]["logical_id"][1]
        minors = {"node2": minor_on(lc, name, "node2"), "node3": minor_on(lc, name, "node3")}
        print("  node3's disk options:\n" + disk_options(lc, "node3", minors["node3"]))
        for node, minor in minors.items():
            assert pacing(lc, node, minor) == ("0", f"{SLOW_KIB}k"), node
        lc.gnt(f"gnt-instance activate-disks {name}")
        dev = link(lc, name)
        lc.run("node2", f"dd if=/dev/urandom of={dev} bs=1M count=8 oflag=direct status=none")
        timed("activate-disks, 8 MiB written")
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
        set_resync_rate(lc, own_rate)
        lc.gnt(f"gnt-instance activate-disks --wait-for-sync {name}")
        timed("default rate back, activate-disks --wait-for-sync (the resync completed)")
        for node, minor in minors.items():
            assert pacing(lc, node, minor) == ("0", f"{own_rate or 61440}k"), node
        wait_synced(lc, minors, timeout=60)
        lc.gnt(f"gnt-instance deactivate-disks {name}")
        assert checksum(lc, "node3", f"/dev/{VG}/{lv}", 256 << 20) == whole
        assert checksum(lc, "node2", f"/dev/{VG}/{lv}", 256 << 20) == whole
    finally:
        clean_up(lc, timed, name, "node3" if crashed else None)
        if own_resync_rate(lc) != own_rate:
            set_resync_rate(lc, own_rate)
    assert name not in instance_names(lc)
    for node, minor in minors.items():
        assert not any(n.startswith(lv) for n in lv_names(lc, node)), node
        assert minor not in drbd_lines(lc, node), node
