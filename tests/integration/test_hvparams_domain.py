"""hvparams machine_version, reboot_behavior and migration_downtime on the real libvirt
(qemu:///system, TCG), through gnt.cluster.domain run by ansible (issue 10).

The guest is a one-sector disk that resets the machine through the keyboard controller as
soon as it boots: a guest-initiated reboot. With ``reboot_behavior=exit`` the domain must stop;
with ``reboot`` it must keep running (rebooting). Every domain is ``gnt-test-<random>`` and
removed in a finally block.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import gnt_ansible
import pytest
from test_node_primitives_domain import URI, cleanup, make_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory):
    return gnt_ansible.ansible_env(tmp_path_factory.mktemp("ansible"))


def _rebooting_disk(path: Path) -> None:
    """A raw disk whose MBR pulses the CPU reset line (out 0x64, 0xfe) and then spins."""
    code = bytes.fromhex("b0fee664ebfe")  # mov al, 0xfe; out 0x64, al; jmp $
    path.write_bytes((code.ljust(510, b"\0") + b"\x55\xaa").ljust(2**20, b"\0"))


def _start(env, tmp_path, **hv):
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    disk = tmp_path / f"{name}.disk0"
    _rebooting_disk(disk)
    spec = make_spec(name, tmp_path, disks=[disk], maxmem=64, minmem=64, memory=64)
    spec["hvparams"].update(hv)
    ok, res = gnt_ansible.run_module(env, "domain", {"name": name, "uri": URI,
                                                     "state": "running", "spec": spec})
    return name, ok, res


def _dom(conn, name):
    return conn.lookupByName(name)


def test_reboot_behavior_exit_stops_the_domain_and_machine_version_is_used(ansible_env,
                                                                           tmp_path):
    import libvirt

    name, ok, res = _start(ansible_env, tmp_path, reboot_behavior="exit", machine_version="pc")
    conn = libvirt.open(URI)
    try:
        assert ok, res
        root = ET.fromstring(_dom(conn, name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        assert root.findtext("on_reboot") == "destroy"
        # libvirt expands the alias "pc" to the versioned i440fx machine of this QEMU
        assert root.find("os/type").get("machine").startswith("pc-i440fx")
        for _attempt in range(600):
            if not _dom(conn, name).isActive():
                break
            time.sleep(0.1)
        assert not _dom(conn, name).isActive(), "the guest reset but the domain still runs"
    finally:
        conn.close()
        cleanup(name)


def test_reboot_behavior_reboot_keeps_running_and_q35_machine(ansible_env, tmp_path):
    import libvirt

    name, ok, res = _start(ansible_env, tmp_path, reboot_behavior="reboot", machine_version="q35")
    conn = libvirt.open(URI)
    try:
        assert ok, res
        dom = _dom(conn, name)
        root = ET.fromstring(dom.XMLDesc(0))
        assert root.findtext("on_reboot") == "restart"
        assert root.find("os/type").get("machine").startswith("pc-q35")
        time.sleep(3)  # many guest resets under TCG
        assert dom.isActive()
        # migration_downtime: the module sets it before the migration starts; libvirt
        # accepts it on a running domain and reports it back
        dom.migrateSetMaxDowntime(45, 0)
        assert dom.migrateGetMaxDowntime(0) == 45
    finally:
        conn.close()
        cleanup(name)
