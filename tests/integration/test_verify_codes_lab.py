"""``gnt-cluster verify --error-codes`` and ``-I/--ignore-errors`` through the real commands
and master daemon on a two-node lab cluster: a sharedfile instance's disk moved away is
Ganeti's EINSTANCEMISSINGDISK (exit 1) and the moved file an orphan (ENODEORPHANLV, a
warning); with ``-I EINSTANCEMISSINGDISK`` both are warnings (exit 0); an unknown code is a
usage error (exit 2) that submits no job.
Run: ``GNT_LAB_SLOT=3 .venv/bin/pytest -q tests/integration/test_verify_codes_lab.py``
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks()
INST = "vmc1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LabCluster]:
    with running_cluster("vcodes", 2, add=1) as c:
        c.gnt(f"gnt-instance add -o blank -t sharedfile --disk 0:size=8M --no-start"
              f" --no-name-check --no-ip-check {INST}")
        yield c


def _verify(cluster: LabCluster, options: str = "") -> tuple[int, list[str]]:
    """Exit code and the findings of ``gnt-cluster verify OPTIONS``, from their ``- ``."""
    proc = cluster.gnt(f"gnt-cluster verify {options}", check=False)
    lines = [line.split("  - ", 1)[1] for line in (proc.stdout + proc.stderr).splitlines()
             if "  - ERROR" in line or "  - WARNING" in line]
    return proc.returncode, lines


def test_unknown_code_is_a_usage_error_and_submits_nothing(cluster: LabCluster) -> None:
    jobs = cluster.job_ids()
    proc = cluster.gnt("gnt-cluster verify -I ENOSUCHCODE", check=False)
    assert proc.returncode == 2, proc
    assert "option -I: invalid choice: 'ENOSUCHCODE'" in proc.stderr
    assert cluster.job_ids() == jobs


def test_missing_disk_has_its_code_and_ignoring_it_passes(cluster: LabCluster) -> None:
    assert _verify(cluster, "--error-codes") == (0, [])
    cfg = cluster.config()
    inst = next(i for i in cfg["instances"].values() if i["name"] == INST)
    path = cfg["disks"][inst["disks"][0]]["logical_id"][1]
    cluster.run("node1", f"mv {path} {path}.moved")
    try:
        coded = _verify(cluster, "--error-codes")
        human = _verify(cluster)
        ignored = _verify(cluster, "--error-codes -I EINSTANCEMISSINGDISK")
    finally:
        cluster.run("node1", f"mv {path}.moved {path}")
    master = cluster.fqdn("node1")
    code, [missing, orphan] = coded
    assert code == 1
    assert missing.startswith(f"ERROR:EINSTANCEMISSINGDISK:instance:{INST}:instance disk"
                              f" {path} missing"), missing
    assert f"gnt-instance remove --ignore-failures {INST}" in missing
    assert orphan.startswith(f"WARNING:ENODEORPHANLV:node:{master}:orphan disk {path}.moved")
    assert human[0] == 1 and human[1][0].startswith(f"ERROR: instance {INST}: instance disk")
    code, [missing, orphan] = ignored
    assert code == 0
    assert missing.startswith(f"WARNING:EINSTANCEMISSINGDISK:instance:{INST}:"), missing
    assert _verify(cluster) == (0, [])
