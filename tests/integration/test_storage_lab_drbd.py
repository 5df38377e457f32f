"""drbd instances on the mixed lab cluster of the storage tests (gnt_storagelab: node1 the
namespace master, node2 and node3 QEMU TCG guests with DRBD 8.4 and ``xenvg``): every gnt
command runs on node1 as an operator would type it; what happened is checked on the guests
(``/proc/drbd``, ``lvs``, ``blockdev``, checksums of the data through the device).

Each gnt command that reaches the guests costs 20-100 s (Ansible's modules run under nested
TCG), so one instance goes through a whole life in ``test_drbd_lifecycle_keeps_the_data``.
What boots: nothing there (``--no-install --no-start``: the data is written to the device
directly) but one OS-less domain (SeaBIOS idles), started on node3 and live-migrated to
node2 in the same test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import (
    OS,
    PREREQ_EXIT,
    VG,
    instance_disk,
    instance_names,
    lv_names,
    skip_reason,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1500)]

ADD = f"gnt-instance add -t drbd --no-install -o {OS}"


def drbd_lines(lc: LabCluster, node: str) -> dict[int, str]:
    """minor -> its status line of ``/proc/drbd`` on ``node`` (empty: module not loaded)."""
    out = lc.run(node, "cat /proc/drbd 2>/dev/null || true").stdout
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+): (cs:.*)$", out, re.M)}


def minor_on(lc: LabCluster, name: str, node: str) -> int:
    """The instance's first disk's DRBD minor on ``node`` (node1..3)."""
    cfg = lc.config()
    disk = instance_disk(lc, name)
    uuid = next(u for u, n in cfg["nodes"].items() if n["name"].split(".")[0] == node)
    lid = disk["logical_id"]
    return int(lid[3] if lid[0] == uuid else lid[4])


def link(lc: LabCluster, name: str) -> str:
    """The device link the domain uses (the same path on both nodes)."""
    return f"{lc.lab.node('node2').gnt_root}/var/run/gnt/instance-disks/{name}:0"


def _checksum(lc: LabCluster, node: str, path: str) -> str:
    """sha256 of the first 8 MiB of ``path`` on ``node``."""
    return lc.run(node, f"head -c 8388608 {path} | sha256sum").stdout.split()[0]


def test_drbd_lifecycle_keeps_the_data(storage_cluster: LabCluster,
                                       timed: Callable[[str], None]) -> None:
    """A plain instance on node2 with 8 MiB of random data: converted to drbd with node3 as
    secondary (the LV becomes the data volume, resynced to node3), failed over (stopped), its
    disks activated on node3 (which prints its device, as Ganeti) and the data read there;
    grown on both nodes; replace-disks -s (node2) and -p (node3) give new volumes under the
    same names; deactivated. Then started on node3 (an OS-less domain: SeaBIOS idles) and
    live-migrated to node2 (two primaries only meanwhile); the secondary's device torn down
    by hand is found and activated again by gnt-cluster verify-disks; stopped and converted
    back to plain on node2. The checksum is the same at every step, and nothing is left over
    on either node at the end. (One instance for all of it: each command that reaches the
    guests costs 15-90 s.)"""
    lc = storage_cluster
    lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o {OS} -n node2"
           " --disk 0:size=64M -B maxmem=96M,minmem=96M life1")
    timed("add (plain)")
    try:
        lv = instance_disk(lc, "life1")["logical_id"][1]
        written = lc.run("node2", f"dd if=/dev/urandom of=/dev/{VG}/{lv} bs=1M count=8"
                                  " oflag=direct status=none && head -c 8388608"
                                  f" /dev/{VG}/{lv} | sha256sum").stdout.split()[0]
        lc.gnt("gnt-instance modify -t drbd -n node3 life1")
        timed("modify -t drbd (with the initial resync)")
        disk = instance_disk(lc, "life1")
        assert disk["dev_type"] == "drbd" and disk["children"][0]["logical_id"][1] == lv
        meta = disk["children"][1]["logical_id"][1]
        for node in ("node2", "node3"):
            assert {lv, meta} <= lv_names(lc, node), node
        p_minor, s_minor = minor_on(lc, "life1", "node2"), minor_on(lc, "life1", "node3")
        rows = lc.gnt("gnt-node list-drbd --no-headers node2").stdout.split()
        assert rows[:6] == ["node2.lab.example", str(p_minor), "life1", "0", "primary",
                            "node3.lab.example"], rows
        assert p_minor not in drbd_lines(lc, "node2")          # stopped: disks down again

        lc.gnt("gnt-instance failover -f life1")
        timed("failover (stopped)")
        assert lc.instance_node("life1") == "node3"
        out = lc.gnt("gnt-instance activate-disks life1").stdout
        timed("activate-disks")
        # the job's progress lines come first, as with every command; then the devices
        assert out.strip().splitlines()[-1] == f"node3.lab.example:disk/0:/dev/drbd{s_minor}", \
            out
        assert "ro:Primary/Secondary ds:UpToDate/UpToDate" in drbd_lines(lc, "node3")[s_minor]
        dev = link(lc, "life1")
        assert _checksum(lc, "node3", dev) == written

        lc.gnt("gnt-instance grow-disk life1 0 32M")
        timed("grow-disk")
        # sysfs, not blockdev: DRBD 8.4 refuses to open a Secondary device at all
        for node, minor in (("node3", s_minor), ("node2", p_minor)):
            sectors = lc.run(node, f"cat /sys/block/drbd{minor}/size").stdout.strip()
            assert int(sectors) * 512 == 96 << 20, (node, sectors)
        assert instance_disk(lc, "life1")["size"] == 96

        uuids = {node: lc.run(node, f"lvs --noheadings -o lv_name,lv_uuid {VG}").stdout
                 for node in ("node2", "node3")}
        for flag, node in (("-s", "node2"), ("-p", "node3")):
            lc.gnt(f"gnt-instance replace-disks {flag} life1")
            timed(f"replace-disks {flag}")
            after = lc.run(node, f"lvs --noheadings -o lv_name,lv_uuid {VG}").stdout
            names = lv_names(lc, node)
            assert {lv, meta} <= names
            assert not any("_replaced" in n or n.endswith("_new") for n in names), names
            for name in (lv, meta):      # the same names, new volumes
                old = re.search(rf"{re.escape(name)}\s+(\S+)", uuids[node]).group(1)
                new = re.search(rf"{re.escape(name)}\s+(\S+)", after).group(1)
                assert old != new, name
        assert "ds:UpToDate/UpToDate" in drbd_lines(lc, "node3")[s_minor]
        assert _checksum(lc, "node3", dev) == written

        lc.gnt("gnt-instance deactivate-disks life1")
        timed("deactivate-disks")
        assert s_minor not in drbd_lines(lc, "node3")
        assert p_minor not in drbd_lines(lc, "node2")

        lc.gnt("gnt-instance start life1")
        timed("start")
        assert lc.domains("node3")["life1"] == "running"
        p_minor, s_minor = minor_on(lc, "life1", "node2"), minor_on(lc, "life1", "node3")
        lc.gnt("gnt-instance migrate -f life1")
        timed("live migration")
        assert lc.instance_node("life1") == "node2"
        assert lc.domains("node2")["life1"] == "running"
        assert "life1" not in lc.domains("node3") or lc.domains("node3")["life1"] != "running"
        assert "ro:Primary/Secondary" in drbd_lines(lc, "node2")[p_minor]
        assert "ro:Secondary/Primary" in drbd_lines(lc, "node3")[s_minor]
        show = lc.run("node2", f"drbdsetup show {p_minor}").stdout
        assert "allow-two-primaries" not in show, show
        assert lc.gnt("gnt-cluster verify-disks").stdout.strip() == \
            "No disks need to be activated."
        lc.run("node3", f"drbdsetup down resource{s_minor}")    # the role names resources so
        assert s_minor not in drbd_lines(lc, "node3")
        out = lc.gnt("gnt-cluster verify-disks").stdout
        timed("verify-disks activating")
        assert "Activating disks for instance 'life1'" in out, out
        assert "ro:Secondary/Primary" in drbd_lines(lc, "node3")[s_minor]
        lc.gnt("gnt-instance stop --timeout 0 life1")
        timed("stop")

        lc.gnt("gnt-instance modify -t plain life1")
        timed("modify -t plain")
        assert instance_disk(lc, "life1")["dev_type"] == "plain"
        assert lv in lv_names(lc, "node2") and meta not in lv_names(lc, "node2")
        assert not {lv, meta} & lv_names(lc, "node3")
        assert _checksum(lc, "node2", f"/dev/{VG}/{lv}") == written
    finally:
        lc.gnt("gnt-instance remove -f --shutdown-timeout 0 life1", check=False)
        timed("remove")
    assert "life1" not in instance_names(lc)
    for node in ("node2", "node3"):
        assert not any(name.startswith(lv) for name in lv_names(lc, node)), node
        assert lc.gnt(f"gnt-node list-drbd --no-headers {node}").stdout.strip() == ""


@pytest.mark.parametrize("nodes, message", [
    ("node2", r"The networked disk templates need a mirror node"),
    ("node2:node2", r"The secondary node cannot be the primary node"),
])
def test_bad_drbd_requests_are_refused(storage_cluster: LabCluster, nodes: str,
                                       message: str) -> None:
    """Refused before anything is made: Ganeti's exit code, config serial unchanged."""
    lc = storage_cluster
    serial, lvs = lc.config()["serial_no"], lv_names(lc, "node2")
    proc = lc.gnt(f"{ADD} --no-start -n {nodes} --disk 0:size=64M bad2", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == PREREQ_EXIT, text
    assert re.search(message, text), text
    assert lc.config()["serial_no"] == serial and lv_names(lc, "node2") == lvs
