"""gnt-instance console on a real 2-node lab cluster (issue 10): the console of an instance
whose primary node is not the master is that node's (reached over SSH), and an instance that
is not running gets Ganeti's message. Run it in lab slot 2:
``GNT_LAB_SLOT=2 .venv/bin/pytest -m integration tests/integration/test_multinode_console.py``.
"""

from __future__ import annotations

import shlex

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks(pytest.mark.timeout(900))

INST = "con1"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("console", 2) as cluster:
        yield cluster


def test_console_of_instance_on_other_node(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance add -o tinylinux -t sharedfile --disk 0:size=64M -B memory=128M"
           f" -n node2 {INST}")
    lc.wait_console("node2", INST, BOOT_MARKER)
    assert lc.master() == "node1"
    # non-interactive: the console output of node2's VM, read on node2 over SSH
    out = lc.gnt(f"gnt-instance console {INST}").stdout
    assert BOOT_MARKER in out
    shown = shlex.split(lc.gnt(f"gnt-instance console --show-cmd {INST}").stdout)
    assert shown[0] == "ssh" and shown[-3] == "-t"
    assert shown[-2] == f"root@{lc.lab.node('node2').address}"
    assert shown[-1].startswith("virsh") and shown[-1].endswith(f"console {INST}")


def test_console_of_stopped_instance(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance shutdown --timeout=0 {INST}")
    proc = lc.gnt(f"gnt-instance console {INST}", check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"Instance {INST} is not running, can't get console" in proc.stderr
