"""Instances with real local storage (LVM; DRBD tests may follow) on a mixed lab cluster:
node1 is a namespace node and the master (the coordinator runs fast there), node2 and node3 are
QEMU TCG guest nodes with the volume group ``xenvg`` on their data disk (tests/lab/labup.py,
docs/lab.md "Mixed lab"), added with ``gnt-node add``. Every gnt command runs on node1 over SSH,
as an operator would type it there; what it did is checked on the guests themselves
(``lvs``, ``virsh dumpxml`` over the node's libvirt URI).

Nested TCG is slow: instances are made with ``--no-install`` (no OS is written) and
``--no-start`` where possible. The only domain that runs is ``plain1`` in
``test_plain_instance_create_start_remove``: an OS-less domain (SeaBIOS finds nothing to boot and
idles) started on node2 and removed with ``--shutdown-timeout 0``.

One cluster for the module (``storage_cluster``: 2-4 min for the guests' boot and the two
node adds); each test cleans up the instances and LVs it made (``adopted``, shared by two
tests, at the end of the module), so the tests do not depend on each other's order and later
tests (DRBD) can reuse the fixture. Times are printed
(``pytest -s``). Uses the slot of ``$GNT_LAB_SLOT``; skipped with the reason when namespace
nodes or guest nodes cannot run here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import (
    GUESTS,
    OS,
    PREREQ_EXIT,
    VG,
    instance_disk,
    instance_lvs,
    instance_names,
    lv_names,
    skip_reason,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1200)]

ADD = f"gnt-instance add -t plain --no-install --no-start -o {OS}"
BUSY = "gnt-test-busy"      # an LV held open on node2 (test_adopting_an_open_lv_is_refused)


def test_cluster_has_the_guests_with_their_volume_group(storage_cluster: LabCluster) -> None:
    lc = storage_cluster
    assert [n.kind for n in lc.lab.nodes] == ["netns", "guest", "guest", "guest"]  # node4 spare
    out = lc.gnt("gnt-node list --no-headers -o name,role").stdout.split()
    assert out == ["node1.lab.example", "M", "node2.lab.example", "C", "node3.lab.example", "C"]
    # the guests' adds ran node_prepare's modules after its first through the warm module
    # interpreter (a fresh one costs seconds per module under TCG)
    jobs = lc.gnt("gnt-job list --no-headers -o id,summary").stdout.splitlines()
    for name in ("node2", "node3"):
        [job_id] = [line.split()[0] for line in jobs
                    if re.search(rf"NODE_ADD\({name}[.)]", line)]
        info = lc.gnt(f"gnt-job info {job_id}").stdout
        assert f"Modules on {lc.fqdn(name)} run in its warm module interpreter" in info, info
    cfg = lc.config()
    assert cfg["cluster"]["volume_group_name"] == VG
    assert {"plain", "diskless", "file"} <= set(cfg["cluster"]["enabled_disk_templates"])


def test_plain_instance_create_start_remove(storage_cluster: LabCluster,
                                            timed: Callable[[str], None]) -> None:
    """Create (LV on node2, nothing boots), start (an OS-less domain runs on node2 under
    nested TCG), remove (domain and LV gone)."""
    lc = storage_cluster
    before = lv_names(lc, "node2")
    lc.gnt(f"{ADD} -n node2 --disk 0:size=64M plain1")
    timed("add")
    ((vg, lv),) = instance_lvs(lc, "plain1")
    assert vg == VG and lv not in before and lv in lv_names(lc, "node2")
    size = lc.run("node2", f"lvs --noheadings --units m --nosuffix -o lv_size {VG}/{lv}").stdout
    assert float(size) == 64.0
    assert lv not in lv_names(lc, "node3")
    assert "plain1" not in lc.domains("node2") or lc.domains("node2")["plain1"] == "shut off"
    lc.gnt("gnt-instance startup plain1")
    timed("startup")
    uri = lc.lab.node("node2").libvirt_uri
    xml = lc.run("node1", f"virsh -c {uri} dumpxml plain1").stdout
    assert re.search(r"<domain type='qemu'", xml), xml[:200]         # accel=tcg
    disk = re.search(r"<disk type='block' device='disk'>(.*?)</disk>", xml, re.S)
    assert disk, xml
    assert f"<source dev='/dev/{VG}/{lv}'" in disk.group(1)
    assert lc.domains("node2")["plain1"] == "running"
    assert "plain1" not in lc.domains("node1")
    lc.gnt("gnt-instance remove -f --shutdown-timeout 0 plain1")
    timed("remove")
    assert lv not in lv_names(lc, "node2")
    assert "plain1" not in lc.domains("node2")
    assert "plain1" not in instance_names(lc)


@pytest.fixture(scope="module")
def adopted(storage_cluster: LabCluster) -> Iterator[dict[str, str]]:
    """``adopt1`` (not started, nothing boots) on node3, made by adopting an LV created by hand
    with random data: {"lv": its LV now, "sha256": of the data written before}. Removed at the
    end of the module (its LV must be gone then)."""
    lc = storage_cluster
    t0 = time.monotonic()
    lc.run("node3", f"lvcreate -q -y -L 32m -n adoptme {VG} >/dev/null && dd if=/dev/urandom"
                    f" of=/dev/{VG}/adoptme bs=1M count=32 oflag=direct status=none")
    written = lc.run("node3", f"sha256sum </dev/{VG}/adoptme").stdout.split()[0]
    try:
        lc.gnt(f"{ADD} -n node3 --disk 0:adopt=adoptme adopt1")
        print(f"\n  adopted: lvcreate, dd and gnt-instance add --disk 0:adopt "
              f"{time.monotonic() - t0:.1f} s")
        ((_vg, lv),) = instance_lvs(lc, "adopt1")
        yield {"lv": lv, "sha256": written}
        t0 = time.monotonic()
        lc.gnt("gnt-instance remove -f adopt1")
        print(f"\n  adopted: remove {time.monotonic() - t0:.1f} s")
        assert lv not in lv_names(lc, "node3")
    finally:
        if "adopt1" in instance_names(lc):
            lc.gnt("gnt-instance remove -f adopt1", check=False)
        lc.run("node3", f"lvremove -q -y {VG}/adoptme 2>/dev/null || true")


def test_adopt_an_existing_lv_keeps_its_data(storage_cluster: LabCluster,
                                             adopted: dict[str, str]) -> None:
    """The adopted LV is the instance's disk: renamed to the instance's disk name, the same
    bytes, its size the instance's disk size."""
    lc = storage_cluster
    lv = adopted["lv"]
    assert lv != "adoptme"
    names = lv_names(lc, "node3")
    assert lv in names and "adoptme" not in names
    assert lc.run("node3", f"sha256sum </dev/{VG}/{lv}").stdout.split()[0] == adopted["sha256"]
    # sizes in MiB without a unit, as Ganeti prints them with --no-headers
    disks = lc.gnt("gnt-instance list --no-headers -o disk.sizes,pnode adopt1").stdout.split()
    assert disks == ["32", "node3.lab.example"]


def _vg_free_mib(lc: LabCluster, node: str) -> int:
    out = lc.run(node, f"vgs --noheadings --units m --nosuffix -o vg_free {VG}").stdout
    return int(float(out))


BAD_DISKS: dict[str, tuple[Callable[[LabCluster], str], str]] = {
    "unknown-vg": (lambda lc: "0:size=64M,vg=nosuchvg",
                   r"Can't compute free disk space on node node2\.lab\.example for vg nosuchvg"),
    "larger-than-vg": (lambda lc: f"0:size={_vg_free_mib(lc, 'node2') + 1024}M",
                       r"Not enough disk space on target node node2\.lab\.example vg xenvg"),
    "adopt-missing-lv": (lambda lc: "0:adopt=nosuchlv",
                         r"Missing logical volume\(s\): xenvg/nosuchlv"),
}


@pytest.mark.parametrize("case", list(BAD_DISKS))
def test_bad_plain_disks_are_refused(storage_cluster: LabCluster, case: str,
                                     timed: Callable[[str], None]) -> None:
    """Each refused before anything is made: a clear message, Ganeti's exit code for a failed
    job, the configuration (serial number) unchanged, no new LV on node2."""
    lc = storage_cluster
    disk, message = BAD_DISKS[case]
    _add_is_refused(lc, disk(lc), message)
    timed(case)


def _add_is_refused(lc: LabCluster, disk: str, message: str) -> None:
    """``gnt-instance add bad1`` on node2 with ``disk`` fails its prerequisites with
    ``message``: Ganeti's exit code, config serial and node2's LVs unchanged."""
    serial, lvs = lc.config()["serial_no"], lv_names(lc, "node2")
    proc = lc.gnt(f"{ADD} -n node2 --disk {disk} bad1", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == PREREQ_EXIT, text
    assert "Traceback" not in text
    assert re.search(message, text), text
    assert "prerequisites not met" in proc.stderr, proc.stderr
    assert lc.config()["serial_no"] == serial
    assert "bad1" not in instance_names(lc)
    assert lv_names(lc, "node2") == lvs


def test_adopting_an_open_lv_is_refused(storage_cluster: LabCluster,
                                        timed: Callable[[str], None]) -> None:
    """An LV made by hand on node2 and held open by a process there (``lvs`` shows the open
    flag ``o``) is not adopted: the node reports it open, the add fails its prerequisites with
    Ganeti's message, and the LV keeps its name and data."""
    lc = storage_cluster
    dev = f"/dev/{VG}/{BUSY}"
    lc.run("node2", f"lvcreate -q -y -L 8m -n {BUSY} {VG} >/dev/null && dd if=/dev/urandom"
                    f" of={dev} bs=1M count=8 oflag=direct status=none")
    pid = ""
    try:
        written = lc.run("node2", f"sha256sum <{dev}").stdout.split()[0]
        # the holder's descriptors all elsewhere, so that the SSH session ends at once
        pid = lc.run("node2", f"nohup sleep 3600 <{dev} >/dev/null 2>&1 & echo $!"
                     ).stdout.strip()
        assert pid.isdigit(), pid
        attr = lc.run("node2", f"lvs --noheadings -o lv_attr {VG}/{BUSY}").stdout.strip()
        assert attr[5] == "o", attr
        timed("LV made, written and held open")
        _add_is_refused(lc, f"0:adopt={BUSY}",
                        rf"Online logical volumes found, cannot adopt: {VG}/{BUSY}")
        timed("add refused")
        assert BUSY in lv_names(lc, "node2")
        assert lc.run("node2", f"sha256sum <{dev}").stdout.split()[0] == written
    finally:
        if pid.isdigit():
            lc.run("node2", f"kill {pid}", check=False)
            time.sleep(1)
        lc.run("node2", f"lvremove -q -y {VG}/{BUSY}", check=False)
    assert BUSY not in lv_names(lc, "node2")


def _lv_mib(lc: LabCluster, node: str, lv: str) -> float:
    out = lc.run(node, f"lvs --noheadings --units m --nosuffix -o lv_size {VG}/{lv}").stdout
    return float(out)


def test_grow_disk_of_a_stopped_plain_instance(storage_cluster: LabCluster,
                                               timed: Callable[[str], None]) -> None:
    """``grow-disk`` by an amount and ``--absolute`` grows the LV on node2 (its data kept, as
    well when the LV was deactivated by hand first: lvextend needs no active volume, and the
    LV stays inactive), the size ``gnt-instance list`` and the config report; a size below the current one and a growth
    beyond the VG's free space are refused with Ganeti's messages and exit code, nothing
    changed. Nothing boots."""
    lc = storage_cluster
    lc.gnt(f"{ADD} -n node2 --disk 0:size=32M grow1")
    timed("add (plain, 32 MiB)")
    try:
        ((_vg, lv),) = instance_lvs(lc, "grow1")
        dev = f"/dev/{VG}/{lv}"
        first = f"head -c 33554432 {dev} | sha256sum"
        written = lc.run("node2", f"dd if=/dev/urandom of={dev} bs=1M count=32 oflag=direct"
                                  f" status=none && {first}").stdout.split()[0]
        out = lc.gnt("gnt-instance grow-disk grow1 0 32M")
        timed("grow-disk +32M")
        assert "Growing disk 0 of instance 'grow1' by 32M to 64M" in out.stdout + out.stderr
        _check_size(lc, "grow1", lv, 64)
        assert lc.run("node2", first).stdout.split()[0] == written
        lc.run("node2", f"lvchange -an {VG}/{lv}")
        lc.gnt("gnt-instance grow-disk --absolute grow1 0 96M")
        timed("grow-disk --absolute 96M (LV inactive before)")
        _check_size(lc, "grow1", lv, 96)
        # left as it was, as the product does with a stopped instance's drbd disks (Ganeti's
        # grow activates an LV and never deactivates LVs)
        attr = lc.run("node2", f"lvs --noheadings -o lv_attr {VG}/{lv}").stdout.strip()
        assert attr[4] != "a", attr
        lc.run("node2", f"lvchange -ay {VG}/{lv}")
        assert lc.run("node2", first).stdout.split()[0] == written
        too_much = _vg_free_mib(lc, "node2") + 1024
        for args, message in (
                ("--absolute grow1 0 64M",
                 r"Requested size \(64M\) is smaller than current disk size \(96M\)"),
                (f"grow1 0 {too_much}M",
                 rf"Not enough disk space on target node node2\.lab\.example vg {VG}:"
                 rf" required {too_much} MiB, available \d+ MiB")):
            serial = lc.config()["serial_no"]
            proc = lc.gnt(f"gnt-instance grow-disk {args}", check=False)
            text = proc.stdout + proc.stderr
            assert proc.returncode == PREREQ_EXIT, text
            assert "Traceback" not in text and "prerequisites not met" in text, text
            assert re.search(message, text), text
            assert lc.config()["serial_no"] == serial
            _check_size(lc, "grow1", lv, 96)
        timed("two refused grows")
    finally:
        lc.gnt("gnt-instance remove -f grow1", check=False)
        timed("remove")
    assert "grow1" not in instance_names(lc)


def _check_size(lc: LabCluster, name: str, lv: str, mib: int) -> None:
    """The instance's first disk is ``mib`` MiB on node2 (lvs), in ``gnt-instance list`` and
    in the config."""
    assert _lv_mib(lc, "node2", lv) == float(mib)
    out = lc.gnt(f"gnt-instance list --no-headers -o disk.sizes {name}").stdout.strip()
    assert out == str(mib), out
    assert instance_disk(lc, name)["size"] == mib


def _table(text: str) -> list[list[str]]:
    """Rows of a gnt table without its header and without WARNING lines, split on blanks."""
    rows = [line.split() for line in text.splitlines()
            if line.strip() and "WARNING:" not in line]
    return rows[1:]


def test_node_storage_and_volumes_of_the_guests(storage_cluster: LabCluster,
                                                adopted: dict[str, str],
                                                timed: Callable[[str], None]) -> None:
    """``gnt-node list-storage -t lvm-vg`` and ``gnt-node volumes`` report the guests' VG and
    the adopted instance's LV on node3 as the nodes themselves do (nothing boots)."""
    lc = storage_cluster
    lv = adopted["lv"]
    out = lc.gnt(f"gnt-node list-storage -t lvm-vg {' '.join(GUESTS)}").stdout
    timed("list-storage")
    rows = {row[0]: row for row in _table(out)}
    assert set(rows) == {"node2.lab.example", "node3.lab.example"}, out
    for node in GUESTS:
        _name, kind, vg, size, _used, free, allocatable = rows[f"{node}.lab.example"]
        assert (kind, vg, allocatable, size) == ("lvm-vg", VG, "Y", "10.0G"), out
        local = lc.run(node, f"vgs --noheadings --units m --nosuffix -o vg_free {VG}").stdout
        assert _mib(free) == pytest.approx(float(local), abs=64), (out, local)
    assert _mib(rows["node3.lab.example"][4]) >= 32
    out = lc.gnt(f"gnt-node volumes {' '.join(GUESTS)}").stdout
    timed("volumes")
    rows3 = [row for row in _table(out) if row[0] == "node3.lab.example"]
    assert ["node3.lab.example", "/dev/vdb", VG, lv, "32M", "adopt1"] in rows3, out
    assert not any(row[0] == "node2.lab.example" and row[-1] == "adopt1" for row in _table(out))


def _mib(text: str) -> float:
    """A gnt size (``32M``, ``10.0G``, ``1.5T``) in MiB."""
    units: dict[str, Any] = {"M": 1, "G": 1024, "T": 1024 * 1024}
    return float(text[:-1]) * units[text[-1]]
