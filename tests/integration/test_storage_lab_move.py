"""``gnt-instance move`` of plain instances on the mixed lab cluster of the storage tests
(gnt_storagelab: node1 the namespace master, node2 and node3 QEMU TCG guests with ``xenvg``).

The volume of a 64 MiB plain instance on node2 gets known data (random MiBs at both ends,
zeros between); node3's free extents are dirtied first, so its new volume starts with other
bytes and the zeros must really be written. After the move the volume on node3 has the same
SHA-256 as on node2 before, node2's is gone and the config says node3. A move to a node whose
volume group lacks the space is refused with Ganeti's exit code before anything changes.
Nothing boots (``--no-install --no-start``) but one OS-less domain (SeaBIOS idles: the first
MiB of its disk is zeros) in ``test_move_running_plain_instance``: shut down at once
(``--shutdown-timeout=0``), copied and started again on node3.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import OS, PREREQ_EXIT, VG, instance_lvs, lv_names, skip_reason

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1500)]

ADD = f"gnt-instance add --no-install --no-start -o {OS} -t plain --disk 0:size=64M -n node2"
DIRT = "gnt-test-dirt"
FILLER = "gnt-test-filler"


def _sha256(lc: LabCluster, node: str, device: str) -> str:
    return lc.run(node, f"sha256sum {device}").stdout.split()[0]


def _vg_free_mib(lc: LabCluster, node: str) -> int:
    out = lc.run(node, f"vgs --noheadings --units m --nosuffix -o vg_free {VG}").stdout
    return int(float(out.strip()))


def _pnode(lc: LabCluster, name: str) -> str:
    return lc.gnt(f"gnt-instance list --no-headers -o pnode {name}").stdout.strip()


def test_move_plain_instance_copies_its_volume(storage_cluster: LabCluster,
                                               timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    lc.gnt(f"{ADD} mv1")
    timed("add (plain, 64 MiB, node2)")
    lv = "-"
    try:
        _vg, lv = instance_lvs(lc, "mv1")[0]
        dev = f"/dev/{VG}/{lv}"
        lc.run("node2", f"dd if=/dev/urandom of={dev} bs=1M count=4 conv=fsync status=none"
                        f" && dd if=/dev/zero of={dev} bs=1M seek=4 count=57 conv=fsync"
                        f" status=none && dd if=/dev/urandom of={dev} bs=1M seek=61 count=3"
                        " conv=fsync status=none")
        before = _sha256(lc, "node2", dev)
        # node3's next extents hold other bytes: its new volume is not zero to begin with
        lc.run("node3", f"lvcreate -y -L 64m -n {DIRT} {VG} >/dev/null && dd if=/dev/urandom"
                        f" of=/dev/{VG}/{DIRT} bs=1M count=64 conv=fsync status=none"
                        f" && lvremove -f {VG}/{DIRT} >/dev/null")
        timed("data written on node2, node3's free space dirtied")
        moved = lc.gnt("gnt-instance move -f -n node3 mv1")
        timed("move node2 -> node3")
        print(moved.stdout + moved.stderr)      # the job's log: the copy's time and rate
        assert "disk/0: copied 64 MiB to node3" in moved.stdout + moved.stderr
        assert lv in lv_names(lc, "node3") and lv not in lv_names(lc, "node2")
        assert _sha256(lc, "node3", dev) == before
        assert _pnode(lc, "mv1").split(".")[0] == "node3"
        cfg = lc.config()
        node3 = next(u for u, n in cfg["nodes"].items() if n["name"].split(".")[0] == "node3")
        inst = next(i for i in cfg["instances"].values() if i["name"].startswith("mv1"))
        assert inst["primary_node"] == node3
        assert cfg["disks"][inst["disks"][0]]["nodes"] == [node3]
        assert cfg["disks"][inst["disks"][0]]["logical_id"] == [VG, lv]
        timed("checked (sha256 on node3, lvs on both, pnode)")
    finally:
        lc.gnt("gnt-instance remove -f mv1", check=False)
        timed("remove")
    assert lv not in lv_names(lc, "node3") | lv_names(lc, "node2")


def test_move_running_plain_instance(storage_cluster: LabCluster,
                                     timed: Callable[[str], None]) -> None:
    """A running plain instance (an OS-less domain on node2) is stopped, its volume copied,
    and it runs on node3 afterwards: the same bytes there, no domain and no volume left on
    node2, the config says node3 and up."""
    lc = storage_cluster
    lc.gnt(f"gnt-instance add --no-install --no-start -o {OS} -t plain --disk 0:size=32M"
           " -n node2 -B maxmem=96M,minmem=96M mv3")
    timed("add (plain, 32 MiB, node2)")
    lv = "-"
    try:
        _vg, lv = instance_lvs(lc, "mv3")[0]
        dev = f"/dev/{VG}/{lv}"
        # zeros first (no boot sector for SeaBIOS to try), then random bytes to the end
        lc.run("node2", f"dd if=/dev/zero of={dev} bs=1M count=1 conv=fsync status=none"
                        f" && dd if=/dev/urandom of={dev} bs=1M seek=1 count=31 conv=fsync"
                        " status=none")
        before = _sha256(lc, "node2", dev)
        lc.gnt("gnt-instance startup mv3")
        timed("startup on node2")
        assert lc.domains("node2")["mv3"] == "running"
        moved = lc.gnt("gnt-instance move -f --shutdown-timeout=0 -n node3 mv3")
        timed("move node2 -> node3 (running)")
        print(moved.stdout + moved.stderr)
        assert "disk/0: copied 32 MiB to node3" in moved.stdout + moved.stderr
        assert lc.domains("node3")["mv3"] == "running"
        assert "mv3" not in lc.domains("node2")
        assert lv in lv_names(lc, "node3") and lv not in lv_names(lc, "node2")
        assert _sha256(lc, "node3", dev) == before      # the domain idles: nothing written
        out = lc.gnt("gnt-instance list --no-headers -o pnode,admin_state mv3").stdout.split()
        assert out == ["node3.lab.example", "up"], out
        timed("checked (domains, lvs, sha256 on node3, pnode)")
    finally:
        lc.gnt("gnt-instance remove -f --shutdown-timeout 0 mv3", check=False)
        timed("remove")
    assert lv not in lv_names(lc, "node3") | lv_names(lc, "node2")
    assert "mv3" not in lc.domains("node3")


def test_move_plain_instance_without_space_refused(storage_cluster: LabCluster,
                                                   timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    lc.gnt(f"{ADD} mv2")
    timed("add (plain, 64 MiB, node2)")
    try:
        _vg, lv = instance_lvs(lc, "mv2")[0]
        lc.run("node3", f"lvcreate -y -L {_vg_free_mib(lc, 'node3') - 32}m -n {FILLER} {VG}")
        free = _vg_free_mib(lc, "node3")
        assert free < 64
        serial = lc.config()["serial_no"]
        proc = lc.gnt("gnt-instance move -f -n node3 mv2", check=False)
        timed("move refused")
        text = proc.stdout + proc.stderr
        assert proc.returncode == PREREQ_EXIT, text
        assert "Not enough disk space on target node node3" in text, text
        assert f"vg {VG}: required 64 MiB, available" in text, text
        assert lc.config()["serial_no"] == serial
        assert _pnode(lc, "mv2").split(".")[0] == "node2"
        assert lv in lv_names(lc, "node2") and lv not in lv_names(lc, "node3")
    finally:
        lc.run("node3", f"lvremove -f {VG}/{FILLER}", check=False)
        lc.gnt("gnt-instance remove -f mv2", check=False)
        timed("remove")
