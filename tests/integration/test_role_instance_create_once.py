"""instance_create through ansible-playbook on this machine: idempotent (the OS create script
runs once per instance), a failed install is retried, and a diskless instance gets no OS
script run (issue 10).

The OS definition records every script call in a file and fails while a flag file exists.
Storage and OS directories live in a temp dir; no domain is started.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import gnt_ansible
import pytest
from test_roles_lifecycle import instance_vars, node_vars

pytestmark = pytest.mark.integration

# API 20 test OS: records each call; exits 9 while the file FAIL next to it exists.
COUNTING_OS = """#!/bin/sh
echo "$(basename "$0") name=$INSTANCE_NAME reinstall=$INSTANCE_REINSTALL" >> "{record}"
if [ -e "$(dirname "$0")/FAIL" ]; then
  echo "counting: install of $INSTANCE_NAME fails (FAIL flag)" >&2
  exit 9
fi
"""


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory):
    return gnt_ansible.ansible_env(tmp_path_factory.mktemp("ansible"))


def make_counting_os(os_dir: Path, record: Path) -> Path:
    path = os_dir / "counting"
    path.mkdir(parents=True)
    (path / "ganeti_api_version").write_text("20\n")
    for script in ("create", "import", "export", "rename"):
        (path / script).write_text(COUNTING_OS.format(record=record))
        (path / script).chmod(0o755)
    return path


def creates(record: Path, name: str) -> list[str]:
    """The create-script calls recorded for instance ``name``."""
    if not record.exists():
        return []
    return [line for line in record.read_text().splitlines()
            if line.startswith(f"create name={name} ")]


def test_rerun_does_not_reinstall(ansible_env, tmp_path):
    node = node_vars(tmp_path / "root")
    record = tmp_path / "record.txt"
    make_counting_os(Path(node["os_dir"]), record)
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    inst = instance_vars(node, name, os_name="counting")
    disk = Path(inst["disks"][0]["path"])
    run = gnt_ansible.RoleRunner(ansible_env, tmp_path)
    create = {"gnt_node": node, "gnt_instance": inst}

    res = run("instance_create", create, check=True)
    assert res["changed"] == 2  # the disk and the install would change
    assert not disk.exists() and creates(record, name) == []

    assert run("instance_create", create)["changed"] == 2
    assert disk.is_file() and len(creates(record, name)) == 1
    assert os.getxattr(disk, "user.gnt.os_installed").decode() == inst["uuid"]

    # the rerun: nothing changes, the create script does not run over the installed disk
    assert run("instance_create", create)["changed"] == 0
    assert run("instance_create", create, check=True)["changed"] == 0
    assert len(creates(record, name)) == 1

    # a reinstall runs the script again and keeps the install recorded
    reinstall = run("instance_reinstall", create)
    assert reinstall["changed"] == 1
    assert creates(record, name)[-1].endswith("reinstall=1")
    assert run("instance_create", create)["changed"] == 0
    assert len(creates(record, name)) == 2

    # removed with the disks: the same vars then create and install anew
    assert run("instance_remove", create)["changed"] > 0
    assert not disk.exists() and not disk.parent.exists()
    assert run("instance_create", create)["changed"] == 2
    assert len(creates(record, name)) == 3


def test_failed_install_is_retried(ansible_env, tmp_path):
    node = node_vars(tmp_path / "root")
    record = tmp_path / "record.txt"
    os_path = make_counting_os(Path(node["os_dir"]), record)
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    inst = instance_vars(node, name, os_name="counting")
    run = gnt_ansible.RoleRunner(ansible_env, tmp_path)
    create = {"gnt_node": node, "gnt_instance": inst}

    (os_path / "FAIL").write_text("")
    res = run("instance_create", create, expect_ok=False)
    assert res["failed"] == 1 and "exit code 9" in res["stdout"]
    assert len(creates(record, name)) == 1

    # still failing: the rerun tries again (nothing recorded the failed install)
    run("instance_create", create, expect_ok=False)
    assert len(creates(record, name)) == 2
    assert run("instance_create", create, check=True)["changed"] == 1

    (os_path / "FAIL").unlink()
    assert run("instance_create", create)["changed"] == 1  # the disk was there already
    assert len(creates(record, name)) == 3
    assert run("instance_create", create)["changed"] == 0
    assert len(creates(record, name)) == 3

    # an install over a recorded one that fails clears the record: the next run installs
    (os_path / "FAIL").write_text("")
    run("instance_reinstall", create, expect_ok=False)
    (os_path / "FAIL").unlink()
    assert run("instance_create", create)["changed"] == 1
    assert len(creates(record, name)) == 5


def test_diskless_runs_no_os_script(ansible_env, tmp_path):
    node = node_vars(tmp_path / "root")
    record = tmp_path / "record.txt"
    os_path = make_counting_os(Path(node["os_dir"]), record)
    (os_path / "FAIL").write_text("")
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    diskless = dict(instance_vars(node, name, os_name="counting"), disk_template="diskless",
                    disks=[])
    run = gnt_ansible.RoleRunner(ansible_env, tmp_path)
    res = run("instance_create", {"gnt_node": node, "gnt_instance": diskless})
    assert res["changed"] == 0 and not record.exists()
    # the same OS on an instance with a disk runs (and here fails)
    filed = instance_vars(node, name, os_name="counting")
    run("instance_create", {"gnt_node": node, "gnt_instance": filed}, expect_ok=False)
    assert len(creates(record, name)) == 1
