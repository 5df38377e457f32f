"""replace-disks of a drbd instance to a third node and after a lost disk, on the mixed lab
cluster of the storage tests (gnt_storagelab: node1 the namespace master, node2 and node3
QEMU TCG guests with DRBD 8.4 and ``xenvg``, node4 a third guest booted outside the cluster).

node4 (paused while outside the cluster) resumed and ``gnt-node add node4``, then a drbd
instance node2:node3 with 8 MiB of random data written through node2's Primary device:
``replace-disks -n node4`` makes node4 the secondary (new volumes and minor there, node3's
volumes and minor gone, resynced), and the data read from node4's data volume is the same.
Then node4's disk is lost under DRBD (``drbdsetup detach``, what DRBD does on an I/O error:
the end goes Diskless): ``replace-disks -a`` finds the faulty end on node4 alone, gives it new
volumes (one lvm_volume call per step for all of them) and resyncs them from node2, with the
same data again. Removed, node4 removed from the cluster and paused again. What boots:
nothing (``--no-start``: the devices are used directly).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import (
    instance_disk,
    instance_names,
    lv_names,
    skip_reason,
    spare_guest,
)
from test_storage_lab_drbd import drbd_lines, link, minor_on

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1500)]

NAME = "rpl1"
MIB8 = 8 << 20


def _data_sha(lc: LabCluster, node: str, name: str) -> str:
    """sha256 of the first 8 MiB of the instance's data volume on ``node``, read past the
    page cache."""
    vg, lv = instance_disk(lc, name)["children"][0]["logical_id"]
    return lc.run(node, f"dd if=/dev/{vg}/{lv} bs=1M count=8 iflag=direct status=none"
                        " | sha256sum").stdout.split()[0]


def _synced(lc: LabCluster, node: str, minor: int) -> str:
    return drbd_lines(lc, node).get(minor, "")


def test_replace_to_a_third_node_then_after_a_lost_disk(storage_cluster: LabCluster,
                                                        timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    with spare_guest(lc) as spare:
        timed(f"resume {spare}")
        _replace_to_a_third_node_then_after_a_lost_disk(lc, spare, timed)


def _replace_to_a_third_node_then_after_a_lost_disk(lc: LabCluster, spare: str,
                                                    timed: Callable[[str], None]) -> None:
    lc.gnt(f"gnt-node add {spare}")
    timed(f"gnt-node add {spare}")
    try:
        lc.gnt(f"gnt-instance add -t drbd --no-install --no-start -o blank -n node2:node3"
               f" --disk 0:size=64M {NAME}")
        timed("add (drbd, initial resync)")
        lc.gnt(f"gnt-instance activate-disks {NAME}")
        written = lc.run("node2", f"dd if=/dev/urandom of={link(lc, NAME)} bs=1M count=8"
                                  " oflag=direct status=none && sync && head -c"
                                  f" {MIB8} {link(lc, NAME)} | sha256sum").stdout.split()[0]
        old_lvs = {child["logical_id"][1] for child in instance_disk(lc, NAME)["children"]}
        old_minor = minor_on(lc, NAME, "node3")

        lc.gnt(f"gnt-instance replace-disks -n {spare} {NAME}")
        timed(f"replace-disks -n {spare}")
        disk = instance_disk(lc, NAME)
        assert lc.fqdn(spare) in [n["name"] for n in lc.config()["nodes"].values()
                                  if n["uuid"] in disk["logical_id"][:2]]
        new_lvs = {child["logical_id"][1] for child in disk["children"]}
        assert new_lvs <= lv_names(lc, spare)
        assert not (old_lvs | new_lvs) & lv_names(lc, "node3")       # node3 let go
        assert old_minor not in drbd_lines(lc, "node3")
        rows = lc.gnt(f"gnt-node list-drbd --no-headers {spare}").stdout.split()
        assert rows[2:5] == [NAME, "0", "secondary"], rows
        minor = minor_on(lc, NAME, spare)
        assert "ds:UpToDate/UpToDate" in _synced(lc, spare, minor)
        assert _data_sha(lc, spare, NAME) == written

        lc.run(spare, f"drbdsetup detach {minor}")      # the disk is gone under DRBD
        assert re.search(r"ds:Diskless/UpToDate", _synced(lc, spare, minor))
        before = lv_names(lc, spare) & new_lvs
        out = lc.gnt(f"gnt-instance replace-disks -a {NAME}").stdout
        timed("replace-disks -a")
        assert "ds:UpToDate/UpToDate" in _synced(lc, spare, minor), out
        assert before <= lv_names(lc, spare)             # the same names, new volumes
        assert not any("_replaced" in n for n in lv_names(lc, spare))
        assert _data_sha(lc, spare, NAME) == written
        assert "No disks need replacement" in \
            lc.gnt(f"gnt-instance replace-disks -a {NAME}").stdout
    finally:
        lc.gnt(f"gnt-instance remove -f --shutdown-timeout 0 {NAME}", check=False)
        lc.gnt(f"gnt-node remove {spare}", check=False)
        timed("clean up")
    assert NAME not in instance_names(lc)
    assert lc.fqdn(spare) not in [n["name"] for n in lc.config()["nodes"].values()]
    assert not new_lvs & lv_names(lc, spare)
