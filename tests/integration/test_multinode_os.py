"""OS checks ask the involved node itself (issue 10), on a real 2-node lab cluster.

An OS definition present only on node1 (the master): instance add on node2 is refused naming
node2, add on node1 works, and gnt-os diagnose shows it valid on node1, "OS not found" on node2
("partial valid"); gnt-os list leaves it out. Before, every check looked at the master only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gnt_labcluster import LabCluster, lab_marks, running_cluster

pytestmark = lab_marks(pytest.mark.timeout(900))

REPO = Path(__file__).resolve().parents[2]
OS_NAME = "onlyone"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("osnodes", 2) as cluster:
        os_dir = cluster.root_on_host("node1") / "srv/gnt/os" / OS_NAME
        shutil.copytree(REPO / "roles/node_prepare/files/os/blank", os_dir, symlinks=True)
        yield cluster


def test_add_on_the_node_without_the_os_is_refused(lc: LabCluster) -> None:
    before = (lc.root_on_host("node1") / "var/lib/gnt/config.data").read_bytes()
    proc = lc.gnt(f"gnt-instance add -o {OS_NAME} -t sharedfile --disk 0:size=8M --no-start"
                  f" -n node2 os1", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert f"OS '{OS_NAME}' not known on node {lc.fqdn('node2')}" in out
    assert (lc.root_on_host("node1") / "var/lib/gnt/config.data").read_bytes() == before
    lc.gnt(f"gnt-instance add -o {OS_NAME} -t sharedfile --disk 0:size=8M --no-start"
           f" -n node1 os1")
    lc.gnt("gnt-instance remove -f os1")


def test_diagnose_shows_each_nodes_own_view(lc: LabCluster) -> None:
    proc = lc.gnt("gnt-os diagnose", check=False)
    out = proc.stdout
    assert proc.returncode == 1  # an OS that is not valid everywhere
    assert f"OS: {OS_NAME} [global status: partial valid]" in out
    assert f"  Node: {lc.fqdn('node2')}, status: OS not found" in out
    assert "OS: tinylinux [global status: valid]" in out
    names = {name.split("+")[0] for name in lc.gnt("gnt-os list --no-headers").stdout.split()}
    assert "tinylinux" in names and OS_NAME not in names
