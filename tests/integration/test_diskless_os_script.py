"""gnt-instance add on a real one-node cluster: as in Ganeti, an instance without disks
(diskless) gets no OS create script run; the same OS on a file instance runs it (issue 10).

The OS definition is the bundled ``blank`` one with a create script that records its call
and fails.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FAIL_OS = "failcreate"

# A create script that records its call next to itself and always fails.
FAILING_CREATE = """#!/bin/sh
echo "create $INSTANCE_NAME" >> "$(dirname "$0")/CALLS"
echo "failcreate: refusing to install $INSTANCE_NAME" >&2
exit 3
"""


def settled_jobs(gnt) -> dict[str, str]:
    """Wait until no job is pending or running; return every job's status by id (the add
    must not be judged before its job, and the OS script it runs, really ended)."""
    deadline = time.monotonic() + 120
    while True:
        out = gnt.run("gnt-job", "list", "--no-headers", "-o", "id,status").stdout
        jobs = dict(line.split()[:2] for line in out.splitlines() if line.strip())
        if not set(jobs.values()) & {"queued", "waiting", "running", "canceling"}:
            return jobs
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("disklessos"), "cluster.dlos.example")
    os_dir = gnt.root / "srv/gnt/os" / FAIL_OS
    shutil.copytree(REPO / "roles/node_prepare/files/os/blank", os_dir, symlinks=True)
    (os_dir / "create").write_text(FAILING_CREATE)
    (os_dir / "create").chmod(0o755)
    yield gnt, os_dir
    destroy_cluster(gnt)


def test_diskless_add_skips_the_create_script(cluster):
    gnt, os_dir = cluster
    calls = os_dir / "CALLS"
    name = "dl1.dlos.example"
    proc = gnt.run("gnt-instance", "add", "-o", FAIL_OS, "-t", "diskless", "--no-start",
                   "--no-name-check", "--no-ip-check", name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(settled_jobs(gnt).values()) == {"success"}
    assert not calls.exists(), calls.read_text()
    assert gnt.instances()[name]["os"] == FAIL_OS
    assert gnt.field(name, "disk_template") == "diskless"


def test_file_add_runs_the_failing_create_script(cluster):
    gnt, os_dir = cluster
    calls = os_dir / "CALLS"
    name = "file1.dlos.example"
    before = gnt.config()["instances"].keys() - set()
    proc = gnt.run("gnt-instance", "add", "-o", FAIL_OS, "-t", "file", "--disk", "0:size=8M",
                   "--no-start", "--no-name-check", "--no-ip-check", name, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error" in settled_jobs(gnt).values()
    assert "exit code 3" in proc.stdout + proc.stderr
    assert calls.read_text().splitlines() == [f"create {name}"]
    # the half-created instance was removed again: config and disks as before
    assert gnt.config()["instances"].keys() == before
    assert not (gnt.root / "srv/gnt/file-storage" / name).exists()
