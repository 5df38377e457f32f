"""gnt-instance rename on a real one-node cluster when the OS rename script fails (issue 16):
everything the rename did is undone (disk directory, domain, config), so the instance keeps
its name and still starts. A rename to the same name is allowed, as in Ganeti.

The OS definition is the bundled ``blank`` one with a rename script that fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FAIL_OS = "failrename"
OLD, NEW = "rr1.rollback.example", "rr2.rollback.example"

FAILING_RENAME = """#!/bin/sh
echo "failrename: refusing to rename $OLD_INSTANCE_NAME to $INSTANCE_NAME" >&2
exit 4
"""


def domains() -> set[str]:
    """Names of every domain libvirt knows (running or not)."""
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True, check=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("rollback"), "cluster.rollback.example")
    os_dir = gnt.root / "srv/gnt/os" / FAIL_OS
    shutil.copytree(REPO / "roles/node_prepare/files/os/blank", os_dir, symlinks=True)
    (os_dir / "rename").write_text(FAILING_RENAME)
    (os_dir / "rename").chmod(0o755)
    gnt.run("gnt-instance", "add", "-o", FAIL_OS, "-t", "file", "--disk", "0:size=8M",
            "--no-start", "-B", "memory=64M", OLD)
    yield gnt
    destroy_cluster(gnt)


def test_failed_os_rename_script_is_rolled_back(cluster):
    gnt = cluster
    [disk] = gnt.config()["disks"].values()
    old_path = Path(disk["logical_id"][1])
    assert old_path.exists() and OLD in str(old_path)
    # started once and stopped: its domain stays defined (shut off) on the node
    gnt.run("gnt-instance", "startup", OLD)
    gnt.run("gnt-instance", "shutdown", "--timeout=0", OLD)
    assert OLD in domains()
    before = gnt.config()["instances"]
    proc = gnt.run("gnt-instance", "rename", OLD, NEW, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "exit code 4" in out and "moved back" in out, out
    # config, disk directory and domain as before the rename
    assert json.dumps(gnt.config()["instances"], sort_keys=True) == \
        json.dumps(before, sort_keys=True)
    assert old_path.exists()
    assert not (old_path.parent.parent / NEW).exists()
    assert OLD in domains() and NEW not in domains()
    # and the instance still starts under its name
    gnt.run("gnt-instance", "startup", OLD)
    assert gnt.field(OLD, "status") == "running"
    gnt.run("gnt-instance", "shutdown", "--timeout=0", OLD)


def test_rename_to_the_same_name_is_allowed(cluster):
    gnt = cluster
    (gnt.root / "srv/gnt/os" / FAIL_OS / "rename").write_text(
        (REPO / "roles/node_prepare/files/os/blank/rename").read_text())
    proc = gnt.run("gnt-instance", "rename", OLD, OLD, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(gnt.instances()) == [OLD]
    [disk] = gnt.config()["disks"].values()
    assert Path(disk["logical_id"][1]).exists()
