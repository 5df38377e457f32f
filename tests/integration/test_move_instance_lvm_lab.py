"""move-instance of an instance on a logical volume between two real clusters (issues 15
and 14): a mixed lab of node1 and node2 (namespace nodes) and node3, a QEMU TCG guest with
the volume group ``xenvg`` (LVM on Debian's cloud kernel). Cluster A is node1 (its master)
and node3 with plain enabled; cluster B is node2 alone (file storage); both share A's
cluster domain secret. The tool runs on node1 and talks to both only through their RAPIs.

A tinylinux file instance made on B (node2) moves into A as a plain instance on node3: the
receiver writes onto the new LV, which then has the file's bytes (the OS image and a mark
at the disk's end), and B no longer has it. It moves back to B as a file instance: the
export reads the LV, the file has the same bytes again, the LV is gone from node3, no
per-move key is left; the instance boots on B. What boots: the instance once, on B (a
namespace node: host TCG); nothing boots on node3 (nested TCG).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    lab_dir_for,
    lab_marks,
    stop_cluster,
)
from lab import Lab
from test_move_instance_lab import _cert_only, _wait_rapi, init_two_clusters

pytestmark = lab_marks(pytest.mark.timeout(1500))

VG = "xenvg"
VM = "inst1.lab.example"
MIB = 1 << 20


def _guest_skip_reason() -> str | None:
    import labguest  # on sys.path through gnt_labcluster
    return labguest.skip_reason()


@pytest.fixture(scope="module")
def lc() -> Iterator[LabCluster]:
    reason = _guest_skip_reason()
    if reason:
        pytest.skip(reason)
    lab = Lab(lab_dir_for("mvlvm"))
    if lab.is_up():
        lab.down()
    lab.up(2, guests=1)
    cluster = LabCluster(lab, ["node1", "node2", "node3"])
    try:
        init_two_clusters(cluster, f"--enabled-disk-templates file,plain --vg-name {VG}",
                          ("node3",))
        _wait_rapi(cluster)
        yield cluster
    finally:
        stop_cluster(cluster)


def _ca_on_node1(lc: LabCluster, node: str) -> str:
    """``node``'s RAPI certificate (without its key) in a file on node1; its path there."""
    return "$GNT_ROOT/" + _cert_only(lc, node, Path(f"var/lib/gnt/move/{node}.pem"))


def _move(lc: LabCluster, source: str, dest: str, *options: str) -> str:
    """move-instance of :data:`VM` from the cluster mastered by ``source`` to the one of
    ``dest`` (node1 or node2), run on node1 as the RAPIs' admin; its output."""
    pw = lc.root_on_host("node1") / "var/lib/gnt/move/pw"
    pw.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pw.write_text("adminpw\n")
    pw.chmod(0o600)
    address = {"node1": lc.ssconf("node1", "master_ip").strip(),
               "node2": lc.b_address}  # type: ignore[attr-defined]
    command = (f"python3 -m gnt.cli.move_instance -v --src-ca-file {_ca_on_node1(lc, source)}"
               f" --dest-ca-file {_ca_on_node1(lc, dest)}"
               " --src-username admin --src-password-file $GNT_ROOT/var/lib/gnt/move/pw"
               f" {' '.join(options)} {address[source]} {address[dest]} {VM}")
    proc = lc.run("node1", command, check=False, timeout=1200)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and f"{VM}: success" in proc.stdout, text
    return text


def _instances(lc: LabCluster, node: str) -> dict[str, dict]:
    return {i["name"]: i for i in lc.config(node)["instances"].values()}


def _lv_of(lc: LabCluster) -> str:
    """/dev/VG/LV of :data:`VM`'s disk in cluster A."""
    cfg = lc.config("node1")
    inst = _instances(lc, "node1")[VM]
    vg, lv = cfg["disks"][inst["disks"][0]]["logical_id"]
    return f"/dev/{vg}/{lv}"


def _lv_sha(lc: LabCluster, path: str, size: int) -> str:
    """sha256 of the first ``size`` bytes of a volume on node3, read past the page cache."""
    return lc.run("node3", f"dd if={path} bs=1M count={size // MIB} iflag=direct"
                           " status=none | sha256sum").stdout.split()[0]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lvs(lc: LabCluster) -> set[str]:
    return set(lc.run("node3", f"lvs --noheadings -o lv_name {VG}").stdout.split())


def test_file_instance_moves_to_plain_and_back_then_boots(lc: LabCluster) -> None:
    t0 = time.monotonic()
    lc.gnt(f"gnt-instance add -t file -o tinylinux --disk 0:size=64M -n node2 --no-start {VM}",
           node="node2")
    disk = lc.root_on_host("node2") / "srv/gnt/file-storage" / VM / "disk0"
    size = 64 * MIB
    with disk.open("r+b") as handle:    # the whole disk must travel, not the OS image only
        handle.seek(size - 13)
        handle.write(b"gnt-tail-mark")
    before = _file_sha(disk)
    print(f"\n  add (file, tinylinux) on B {time.monotonic() - t0:.1f} s")

    t1 = time.monotonic()
    _move(lc, "node2", "node1", "--dest-disk-template", "plain",
          "--dest-primary-node", "node3.lab.example")
    print(f"  move B(file) -> A(plain, node3) {time.monotonic() - t1:.1f} s")
    assert VM not in _instances(lc, "node2") and not disk.exists()
    assert _instances(lc, "node1")[VM]["disk_template"] == "plain"
    lv = _lv_of(lc)
    lv_name = lv.rsplit("/", 1)[1]
    assert lv_name in _lvs(lc)
    assert _lv_sha(lc, lv, size) == before          # written onto the LV by the receiver

    t2 = time.monotonic()
    _move(lc, "node1", "node2", "--dest-disk-template", "file",
          "--dest-primary-node", "node2.lab.example")
    print(f"  move A(plain, node3) -> B(file) {time.monotonic() - t2:.1f} s")
    assert VM not in _instances(lc, "node1")
    assert lv_name not in _lvs(lc)                    # the source's volume is gone
    assert _instances(lc, "node2")[VM]["disk_template"] == "file"
    assert disk.stat().st_size == size and _file_sha(disk) == before
    crypto = f"{lc.lab.node('node3').gnt_root}/var/run/gnt/crypto"
    assert "x509-" not in lc.run("node3", f"ls {crypto} 2>/dev/null || true").stdout
    assert not list((lc.root_on_host("node2") / "var/run/gnt/crypto").glob("x509-*"))
    lc.gnt(f"gnt-instance startup {VM}", node="node2")
    lc.wait_console("node2", VM, BOOT_MARKER)       # the image survived both trips
    lc.gnt(f"gnt-instance remove -f --shutdown-timeout=0 {VM}", node="node2")
