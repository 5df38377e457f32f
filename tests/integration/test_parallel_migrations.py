"""Narrow node locks on a real 4-node lab cluster (issue 10): two live migrations between
disjoint pairs of nodes (node1 -> node2, node3 -> node4) run at the same time.

The proof is the jobs' own record: the execution intervals that ``gnt-job info`` shows for the
two migrate opcodes intersect (no timing threshold). Run it in lab slot 1:
``GNT_LAB_SLOT=1 .venv/bin/pytest -m integration tests/integration/test_parallel_migrations.py``.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    lab_marks,
    running_cluster,
    submit_job,
    wait_job,
)

pytestmark = lab_marks(pytest.mark.timeout(900))

PAIRS = (("pma", "node1", "node2"), ("pmb", "node3", "node4"))
_STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("parmig", 4) as cluster:
        yield cluster


def _opcode_interval(info: str) -> tuple[datetime, datetime]:
    """Execution start and processing end of the job's (only) opcode, from ``gnt-job info``."""
    ops = info[info.index("Opcodes:"):]
    start = re.search(r"Execution start:\s+" + _STAMP, ops)
    end = re.search(r"Processing end:\s+" + _STAMP, ops)
    assert start and end, info
    return (datetime.fromisoformat(start.group(1)), datetime.fromisoformat(end.group(1)))


def test_migrations_between_disjoint_node_pairs_overlap(lc: LabCluster) -> None:
    for name, source, _target in PAIRS:
        lc.gnt(f"gnt-instance add -o tinylinux -t sharedfile --disk 0:size=64M -B memory=128M"
               f" -n {source} {name}")
    for name, source, _target in PAIRS:
        lc.wait_console(source, name, BOOT_MARKER)
    jobs = [submit_job(lc, f"gnt-instance migrate -f -n {target} {name}")
            for name, _source, target in PAIRS]
    intervals = []
    for job_id in jobs:
        status, info = wait_job(lc, job_id)
        assert status == "success", info
        intervals.append(_opcode_interval(info))
    (start1, end1), (start2, end2) = intervals
    assert start1 < end2 and start2 < end1, (
        f"the migrations did not overlap: job {jobs[0]} {start1}..{end1},"
        f" job {jobs[1]} {start2}..{end2}")
    for name, source, target in PAIRS:
        assert lc.instance_node(name) == target
        assert lc.domains(target).get(name) == "running"
        assert name not in lc.domains(source)
    lc.gnt("gnt-cluster verify")
    for name, _source, _target in PAIRS:
        lc.gnt(f"gnt-instance remove -f {name}")
