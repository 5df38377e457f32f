"""gnt-backup export/import of plain and drbd instances on the mixed lab cluster of the storage
tests (gnt_storagelab: node1 the namespace master, node2 and node3 QEMU TCG guests with DRBD 8.4
and ``xenvg``). Every gnt command runs on node1 as an operator would type it; the data is
checked on the guests (checksums of the volumes).

Nested TCG is slow, so nothing boots and one instance makes the whole round trip: a stopped
plain instance on node2 with 8 MiB of random data is exported to node1 (read from its LV) and
imported as a drbd instance on node3 (primary) with node2 (secondary), ``--no-start``: the
data volumes on both nodes hold the data (written through the DRBD device on node3,
replicated to node2).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import OS, VG, instance_disk, instance_names, skip_reason

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(1200)]

MIB8 = 8 << 20


def _checksum(lc: LabCluster, node: str, path: str) -> str:
    """sha256 of the first 8 MiB of ``path``, read with O_DIRECT: DRBD writes under the data
    volume's page cache, which may hold what udev's probe read before."""
    return lc.run(node, f"dd if={path} bs=1M count=8 iflag=direct status=none"
                        " | sha256sum").stdout.split()[0]


def test_plain_export_imported_as_drbd_keeps_the_data(storage_cluster: LabCluster,
                                                      timed: Callable[[str], None]) -> None:
    lc = storage_cluster
    lc.gnt(f"gnt-instance add -t plain --no-install --no-start -o {OS} -n node2"
           " --disk 0:size=64M bk1")
    timed("add (plain)")
    try:
        lv = instance_disk(lc, "bk1")["logical_id"][1]
        written = lc.run("node2", f"dd if=/dev/urandom of=/dev/{VG}/{lv} bs=1M count=8"
                                  " oflag=direct status=none && head -c"
                                  f" {MIB8} /dev/{VG}/{lv} | sha256sum").stdout.split()[0]
        out = lc.gnt("gnt-backup export -n node1 bk1", check=False)
        timed("export (stopped plain, from the LV)")
        assert out.returncode == 0, out.stdout + out.stderr
        attrs = dict(line.split() for line in lc.run(
            "node2", f"lvs --noheadings -o lv_name,lv_attr {VG}").stdout.splitlines()
            if line.strip())
        assert f"{lv}.snap" not in attrs        # stopped: no snapshot
        # its disks are not marked active (disks_active): the volume was activated for the
        # copy and deactivated after it, as deactivate-disks leaves it (lv_attr letter 5: state)
        assert attrs[lv][4] == "-", attrs
        # imported under the same name: the OS rename script would look for tinylinux's
        # partition in the random data
        lc.gnt("gnt-instance remove -f bk1")
        lc.gnt("gnt-backup import -t drbd -n node3:node2 --src-node node1 --src-dir bk1"
               " --no-start bk1")
        timed("import -t drbd (with the initial resync)")
        disk = instance_disk(lc, "bk1")
        assert disk["dev_type"] == "drbd" and disk["size"] == 64
        data = disk["children"][0]["logical_id"]
        # (a buffered read of the data volumes gave other bytes on both nodes in the lab:
        # the volumes' page cache, filled before DRBD wrote below it)
        for node in ("node3", "node2"):
            assert _checksum(lc, node, f"/dev/{data[0]}/{data[1]}") == written, node
        assert lc.instance_node("bk1") == "node3"
    finally:
        removed = lc.gnt("gnt-instance remove -f bk1", check=False)
        lc.gnt("gnt-backup remove bk1", check=False)
        timed("clean up")
    assert "bk1" not in instance_names(lc), removed.stdout + removed.stderr
