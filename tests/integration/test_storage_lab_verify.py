"""``gnt-cluster verify``'s LVM and DRBD checks against real guest nodes (issue 14): what the
node call reads with lvm2 and ``/proc/drbd`` on the guests, judged by the master.

On the session's mixed lab cluster (gnt_storagelab): a volume made behind the cluster's back
(reported, then silenced by ``--reserved-lvs``), an instance volume removed behind its back
(an error of the instance), a DRBD minor configured by hand (an unallocated minor in use).
Nothing boots: the instance is made with ``--no-install --no-start``. node1 is a namespace node
without lvm2 (its LVM line is Ganeti's answer for a VM-capable node without the volume group
and is left out here). Uses the slot of ``$GNT_LAB_SLOT``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster, verify_lines
from gnt_storagelab import OS, VG, instance_lvs, instance_names, skip_reason

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(900)]

STRAY_LV = "gnt-verify-stray"
STRAY_MINOR = 200
STRAY_RESOURCE = "gnt-verify-stray"


def storage_lines(lc: LabCluster) -> tuple[int, list[str]]:
    """verify's exit code and its findings about the guests' volumes and DRBD (but the
    usermode helper: with the hand-made minor up, a guest whose module was loaded with
    drbd-utils' default helper before any instance device rightly gets that line too)."""
    code, lines = verify_lines(lc)
    return code, [re.sub(r"^.*?(?=- (ERROR|WARNING): )", "", line.strip()) for line in lines
                  if ("node2" in line or "node3" in line or "vverify" in line)
                  and ("volume" in line or "drbd" in line or "LVM" in line)
                  and "usermode helper" not in line]


def test_verify_finds_unknown_and_missing_volumes_and_stray_minors(
        storage_cluster: LabCluster, timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    node2, node3 = lc.fqdn("node2"), lc.fqdn("node3")
    code, lines = storage_lines(lc)
    assert lines == [], lines
    timed("verify, healthy")
    try:
        lc.run("node3", f"lvcreate -q -y -L 8m -n {STRAY_LV} {VG} >/dev/null")
        code, lines = storage_lines(lc)
        assert lines == [f"- WARNING: node {node3}: volume {VG}/{STRAY_LV} is unknown"]
        lc.gnt(f"gnt-cluster modify --reserved-lvs '{VG}/gnt-verify-.*'")
        assert storage_lines(lc)[1] == []
        timed("unknown volume, reserved")

        lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o {OS} -n node2"
               " --disk 0:size=16M vverify")
        ((vg, lv),) = instance_lvs(lc, "vverify")
        lc.run("node2", f"lvremove -q -y {vg}/{lv} >/dev/null")
        code, lines = storage_lines(lc)
        assert lines == [f"- ERROR: instance vverify: volume {vg}/{lv} missing on node {node2}"]
        assert code == 1
        timed("missing volume")

        lc.run("node3", "grep -q '^drbd ' /proc/modules || modprobe drbd usermode_helper=/bin/true")
        # a minor with neither disk nor network is "Unconfigured" in /proc/drbd (not in use,
        # for Ganeti too): give it a network end that waits for a peer that never comes
        lc.run("node3", f"drbdsetup new-resource {STRAY_RESOURCE} && drbdsetup new-minor"
                        f" {STRAY_RESOURCE} {STRAY_MINOR} 0 && drbdsetup connect"
                        f" {STRAY_RESOURCE} ipv4:127.0.0.1:7999 ipv4:127.0.0.2:7999")
        code, lines = storage_lines(lc)
        assert f"- ERROR: node {node3}: unallocated drbd minor {STRAY_MINOR} is in use" in lines
        timed("stray drbd minor")
    finally:
        lc.run("node3", f"drbdsetup down {STRAY_RESOURCE} 2>/dev/null; lvremove -q -y"
                        f" {VG}/{STRAY_LV} >/dev/null 2>&1; true")
        lc.gnt("gnt-cluster modify --reserved-lvs ''", check=False)
        if "vverify" in instance_names(lc):
            lc.gnt("gnt-instance remove -f vverify", check=False)


def test_lvmstrap_on_a_guest_sees_its_volume_group_disk_and_refuses_to_wipe_it(
        storage_cluster: LabCluster) -> None:
    """``lvmstrap diskinfo`` on node2 (real sysfs, lvm2, mounts): the data disk is a physical
    volume of the cluster's group and in use, the root file system's disk in use; ``create``
    refuses an existing group, and (the guest has no other disk) finds no free disk for a new
    one, changing nothing."""
    lc = storage_cluster
    out = lc.run("node2", "lvmstrap diskinfo").stdout.splitlines()
    assert out[0] == "------- Disk information -------"
    rows = [line.split() for line in out[2:]]
    [pv_row] = [row for row in rows if row[4:6] == ["in", VG]]
    assert pv_row[2] == "yes"
    assert any(row[3] == "/" and row[2] == "yes" for row in rows), out
    pv_disk = pv_row[0]
    refused = lc.run("node2", f"lvmstrap -g othervg --disks {pv_disk} create", check=False)
    assert refused.returncode == 1 and "no free disks found" in refused.stderr
    exists = lc.run("node2", f"lvmstrap -g {VG} --disks {pv_disk} create", check=False)
    assert exists.returncode == 1 and f"volume group '{VG}' exists already" in exists.stderr
    assert lc.run("node2", "lvmstrap diskinfo").stdout.splitlines() == out
