"""gnt-backup between the nodes of a real 3-node lab cluster: the data moves node to node
over SSH as a stream (export from the instance's node to another node; import on a third
node pulling from the export's node), one export per instance cluster-wide, and imports
placed by -n and by the allocator.

Tests depend on each other's end state (one cluster per module, in order).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks(pytest.mark.timeout(900))

VM = "bvm1"
COPY = "bvm1copy"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("backup", 3) as cluster:
        yield cluster


def sha256(path: Path, decompress: list[str] | None = None) -> str:
    if decompress:
        data = subprocess.run([*decompress, str(path)], capture_output=True, check=True).stdout
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_dir(lc: LabCluster, node: str, name: str) -> Path:
    return lc.root_on_host(node) / "srv/gnt/export" / name


def disk_path(lc: LabCluster, node: str, name: str, index: int = 0) -> Path:
    return lc.root_on_host(node) / "srv/gnt/file-storage" / name / f"disk{index}"


def test_export_streams_to_another_node(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=64M -n node1 {VM}")
    lc.wait_console("node1", VM, BOOT_MARKER)
    lc.gnt(f"gnt-instance shutdown --timeout=60 {VM}")
    lc.test_sums = [sha256(disk_path(lc, "node1", VM))]  # type: ignore[attr-defined]
    lc.gnt(f"gnt-instance startup {VM}")
    lc.wait_console("node1", VM, f"{BOOT_MARKER} {VM}")
    out = lc.gnt(f"gnt-backup export -n node2 --noshutdown --compress=zstd {VM}").stdout
    assert "Disk snapshot of the domain - " in out
    assert re.search(r"disk 0: exported \(os, [\d.]+ MiB", out)
    dump = export_dir(lc, "node2", VM) / "disk0.dump.zst"
    assert sha256(dump, ["zstd", "-qdc"]) == lc.test_sums[0]  # type: ignore[attr-defined]
    assert not export_dir(lc, "node1", VM).exists()
    assert lc.gnt(f"gnt-instance list --no-headers -o status {VM}").stdout.strip() == "running"


def test_one_export_per_instance_in_the_cluster(lc: LabCluster) -> None:
    # shut down for the export: forced at once (the guest's data is on disk; an ACPI press
    # right after the previous test's snapshot export may go unanswered)
    lc.gnt(f"gnt-backup export -n node3 --shutdown-timeout=0 {VM}")
    assert (export_dir(lc, "node3", VM) / "config.ini").is_file()
    assert not export_dir(lc, "node2", VM).exists()         # the older export was removed
    rows = [line.split() for line in
            lc.gnt("gnt-backup list --no-headers -o node,export").stdout.splitlines()
            if line.strip()]
    assert [(node.split(".")[0], export) for node, export in rows] == [("node3", VM)]
    dump = export_dir(lc, "node3", VM) / "disk0.dump"
    assert sha256(dump) == lc.test_sums[0]  # type: ignore[attr-defined]


def test_import_on_a_third_node_pulls_from_the_export_node(lc: LabCluster) -> None:
    out = lc.gnt(f"gnt-backup import -n node2 --src-node node3 --src-dir {VM}"
                 f" --net 0:mac=generate {COPY}").stdout
    assert "importing 1 disk(s) from node3" in out
    assert lc.instance_node(COPY) == "node2"
    lc.wait_console("node2", COPY, f"{BOOT_MARKER} {COPY}")
    assert COPY in lc.domains("node2") and COPY not in lc.domains("node3")
    lc.gnt(f"gnt-instance remove -f {COPY}")


def test_restore_by_name_with_the_allocator(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance remove -f {VM}")
    # No -n and no source: the allocator picks the node, the export is found by name.
    out = lc.gnt(f"gnt-backup import -I builtin --no-start {VM}").stdout
    assert re.search(rf"Selected node node\d\.lab\.example for instance {VM}", out)
    node = lc.instance_node(VM)
    assert sha256(disk_path(lc, node, VM)) == lc.test_sums[0]  # type: ignore[attr-defined]
    lc.gnt(f"gnt-instance startup {VM}")
    lc.wait_console(node, VM, f"{BOOT_MARKER} {VM}")
    lc.gnt("gnt-cluster verify")
