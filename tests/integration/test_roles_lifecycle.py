"""The node-side roles through ansible-playbook on localhost against the real libvirt.

Storage, OS and log directories live in a temp dir; the test bridge and every domain
(``gnt-test-<random>``) are removed in finally blocks.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import gnt_ansible
import pytest

pytestmark = pytest.mark.integration

URI = "qemu:///system"


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory):
    return gnt_ansible.ansible_env(tmp_path_factory.mktemp("ansible"))


Runner = gnt_ansible.RoleRunner


def domain_state(name):
    import libvirt

    conn = libvirt.open(URI)
    try:
        try:
            dom = conn.lookupByName(name)
        except libvirt.libvirtError:
            return "absent"
        return "running" if dom.isActive() else "shutoff"
    finally:
        conn.close()


def cleanup_domain(name):
    import libvirt

    conn = libvirt.open(URI)
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def node_vars(root: Path, bridges=()):
    return {
        "name": "localhost",
        "libvirt_uri": URI,
        "file_storage_dir": str(root / "srv/gnt/file-storage"),
        "shared_file_storage_dir": str(root / "srv/gnt/shared-file-storage"),
        "os_dir": str(root / "srv/gnt/os"),
        "os_search_path": [str(root / "srv/gnt/os")],
        "console_log_dir": str(root / "var/log/gnt/console"),
        "os_log_dir": str(root / "var/log/gnt/os"),
        "bridges": list(bridges),
    }


def instance_vars(node, name, os_name="recorder", nics=()):
    return {
        "name": name, "uuid": str(uuid.uuid4()), "os": os_name, "osparams": {},
        "hypervisor": "kvm",
        "hvparams": {"accel": "tcg", "boot_order": "disk", "disk_type": "paravirtual",
                     "nic_type": "paravirtual", "kernel_path": "", "kernel_args": "ro",
                     "initrd_path": "", "serial_console": True, "serial_speed": 115200,
                     "cpu_type": "", "vnc_bind_address": ""},
        "beparams": {"maxmem": 128, "minmem": 128, "vcpus": 1, "auto_balance": True,
                     "always_failover": False},
        "memory": 128,
        "disk_template": "file",
        "disks": [{"index": 0, "uuid": str(uuid.uuid4()),
                   "path": f"{node['file_storage_dir']}/{name}/disk0", "size_mib": 16,
                   "mode": "rw"}],
        "nics": list(nics),
        "console_log": f"{node['console_log_dir']}/{name}.log",
    }


def test_create_start_stop_remove(ansible_env, tmp_path):
    node = node_vars(tmp_path / "root", bridges=[f"gnt-t{uuid.uuid4().hex[:8]}"])
    bridge = node["bridges"][0]
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    nic = {"index": 0, "uuid": str(uuid.uuid4()), "mac": "aa:00:00:5e:00:01", "ip": None,
           "mode": "bridged", "link": bridge}
    inst = instance_vars(node, name, nics=[nic])
    run = Runner(ansible_env, tmp_path)
    disk = Path(inst["disks"][0]["path"])
    try:
        res = run("node_prepare", {"gnt_node": node}, check=True)
        assert not Path(node["file_storage_dir"]).exists()
        assert not Path(f"/sys/class/net/{bridge}").exists()

        res = run("node_prepare", {"gnt_node": node})
        assert res["changed"] > 0
        for key in ("file_storage_dir", "shared_file_storage_dir", "os_dir",
                    "console_log_dir", "os_log_dir"):
            assert Path(node[key]).is_dir(), key
        assert Path(f"/sys/class/net/{bridge}/bridge").is_dir()
        flags = int(Path(f"/sys/class/net/{bridge}/flags").read_text(), 16)
        assert flags & 1, "bridge is not up"
        info = res["gnt_node_info"]
        assert bridge in info["bridges"]
        assert info["memory_total_mib"] > 0 and info["hypervisor"]["type"] == "QEMU"
        assert node["file_storage_dir"] in info["storage"]
        bundled = gnt_ansible.REPO / "roles/node_prepare/files/os"
        for entry in bundled.iterdir() if bundled.is_dir() else []:
            assert (Path(node["os_dir"]) / entry.name).exists(), entry.name

        assert run("node_prepare", {"gnt_node": node})["changed"] == 0

        create = {"gnt_node": node, "gnt_instance": inst, "gnt_install": False}
        run("instance_create", create, check=True)
        assert not disk.exists()
        res = run("instance_create", create)
        assert res["changed"] == 1 and disk.stat().st_size == 16 * 2**20
        assert run("instance_create", create)["changed"] == 0

        start = {"gnt_node": node, "gnt_instance": inst}
        res = run("instance_start", start)
        assert res["changed"] == 1 and domain_state(name) == "running"
        assert res["gnt_domain"]["state"] == "running"
        assert res["gnt_domain"]["console"]["log"] == inst["console_log"]
        assert run("instance_start", start)["changed"] == 0

        # runtime memory: minmem = maxmem = 128 here, so only 128 is accepted (already
        # current: no change); the module refuses anything else, naming the range
        res = run("instance_runtime_memory", dict(start, gnt_memory_mib=128))
        assert res["changed"] == 0 and res["gnt_domain"]["memory_mib"] == 128
        for bad in (64, 256):
            res = run("instance_runtime_memory", dict(start, gnt_memory_mib=bad),
                      expect_ok=False)
            assert f"to {bad} MiB: outside its range minmem..maxmem = 128..128 MiB" \
                in res["stdout"]
        assert domain_state(name) == "running"

        res = run("instance_reboot", dict(start, gnt_reboot_type="hard"))
        assert res["changed"] > 0 and res["gnt_domain"]["state"] == "running"

        stop = dict(start, gnt_shutdown_timeout=1)
        res = run("instance_stop", stop, check=True)
        assert domain_state(name) == "running"
        res = run("instance_stop", stop)
        assert res["changed"] == 1 and domain_state(name) == "shutoff"
        assert res["gnt_domain"]["forced"] is True  # no OS: ACPI ignored
        assert run("instance_stop", stop)["changed"] == 0

        # modify --disk add / N:remove: a second disk made alone, then removed alone
        extra = {"index": 1, "uuid": str(uuid.uuid4()), "path": f"{disk.parent}/disk1",
                 "size_mib": 8, "mode": "rw"}
        one = {"gnt_node": node, "gnt_instance": dict(inst, disks=[extra])}
        assert run("instance_create", dict(one, gnt_install=False))["changed"] == 1
        assert Path(extra["path"]).stat().st_size == 8 * 2**20
        run("instance_disk_remove", one, check=True)
        assert Path(extra["path"]).exists()
        assert run("instance_disk_remove", one)["changed"] == 1
        assert not Path(extra["path"]).exists() and disk.exists()
        assert run("instance_disk_remove", one)["changed"] == 0

        Path(inst["console_log"]).write_text("boot\n")
        remove = {"gnt_node": node, "gnt_instance": inst}
        run("instance_remove", remove, check=True)
        assert disk.exists() and domain_state(name) == "shutoff"
        res = run("instance_remove", remove)
        assert res["changed"] > 0
        assert domain_state(name) == "absent"
        assert not disk.exists() and not disk.parent.exists()
        assert Path(node["file_storage_dir"]).is_dir()
        assert not Path(inst["console_log"]).exists()
        assert run("instance_remove", remove)["changed"] == 0
    finally:
        cleanup_domain(name)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


RECORDER = """#!/bin/sh
# API 20 OS definition for tests: records each call's environment
echo "$(basename "$0") name=$INSTANCE_NAME old=$OLD_INSTANCE_NAME reinstall=$INSTANCE_REINSTALL \
disk0=$DISK_0_PATH variant=$OS_VARIANT" >> "{record}"
"""


def make_recorder(os_dir: Path, record: Path):
    path = os_dir / "recorder"
    path.mkdir(parents=True)
    (path / "ganeti_api_version").write_text("20\n15\n10\n")
    (path / "variants.list").write_text("default\n")
    (path / "parameters.list").write_text("")
    for script in ("create", "import", "export", "rename"):
        (path / script).write_text(RECORDER.format(record=record))
        (path / script).chmod(0o755)


def test_install_reinstall_reboot_rename(ansible_env, tmp_path):
    node = node_vars(tmp_path / "root")
    record = tmp_path / "record.txt"
    make_recorder(Path(node["os_dir"]), record)
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    new_name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    inst = instance_vars(node, name)
    renamed = dict(instance_vars(node, new_name), uuid=inst["uuid"])
    run = Runner(ansible_env, tmp_path)
    try:
        run("node_prepare", {"gnt_node": node})
        base = {"gnt_node": node, "gnt_instance": inst}
        run("instance_create", base)
        disk0 = inst["disks"][0]["path"]
        assert record.read_text().splitlines() == [
            f"create name={name} old= reinstall= disk0={disk0} variant=default"]
        logs = list(Path(node["os_log_dir"]).glob(f"create-recorder-{name}-*.log"))
        assert len(logs) == 1

        run("instance_start", base)
        res = run("instance_reinstall", base, expect_ok=False)
        assert "stop it before reinstalling" in res["stdout"]
        res = run("instance_rename", {"gnt_node": node, "gnt_instance": renamed,
                                      "gnt_old_instance": inst}, expect_ok=False)
        assert "stop it before renaming" in res["stdout"]
        assert len(record.read_text().splitlines()) == 1

        res = run("instance_reboot", dict(base, gnt_reboot_type="full",
                                          gnt_shutdown_timeout=0))
        assert res["gnt_domain"]["state"] == "running" and domain_state(name) == "running"

        run("instance_stop", dict(base, gnt_shutdown_timeout=0))
        res = run("instance_reboot", dict(base, gnt_reboot_type="soft"))
        assert domain_state(name) == "running"  # a stopped instance is started
        run("instance_stop", dict(base, gnt_shutdown_timeout=0))

        run("instance_reinstall", base)
        assert record.read_text().splitlines()[-1] == \
            f"create name={name} old= reinstall=1 disk0={disk0} variant=default"

        Path(inst["console_log"]).write_text("old console\n")
        rename = {"gnt_node": node, "gnt_instance": renamed, "gnt_old_instance": inst}
        res = run("instance_rename", rename)
        new_disk = Path(renamed["disks"][0]["path"])
        assert new_disk.exists() and not Path(disk0).exists()
        assert not Path(disk0).parent.exists()
        assert domain_state(name) == "absent"
        assert record.read_text().splitlines()[-1] == \
            f"rename name={new_name} old={name} reinstall= disk0={new_disk} variant=default"
        assert Path(renamed["console_log"]).read_text() == "old console\n"
        assert not Path(inst["console_log"]).exists()
        again = run("instance_rename", dict(rename, gnt_rename_os=False))
        assert again["changed"] == 0

        run("instance_start", {"gnt_node": node, "gnt_instance": renamed})
        assert domain_state(new_name) == "running"
        run("instance_remove", {"gnt_node": node, "gnt_instance": renamed})
        assert domain_state(new_name) == "absent" and not new_disk.exists()
    finally:
        cleanup_domain(name)
        cleanup_domain(new_name)
