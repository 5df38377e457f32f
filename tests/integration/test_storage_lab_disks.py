"""A lost physical volume repaired with ``gnt-node repair-storage``, and disks added to and
removed from plain and drbd instances with ``gnt-instance modify --disk``, on the mixed lab
cluster of the storage tests (gnt_storagelab: node1 the namespace master, node2 and node3 QEMU
TCG guests with ``xenvg`` on their data disk and DRBD 8.4). Every gnt command runs on node1 as
an operator would type it there; what happened is checked on the guests (``vgs``, ``pvs``,
``lvs``, ``/proc/drbd``, checksums read from the volumes).

What boots: nothing. The instances are made with ``--no-install --no-start``; the data of a
drbd instance's first disk is written through its DRBD device after ``activate-disks``.

The lost PV is a loop device on a file in node3's root file system (the lab's disks are not
touched): LVM's filter there admits only the data disk, so ``/etc/lvm/lvmlocal.conf`` also
admits loop devices while the test runs; the loop device is detached (as a failed disk
disappears) with nothing open on it. Everything is undone at the end whatever happens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gnt_labcluster import LabCluster, verify_lines
from gnt_storagelab import (
    OS,
    PREREQ_EXIT,
    VG,
    instance_lvs,
    instance_names,
    lv_names,
    skip_reason,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1800)]

IMAGE = "/var/tmp/gnt-lab-lost-pv.img"      # the lost PV's backing file on node3
LOST_LV = "gntlostlv"                         # the volume on the lost PV, adopted
LVMLOCAL = "/etc/lvm/lvmlocal.conf"
EIGHT_MIB = 8 << 20


def _fails(lc: LabCluster, command: str, message: str, code: int = PREREQ_EXIT) -> str:
    """Run a gnt command that must fail with ``code`` and ``message`` (a regex)."""
    proc = lc.gnt(command, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == code, text
    assert "Traceback" not in text
    assert re.search(message, text), text
    return text


def _rows(text: str) -> list[list[str]]:
    """The lines of a ``--no-headers`` gnt table without WARNING lines, split on blanks."""
    return [line.split() for line in text.splitlines()
            if line.strip() and "WARNING:" not in line]


def _vg(lc: LabCluster, node: str, fields: str) -> list[str]:
    return lc.run(node, f"vgs --noheadings --units m --nosuffix -o {fields} {VG}"
                  ).stdout.split()


# -- a removed PV ---------------------------------------------------------------------------


def _undo_lost_pv(lc: LabCluster) -> None:
    """Whatever state the lost-PV test left node3 in: no loop PV in ``xenvg``, no missing PV,
    no backing file, LVM's filter as the lab made it."""
    lc.run("node3", f"""
        loop=$(losetup -j {IMAGE} -O NAME --noheadings 2>/dev/null | head -n1)
        lvremove -q -y {VG}/{LOST_LV} >/dev/null 2>&1
        if [ -n "$loop" ]; then
            vgreduce -q {VG} "$loop" >/dev/null 2>&1; pvremove -q -y "$loop" >/dev/null 2>&1
            losetup -d "$loop"
        fi
        if [ "$(vgs --noheadings -o vg_missing_pv_count {VG} | tr -d ' ')" != 0 ]; then
            vgreduce -q --removemissing --force {VG}
        fi
        rm -f {IMAGE}
        if [ -e {LVMLOCAL}.gnt-lab ]; then mv {LVMLOCAL}.gnt-lab {LVMLOCAL}; fi
        true""", check=False)


@pytest.fixture
def lost_pv(storage_cluster: LabCluster) -> Iterator[dict[str, Any]]:
    """node3's ``xenvg`` extended by a 160 MiB loop PV holding a 16 MiB volume adopted by the
    instance ``lostpv1`` (not started), whose loop device is then detached:
    ``{"size": VG size before (MiB), "pv": the loop device, "lv": lostpv1's volume}``.
    Undone at the end (the instance removed, :func:`_undo_lost_pv`)."""
    lc = storage_cluster
    size = float(_vg(lc, "node3", "vg_size")[0])
    try:
        loop = lc.run("node3", f"""set -e
            cp -p {LVMLOCAL} {LVMLOCAL}.gnt-lab
            sed -i 's#"r|\\.\\*|"#"a|^/dev/loop[0-9]+$|", "r|.*|"#' {LVMLOCAL}
            grep -q 'dev/loop' {LVMLOCAL}
            modprobe loop 2>/dev/null || true
            truncate -s 160M {IMAGE}
            loop=$(losetup -f --show {IMAGE})
            pvcreate -q -y "$loop" >/dev/null
            vgextend -q {VG} "$loop" >/dev/null
            lvcreate -q -y -Wn -L 16m -n {LOST_LV} {VG} "$loop" >/dev/null
            echo "$loop" """).stdout.split()[-1]
        assert float(_vg(lc, "node3", "vg_size")[0]) > size
        lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o {OS} -n node3"
               f" --disk 0:adopt={LOST_LV} lostpv1")
        ((_vg_name, lv),) = instance_lvs(lc, "lostpv1")
        pvs = lc.run("node3", f"pvs --noheadings -o pv_name,lv_name {loop}").stdout.split()
        assert pvs[:2] == [loop, lv], pvs
        # the disk fails: nothing open on it, its device gone
        lc.run("node3", f"lvchange -q -an {VG}/{lv} && losetup -d {loop}")
        yield {"size": size, "pv": loop, "lv": lv}
    finally:
        if "lostpv1" in instance_names(lc):
            lc.gnt("gnt-instance remove -f lostpv1", check=False)
        _undo_lost_pv(lc)
        assert _vg(lc, "node3", "vg_missing_pv_count") == ["0"]


def _node3_storage_lines(lc: LabCluster) -> list[str]:
    """gnt-cluster verify's findings about node3's volumes and lostpv1."""
    _code, lines = verify_lines(lc)
    return [re.sub(r"^.*?(?=- (ERROR|WARNING): )", "", line.strip()) for line in lines
            if ("node3" in line or "lostpv1" in line)
            and ("volume" in line or "LVM" in line)]


def test_a_lost_pv_is_removed_by_repair_storage(storage_cluster: LabCluster,
                                                lost_pv: dict[str, Any],
                                                timed: Callable[[str], None]) -> None:
    """node3's VG misses a PV, and the (stopped) instance lostpv1's volume on it is partial:
    list-storage still shows the VG and lists the missing PV as LVM names it, ``[unknown]``,
    and gnt-cluster verify finds nothing about node3's volumes (both as Ganeti's, whose
    reports are ``vgs``/``pvs``/``lvs``'). repair-storage removes the PV and the volume lost
    with it (``vgreduce --removemissing``, ``--force`` as Ganeti's): the VG is whole again,
    verify reports lostpv1's volume missing, and recreate-disks makes it again. Repairing a
    healthy VG changes nothing; bad requests are refused with Ganeti's messages and exit
    codes, nothing changed."""
    lc = storage_cluster
    lv = lost_pv["lv"]
    timed("a loop PV added to node3's xenvg, its volume adopted, the PV lost")
    missing, attr = _vg(lc, "node3", "vg_missing_pv_count,vg_attr")
    assert missing == "1" and attr[3] == "p", (missing, attr)     # partial
    lv_attr = lc.run("node3", f"lvs --noheadings -o lv_attr {VG}/{lv}").stdout.strip()
    assert lv_attr[8] == "p", lv_attr

    vgs = _rows(lc.gnt("gnt-node list-storage --no-headers -t lvm-vg node3").stdout)
    pvs = _rows(lc.gnt("gnt-node list-storage --no-headers -t lvm-pv node3").stdout)
    timed("list-storage lvm-vg, lvm-pv")
    assert [row[:3] for row in vgs] == [["node3.lab.example", "lvm-vg", VG]], vgs
    names = sorted(row[2] for row in pvs)
    assert names == ["/dev/vdb", "[unknown]"], pvs
    assert _node3_storage_lines(lc) == []
    timed("gnt-cluster verify")

    serial = lc.config()["serial_no"]
    out = lc.gnt("gnt-node repair-storage node3 lvm-vg xenvg")
    timed("repair-storage")
    assert "Repairing storage unit 'xenvg' on node3.lab.example" in out.stdout + out.stderr
    assert _vg(lc, "node3", "vg_missing_pv_count,vg_attr") == ["0", "wz--n-"]
    assert float(_vg(lc, "node3", "vg_size")[0]) == lost_pv["size"]
    assert lv not in lv_names(lc, "node3")
    pvs = _rows(lc.gnt("gnt-node list-storage --no-headers -t lvm-pv node3").stdout)
    assert [row[2] for row in pvs] == ["/dev/vdb"], pvs
    lc.gnt("gnt-node repair-storage node3 lvm-vg xenvg")     # healthy: nothing to do
    timed("list-storage, repair-storage of a healthy VG")
    assert _vg(lc, "node3", "vg_missing_pv_count,vg_size") == ["0", f"{lost_pv['size']:.2f}"]

    _fails(lc, "gnt-node repair-storage node3 file /srv",
           r"Storage units of type 'file' can not be repaired")
    _fails(lc, "gnt-node repair-storage node3 lvm-pv /dev/vdb",
           r"Storage units of type 'lvm-pv' can not be repaired")
    _fails(lc, "gnt-node repair-storage node3 nosuchtype xenvg",
           r"Unknown storage type: nosuchtype")
    _fails(lc, "gnt-node repair-storage nosuchnode lvm-vg xenvg",
           r"Node 'nosuchnode' not known")
    _fails(lc, "gnt-node repair-storage node3 lvm-vg nosuchvg",
           r"Failed to repair storage unit 'nosuchvg' on node3\.lab\.example:"
           r"(.|\n)*nosuchvg")
    timed("bad requests")
    assert lc.config()["serial_no"] == serial
    assert _vg(lc, "node3", "vg_missing_pv_count,vg_size") == ["0", f"{lost_pv['size']:.2f}"]

    assert _node3_storage_lines(lc) == [
        f"- ERROR: instance lostpv1: volume {VG}/{lv} missing on node node3.lab.example"]
    lc.gnt("gnt-instance recreate-disks lostpv1")
    timed("verify, recreate-disks")
    assert lv in lv_names(lc, "node3") and _lv_mib(lc, "node3", lv) == 16.0
    devices = lc.run("node3", f"lvs --noheadings -o devices {VG}/{lv}").stdout.strip()
    assert devices.startswith("/dev/vdb("), devices


# -- disks added and removed ----------------------------------------------------------------


def _sha(lc: LabCluster, node: str, path: str) -> str:
    """sha256 of the first 8 MiB of ``path`` on ``node``."""
    return lc.run(node, f"head -c {EIGHT_MIB} {path} | sha256sum").stdout.split()[0]


def _lv_mib(lc: LabCluster, node: str, lv: str) -> float:
    return float(lc.run(node, f"lvs --noheadings --units m --nosuffix -o lv_size {VG}/{lv}"
                        ).stdout)


def _disk_lvs(lc: LabCluster, name: str) -> list[list[str]]:
    """The LV names of each disk of an instance (plain: one; drbd: data and meta)."""
    cfg = lc.config()
    inst = next(i for i in cfg["instances"].values() if i["name"] == name)
    disks = [cfg["disks"][uuid] for uuid in inst["disks"]]
    return [[child["logical_id"][1] for child in disk.get("children") or [disk]]
            for disk in disks]


def _refused_adds(lc: LabCluster, name: str, node: str) -> None:
    """A disk larger than the VG and one in an unknown VG: Ganeti's messages, exit code,
    config and LVs unchanged."""
    serial, lvs = lc.config()["serial_no"], lv_names(lc, node)
    free = int(float(_vg(lc, node, "vg_free")[0]))
    _fails(lc, f"gnt-instance modify --disk add:size={free + 1024}M {name}",
           rf"Not enough disk space on target node {node}\.lab\.example vg {VG}")
    _fails(lc, f"gnt-instance modify --disk add:size=32M,vg=nosuchvg {name}",
           rf"Can't compute free disk space on node {node}\.lab\.example for vg nosuchvg")
    assert lc.config()["serial_no"] == serial and lv_names(lc, node) == lvs


def _remove(lc: LabCluster, name: str, timed: Callable[[str], None]) -> None:
    lc.gnt(f"gnt-instance remove -f --shutdown-timeout 0 {name}", check=False)
    timed("remove")
    assert name not in instance_names(lc)


def test_disks_added_to_and_removed_from_a_plain_instance(
        storage_cluster: LabCluster, timed: Callable[[str], None]) -> None:
    """A stopped plain instance on node2 (nothing boots) with 8 MiB of random data on disk 0:
    ``--disk add:size=32M`` makes a 32 MiB LV and a second disk in the config; a disk larger
    than the VG or in an unknown VG is refused with nothing changed; ``--disk 1:remove``
    removes the LV again. Disk 0's data stays the same throughout."""
    lc = storage_cluster
    lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o {OS} -n node2"
           " --disk 0:size=64M dplain1")
    timed("add")
    try:
        ((vg, lv0),) = instance_lvs(lc, "dplain1")
        written = lc.run("node2", f"dd if=/dev/urandom of=/dev/{vg}/{lv0} bs=1M count=8"
                                  " oflag=direct status=none && head -c 8388608"
                                  f" /dev/{vg}/{lv0} | sha256sum").stdout.split()[0]
        before = lv_names(lc, "node2")
        lc.gnt("gnt-instance modify --disk add:size=32M dplain1")
        timed("modify --disk add")
        [[first], [new]] = _disk_lvs(lc, "dplain1")
        assert first == lv0 and new not in before and new in lv_names(lc, "node2")
        assert _lv_mib(lc, "node2", new) == 32.0
        assert new not in lv_names(lc, "node3")
        sizes = lc.gnt("gnt-instance list --no-headers -o disk.count,disk.sizes dplain1")
        assert sizes.stdout.split() == ["2", "64,32"], sizes.stdout

        _refused_adds(lc, "dplain1", "node2")
        timed("refused adds")

        lc.gnt("gnt-instance modify --disk 1:remove dplain1")
        timed("modify --disk 1:remove")
        assert _disk_lvs(lc, "dplain1") == [[lv0]]
        assert lv_names(lc, "node2") == before
        assert _sha(lc, "node2", f"/dev/{vg}/{lv0}") == written
    finally:
        _remove(lc, "dplain1", timed)
    assert not any(name.startswith(lv0.split(".")[0]) for name in lv_names(lc, "node2"))


def _drbd_rows(lc: LabCluster, node: str, name: str) -> dict[int, list[str]]:
    """disk index -> its ``gnt-node list-drbd`` row on ``node`` for instance ``name``."""
    out = lc.gnt(f"gnt-node list-drbd --no-headers {node}").stdout
    return {int(row[3]): row for row in _rows(out) if row[2] == name}


def _proc_minors(lc: LabCluster, node: str) -> set[int]:
    out = lc.run(node, "cat /proc/drbd 2>/dev/null || true").stdout
    return {int(m) for m in re.findall(r"^\s*(\d+): cs:", out, re.M)}


def test_disks_added_to_and_removed_from_a_drbd_instance(
        storage_cluster: LabCluster, timed: Callable[[str], None]) -> None:
    """A stopped drbd instance node2:node3 (nothing boots) with 8 MiB of random data written
    through its DRBD device (activate-disks); meanwhile ``repair-storage`` of node2 checks
    node3's end of the active disks as Ganeti's: fine while healthy, refused once that end
    lost its disk (``drbdsetup detach``), a warning with ``--ignore-consistency``. Then
    deactivate-disks, and ``--disk add:size=32M``
    makes the new disk's data and meta LVs on both nodes and a new minor pair (list-drbd),
    shut down again (the disks were not active); a disk larger than the VG is refused with
    nothing changed; ``--disk remove`` (Ganeti's form: the last disk) removes the LVs on
    both nodes and releases the minors. With the disks activated again, a disk added with
    ``--no-wait-for-sync`` (refused while they were deactivated, as Ganeti's) stays assembled
    on both nodes, and is removed while assembled. Disk 0's data is the same on both nodes
    throughout."""
    lc = storage_cluster
    lc.gnt(f"gnt-instance add -t drbd --no-install --no-start -o {OS} -n node2:node3"
           " --disk 0:size=64M ddrbd1")
    timed("add (drbd, with the initial resync)")
    try:
        [[data0, meta0]] = _disk_lvs(lc, "ddrbd1")
        out = lc.gnt("gnt-instance activate-disks ddrbd1").stdout
        device = out.strip().splitlines()[-1].split(":")[-1]
        assert device.startswith("/dev/drbd"), out
        written = lc.run("node2", f"dd if=/dev/urandom of={device} bs=1M count=8"
                                  f" oflag=direct status=none && head -c {EIGHT_MIB}"
                                  f" {device} | sha256sum").stdout.split()[0]
        timed("activate-disks, 8 MiB written")
        # repair-storage on node2 checks the other end of the active disks (Ganeti's check)
        lc.gnt("gnt-node repair-storage node2 lvm-vg xenvg")
        s_minor = int(_drbd_rows(lc, "node3", "ddrbd1")[0][1])
        lc.run("node3", f"drbdsetup detach {s_minor}")          # node3's end loses its disk
        serial = lc.config()["serial_no"]
        faulty = r"Instance 'ddrbd1' has faulty disks on node 'node3\.lab\.example'"
        _fails(lc, "gnt-node repair-storage node2 lvm-vg xenvg", faulty)
        out = lc.gnt("gnt-node repair-storage --ignore-consistency node2 lvm-vg xenvg")
        assert re.search(f"WARNING: {faulty}", out.stdout + out.stderr), out
        assert lc.config()["serial_no"] == serial
        timed("repair-storage of node2: node3's end healthy, diskless, --ignore-consistency")
        lc.gnt("gnt-instance deactivate-disks ddrbd1")
        timed("deactivate-disks")
        for node in ("node2", "node3"):
            assert _sha(lc, node, f"/dev/{VG}/{data0}") == written, node
        rows0 = {node: _drbd_rows(lc, node, "ddrbd1") for node in ("node2", "node3")}
        assert list(rows0["node2"]) == [0] and list(rows0["node3"]) == [0], rows0
        before = {node: lv_names(lc, node) for node in ("node2", "node3")}

        lc.gnt("gnt-instance modify --disk add:size=32M ddrbd1")
        timed("modify --disk add (with the new disk's resync)")
        [[first, _meta], [data1, meta1]] = _disk_lvs(lc, "ddrbd1")
        assert first == data0
        for node in ("node2", "node3"):
            assert {data1, meta1} <= lv_names(lc, node) - before[node], node
            assert _lv_mib(lc, node, data1) == 32.0
        minors = {}
        for node, role in (("node2", "primary"), ("node3", "secondary")):
            rows = _drbd_rows(lc, node, "ddrbd1")
            assert sorted(rows) == [0, 1] and rows[0] == rows0[node][0], rows
            assert rows[1][4] == role and rows[1][1] != rows[0][1], rows
            minors[node] = int(rows[1][1])
            assert minors[node] not in _proc_minors(lc, node)      # shut down again
        sizes = lc.gnt("gnt-instance list --no-headers -o disk.count,disk.sizes ddrbd1")
        assert sizes.stdout.split() == ["2", "64,32"], sizes.stdout

        serial, lvs2 = lc.config()["serial_no"], lv_names(lc, "node2")
        free = min(int(float(_vg(lc, node, "vg_free")[0])) for node in ("node2", "node3"))
        _fails(lc, f"gnt-instance modify --disk add:size={free + 1024}M ddrbd1",
               rf"Not enough disk space on target node node[23]\.lab\.example vg {VG}")
        assert lc.config()["serial_no"] == serial and lv_names(lc, "node2") == lvs2
        timed("refused add")

        lc.gnt("gnt-instance modify --disk remove ddrbd1")
        timed("modify --disk remove")
        assert _disk_lvs(lc, "ddrbd1") == [[data0, meta0]]
        for node in ("node2", "node3"):
            assert lv_names(lc, node) == before[node], node
            assert list(_drbd_rows(lc, node, "ddrbd1")) == [0]
            assert _sha(lc, node, f"/dev/{VG}/{data0}") == written, node
        cfg = lc.config()
        used: set[tuple[str, int]] = set()     # (node uuid, minor) of each drbd end
        for disk in cfg["disks"].values():
            if disk["dev_type"] == "drbd":
                lid = disk["logical_id"]
                used |= {(lid[0], lid[3]), (lid[1], lid[4])}
        uuids = {n["name"].split(".")[0]: u for u, n in cfg["nodes"].items()}
        for node, minor in minors.items():
            assert (uuids[node], minor) not in used, (node, minor)   # minors released

        # with the disks active: --no-wait-for-sync allowed, the new disk stays assembled;
        # removed while assembled (the instance is stopped)
        _fails(lc, "gnt-instance modify --no-wait-for-sync --disk add:size=16M ddrbd1",
               r"Can't add a disk to an instance with deactivated disks and"
               r" --no-wait-for-sync given")
        assert lc.config()["serial_no"] == cfg["serial_no"]
        lc.gnt("gnt-instance activate-disks ddrbd1")
        lc.gnt("gnt-instance modify --no-wait-for-sync --disk add:size=16M ddrbd1")
        timed("refused --no-wait-for-sync, activate-disks, add (disks active)")
        [_disk0, [data1, meta1]] = _disk_lvs(lc, "ddrbd1")
        for node in ("node2", "node3"):
            rows = _drbd_rows(lc, node, "ddrbd1")
            assert sorted(rows) == [0, 1], rows
            minors[node] = int(rows[1][1])
            assert {int(rows[0][1]), minors[node]} <= _proc_minors(lc, node), node
        lc.gnt("gnt-instance modify --disk 1:remove ddrbd1")
        timed("modify --disk 1:remove (disks active)")
        for node in ("node2", "node3"):
            assert minors[node] not in _proc_minors(lc, node), node
            assert not {data1, meta1} & lv_names(lc, node), node
            assert list(_drbd_rows(lc, node, "ddrbd1")) == [0]
        lc.gnt("gnt-instance deactivate-disks ddrbd1")
        timed("deactivate-disks")
        for node in ("node2", "node3"):
            assert lv_names(lc, node) == before[node], node
            assert _sha(lc, node, f"/dev/{VG}/{data0}") == written, node
    finally:
        _remove(lc, "ddrbd1", timed)
    for node in ("node2", "node3"):
        assert not {data0, meta0} & lv_names(lc, node), node
        assert _drbd_rows(lc, node, "ddrbd1") == {}
