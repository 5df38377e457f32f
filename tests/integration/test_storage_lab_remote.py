"""move-instance (remote export and import) of instances on logical volumes, on the mixed
lab cluster of the storage tests (gnt_storagelab: node1 the namespace master, node2 and node3
QEMU TCG guests with DRBD 8.4 and ``xenvg``). The tool talks to the storage cluster's RAPI
as both source and destination, as Ganeti's QA moves an instance within one cluster under a
new name: the cluster shares the domain secret with itself, and every byte still goes
through the remote export's TLS stream from one guest to the other.

A plain instance on node2 (OS ``blank``: its rename changes nothing, so the disk can hold
random data; nothing boots) moves to a drbd instance node3:node2 under a new name: the
receiver writes onto node3's DRBD device (Primary, resynced first), so both data volumes
end up with the source's bytes; the source and its LV are gone. It then moves back to a
plain instance on node2 under its first name: the export reads the stopped drbd instance's
data volume on node3, and the new LV has the same bytes; node3's volumes and minors are
released. (The move between two clusters, on a plain volume, is in
test_move_instance_lvm_lab.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import VG, instance_disk, instance_names, lv_names, skip_reason

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1500)]

FIRST, SECOND = "inst1.lab.example", "inst2.lab.example"   # in the lab hosts file
MIB = 1 << 20
SIZE = 64 * MIB
USERS = "mover {cleartext}moverpw write\n"


def _sha(lc: LabCluster, node: str, path: str) -> str:
    """sha256 of the volume's first 64 MiB, read past the page cache."""
    return lc.run(node, f"dd if={path} bs=1M count={SIZE // MIB} iflag=direct status=none"
                        " | sha256sum").stdout.split()[0]


def _move(lc: LabCluster, instance: str, *options: str) -> str:
    """move-instance of ``instance`` from the storage cluster to itself, run on node1."""
    root = lc.root_on_host("node1")
    pem = (root / "var/lib/gnt/rapi.pem").read_text()
    ca = root / "var/lib/gnt/move/rapi-ca.pem"
    ca.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca.write_text(pem[pem.index("-----BEGIN CERTIFICATE-----"):])
    (root / "var/lib/gnt/move/pw").write_text("moverpw\n")
    (root / "var/lib/gnt/move/pw").chmod(0o600)
    address = lc.ssconf("node1", "master_ip").strip()
    proc = lc.run("node1", "python3 -m gnt.cli.move_instance -v"
                           " --src-ca-file $GNT_ROOT/var/lib/gnt/move/rapi-ca.pem"
                           " --src-username mover"
                           " --src-password-file $GNT_ROOT/var/lib/gnt/move/pw"
                           f" {' '.join(options)} {address} {address} {instance}",
                  check=False, timeout=1200)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and f"{instance}: success" in proc.stdout, text
    return text


def test_plain_to_drbd_and_back_through_the_remote_move(
        storage_cluster: LabCluster, timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    users = lc.root_on_host("node1") / "var/lib/gnt/rapi/users"
    users.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = users.read_text() if users.exists() else None
    users.write_text((kept or "") + USERS)
    users.chmod(0o600)
    lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o blank -n node2"
           f" --disk 0:size=64M {FIRST}")
    timed("add (plain)")
    try:
        lv = instance_disk(lc, FIRST)["logical_id"][1]
        lc.run("node2", f"dd if=/dev/urandom of=/dev/{VG}/{lv} bs=1M count=8 oflag=direct"
                        f" status=none && printf gnt-tail-mark | dd of=/dev/{VG}/{lv} bs=1"
                        f" seek={SIZE - 13} conv=notrunc status=none && sync")
        written = _sha(lc, "node2", f"/dev/{VG}/{lv}")

        # one cluster: a new MAC for the copy, as Ganeti's QA moves (--net 0:mac=generate)
        _move(lc, FIRST, "--net", "0:mac=generate", "--dest-instance-name", SECOND,
              "--dest-disk-template", "drbd",
              "--dest-primary-node", "node3.lab.example",
              "--dest-secondary-node", "node2.lab.example")
        timed("move plain node2 -> drbd node3:node2")
        names = instance_names(lc)
        assert FIRST not in names and SECOND in names
        assert lv not in lv_names(lc, "node2")
        disk = instance_disk(lc, SECOND)
        assert disk["dev_type"] == "drbd" and disk["size"] == 64
        assert lc.instance_node(SECOND) == "node3"
        data_vg, data_lv = disk["children"][0]["logical_id"]
        for node in ("node3", "node2"):     # written through node3's Primary device
            assert _sha(lc, node, f"/dev/{data_vg}/{data_lv}") == written, node

        _move(lc, SECOND, "--net", "0:mac=generate", "--dest-instance-name", FIRST,
              "--dest-disk-template", "plain",
              "--dest-primary-node", "node2.lab.example")
        timed("move drbd node3:node2 -> plain node2")
        names = instance_names(lc)
        assert SECOND not in names and FIRST in names
        for node in ("node2", "node3"):
            assert data_lv not in lv_names(lc, node), node
            assert lc.gnt(f"gnt-node list-drbd --no-headers {node}").stdout.strip() == ""
        back = instance_disk(lc, FIRST)
        assert back["dev_type"] == "plain" and lc.instance_node(FIRST) == "node2"
        assert _sha(lc, "node2", f"/dev/{VG}/{back['logical_id'][1]}") == written
    finally:
        for name in (FIRST, SECOND):
            lc.gnt(f"gnt-instance remove -f --shutdown-timeout 0 {name}", check=False)
        if kept is None:
            users.unlink()
        else:
            users.write_text(kept)
        timed("clean up")
    assert not {FIRST, SECOND} & set(instance_names(lc))
