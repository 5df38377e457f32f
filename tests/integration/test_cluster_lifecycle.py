"""A one-node cluster on this machine running a real VM (libvirt + QEMU, TCG here).

init -> add (file disk, bundled OS) -> list running -> console marker -> shutdown -> startup ->
reboot -> rename -> modify -B -> remove, checking config serials and job states on the way.
"""

from __future__ import annotations

import os

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.lifecycle.example"
RENAMED = "vm2.lifecycle.example"
BOOTED = "gnt-tinylinux: booted"


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("lifecycle"), "cluster.lifecycle.example")
    yield gnt
    destroy_cluster(gnt)


def test_lifecycle(gnt):
    serial = gnt.config()["serial_no"]

    def serial_moved() -> bool:
        nonlocal serial
        new = gnt.config()["serial_no"]
        moved, serial = new > serial, new
        return moved

    out = gnt.run("gnt-instance", "add", "-o", "tinylinux", "-t", "file", "--disk",
                  "0:size=64M", "-B", "memory=128M", INST).stdout
    assert "starting instance" in out
    assert serial_moved()
    inst = gnt.instances()[INST]
    assert inst["admin_state"] == "up"
    disk_path = gnt.config()["disks"][inst["disks"][0]]["logical_id"][1]
    assert os.path.getsize(disk_path) == 64 * 1024 * 1024
    assert gnt.field(INST, "status") == "running"
    assert gnt.field(INST, "oper_ram") == "128M"
    gnt.wait_console(INST, f"{BOOTED} {INST}")

    gnt.run("gnt-instance", "shutdown", "--timeout=60", INST)
    assert gnt.field(INST, "status") == "ADMIN_down"
    assert "gnt-tinylinux: powering off" in gnt.console_log(INST), "ACPI shutdown, not forced"
    refused = gnt.run("gnt-instance", "console", INST, check=False)
    assert refused.returncode == 1 and "is not running" in refused.stdout + refused.stderr
    assert serial_moved()

    gnt.run("gnt-instance", "startup", INST)
    assert gnt.field(INST, "status") == "running"
    gnt.wait_console(INST, BOOTED, count=2)

    gnt.run("gnt-instance", "reboot", "--type=hard", INST)
    assert gnt.field(INST, "status") == "running"
    gnt.wait_console(INST, BOOTED, count=3)

    gnt.run("gnt-instance", "shutdown", "--timeout=60", INST)
    gnt.run("gnt-instance", "rename", INST, RENAMED)
    assert INST not in gnt.instances() and RENAMED in gnt.instances()
    renamed = gnt.instances()[RENAMED]
    new_path = gnt.config()["disks"][renamed["disks"][0]]["logical_id"][1]
    assert RENAMED in new_path and os.path.exists(new_path) and not os.path.exists(disk_path)

    gnt.run("gnt-instance", "modify", "-B", "memory=192M", RENAMED)
    assert gnt.instances()[RENAMED]["beparams"]["maxmem"] == 192
    gnt.run("gnt-instance", "startup", RENAMED)
    assert gnt.field(RENAMED, "oper_ram") == "192M"
    # The OS rename script rewrote the guest's hostname.
    gnt.wait_console(RENAMED, f"{BOOTED} {RENAMED}")

    gnt.run("gnt-instance", "remove", "-f", RENAMED)
    assert gnt.instances() == {}
    assert not os.path.exists(new_path)
    assert serial_moved()

    jobs = gnt.run("gnt-job", "list", "--no-headers", "-o", "id,status,summary").stdout
    rows = [line.split(None, 2) for line in jobs.strip().splitlines()]
    assert rows and all(status == "success" for _id, status, _summary in rows), jobs
    assert any("INSTANCE_RENAME" in summary for _i, _s, summary in rows)
    verify = gnt.run("gnt-cluster", "verify")
    assert "0 error(s)" in verify.stdout
