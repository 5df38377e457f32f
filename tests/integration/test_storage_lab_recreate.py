"""``gnt-instance recreate-disks`` on the mixed lab cluster of the storage tests (gnt_storagelab:
node1 the namespace master, node2 and node3 QEMU TCG guests with DRBD 8.4 and ``xenvg``).

Disks are lost behind the cluster's back (``drbdsetup down`` and ``lvremove`` on the guests);
recreate-disks makes them again, empty, with the configured (or a new) size; while a volume of
the disk still exists it is refused before anything changes. Nothing boots (``--no-install
--no-start``), disks are 64 MiB.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import OS, PREREQ_EXIT, VG, lv_names, skip_reason

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1500)]

ADD = f"gnt-instance add --no-install --no-start -o {OS} --disk 0:size=64M"


def _disk(lc: LabCluster, name: str) -> dict:
    """The first disk object of instance ``name`` in the master's configuration."""
    cfg = lc.config()
    inst = next(i for i in cfg["instances"].values() if i["name"] == name)
    return dict(cfg["disks"][inst["disks"][0]])


def _node_uuid(lc: LabCluster, node: str) -> str:
    return next(u for u, n in lc.config()["nodes"].items() if n["name"].split(".")[0] == node)


def _lv_size_mib(lc: LabCluster, node: str, lv: str) -> int:
    out = lc.run(node, f"lvs --noheadings --units m --nosuffix -o lv_size {VG}/{lv}").stdout
    return int(float(out.strip()))


def _proc_drbd(lc: LabCluster, node: str) -> dict[int, str]:
    """minor -> its status line of ``/proc/drbd`` on ``node``."""
    out = lc.run(node, "cat /proc/drbd 2>/dev/null || true").stdout
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+): (cs:.*)$", out, re.M)}


def test_recreate_lost_plain_disk_with_a_new_size(storage_cluster: LabCluster,
                                                  timed: Callable[[str], None]) -> None:
    """A plain instance's LV removed on node2 is recreated (96 MiB, as asked); once it exists,
    another recreate-disks is refused naming the volume, with Ganeti's exit code and the
    config unchanged."""
    lc = storage_cluster
    lc.gnt(f"{ADD} -t plain -n node2 rec1")
    timed("add (plain)")
    try:
        lv = _disk(lc, "rec1")["logical_id"][1]
        lc.run("node2", f"lvremove -f {VG}/{lv}")
        assert lv not in lv_names(lc, "node2")
        lc.gnt("gnt-instance recreate-disks --disk 0:size=96M rec1")
        timed("recreate-disks (plain)")
        assert _lv_size_mib(lc, "node2", lv) == 96
        assert _disk(lc, "rec1")["size"] == 96
        serial = lc.config()["serial_no"]
        proc = lc.gnt("gnt-instance recreate-disks rec1", check=False)
        timed("recreate-disks refused (LV exists)")
        text = proc.stdout + proc.stderr
        assert proc.returncode == PREREQ_EXIT, text
        assert f"{VG}/{lv}" in text and "still exist" in text, text
        assert lc.config()["serial_no"] == serial
    finally:
        lc.gnt("gnt-instance remove -f rec1", check=False)
        timed("remove")


def test_recreate_lost_drbd_disks_on_swapped_nodes(storage_cluster: LabCluster,
                                                   timed: Callable[[str], None]) -> None:
    """A drbd instance (node2:node3) loses its devices and volumes on both nodes;
    recreate-disks -n node3:node2 makes them again with node3 as the primary and new minors,
    the port kept; activated, both ends are UpToDate."""
    lc = storage_cluster
    lc.gnt(f"{ADD} -t drbd -n node2:node3 --no-wait-for-sync rec2")
    timed("add (drbd)")
    data = meta = "-"
    try:
        before = _disk(lc, "rec2")
        data, meta = (child["logical_id"][1] for child in before["children"])
        old_minors = {"node2": before["logical_id"][3], "node3": before["logical_id"][4]}
        for node, minor in old_minors.items():
            lc.run(node, f"drbdsetup down resource{minor}")
            lc.run(node, f"lvremove -f {VG}/{data} {VG}/{meta}")
            assert not {data, meta} & lv_names(lc, node), node
        lc.gnt("gnt-instance recreate-disks -n node3:node2 rec2")
        timed("recreate-disks -n (drbd, waits for the resync)")
        after = _disk(lc, "rec2")
        lid = after["logical_id"]
        assert lc.instance_node("rec2") == "node3"
        assert lid[0] == _node_uuid(lc, "node3") and lid[1] == _node_uuid(lc, "node2")
        assert lid[2] == before["logical_id"][2]                     # the port is kept
        new_minors = {"node3": lid[3], "node2": lid[4]}
        for node in ("node2", "node3"):
            assert {data, meta} <= lv_names(lc, node), node
            assert new_minors[node] not in _proc_drbd(lc, node)     # stopped: down again
        out = lc.gnt("gnt-instance activate-disks rec2").stdout
        timed("activate-disks")
        assert f"/dev/drbd{new_minors['node3']}" in out, out
        assert "ro:Primary/Secondary ds:UpToDate/UpToDate" in \
            _proc_drbd(lc, "node3")[new_minors["node3"]]
        assert "ro:Secondary/Primary ds:UpToDate/UpToDate" in \
            _proc_drbd(lc, "node2")[new_minors["node2"]]
    finally:
        lc.gnt("gnt-instance remove -f rec2", check=False)
        timed("remove")
    for node in ("node2", "node3"):
        assert not {data, meta} & lv_names(lc, node), node
