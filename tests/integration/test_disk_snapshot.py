"""gnt.cluster.domain_disk_snapshot and the instance_disk_snapshot role against the real
libvirt on qemu:///system (TCG domains without an OS: they idle in the BIOS).

Copy-on-write is checked for real: while the snapshot exists, a pattern is written into the
guest's disk through QEMU itself (HMP ``qemu-io`` on the virtio device's block backend) and
must land in the overlay, not in the frozen base; after the commit it is in the base.
Every domain is named ``gnt-test-<random>`` and destroyed/undefined in a finally block.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import gnt_ansible
import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    definition_outdated,
    ensure_defined,
    ensure_running,
    render,
)
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_snapshot import file_disks

pytestmark = pytest.mark.integration

URI = "qemu:///system"
S = ".gnt-snap"
MIB = 2**20


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if shutil.which("qemu-img") is None or shutil.which("qemu-io") is None:
        pytest.skip("qemu-img/qemu-io are not installed (qemu-utils)")
    return gnt_ansible.ansible_env(tmp_path_factory.mktemp("ansible"))


@pytest.fixture
def conn():
    import libvirt

    connection = libvirt.open(URI)
    yield connection
    connection.close()


def snap(env, name, check=False, **args):
    return gnt_ansible.run_module(env, "domain_disk_snapshot", dict(args, name=name, uri=URI),
                                  check=check)


def cleanup(conn, name):
    import libvirt

    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass


def make_instance(tmp_path, ndisks=2):
    """A diskful TCG spec whose raw disks (4 MiB, 0x11 in the first 64 KiB) exist."""
    name = f"gnt-test-{uuid.uuid4().hex[:8]}"
    disks = []
    for i in range(ndisks):
        path = tmp_path / f"disk{i}"
        path.write_bytes(b"\x11" * 65536)
        with open(path, "r+b") as f:
            f.truncate(4 * MIB)
        disks.append({"index": i, "uuid": str(uuid.uuid4()), "path": str(path), "size_mib": 4,
                      "mode": "rw"})
    return {
        "name": name, "uuid": str(uuid.uuid4()), "os": "none", "osparams": {},
        "hypervisor": "kvm",
        "hvparams": {"accel": "tcg", "boot_order": "disk", "disk_type": "paravirtual",
                     "nic_type": "paravirtual", "kernel_path": "", "kernel_args": "ro",
                     "initrd_path": "", "serial_console": True, "serial_speed": 115200,
                     "cpu_type": "", "vnc_bind_address": ""},
        "beparams": {"maxmem": 64, "minmem": 64, "vcpus": 1},
        "memory": 64, "disk_template": "file", "disks": disks, "nics": [],
        "console_log": str(tmp_path / "console" / f"{name}.log"),
    }


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sources(conn, name, inactive=False):
    """{target: (source, format, backing)} of the live (or persistent) definition."""
    import libvirt

    dom = conn.lookupByName(name)
    xml_text = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)
    return {d["target"]: (d["source"], d["format"], d["backing"]) for d in file_disks(xml_text)}


def guest_write(conn, name, target, byte, offset):
    """Write 64 KiB of ``byte`` at ``offset`` into disk ``target`` through the running QEMU
    (what the guest would do), then flush."""
    import libvirt_qemu

    dom = conn.lookupByName(name)
    disk = [d for d in ET.fromstring(dom.XMLDesc(0)).findall("devices/disk")
            if d.find("target").get("dev") == target][0]
    device = "/machine/peripheral/%s/virtio-backend" % disk.find("alias").get("name")
    for cmd in ("write -P 0x%02x %d 64k" % (byte, offset), "flush"):
        out = libvirt_qemu.qemuMonitorCommand(dom, 'qemu-io -d %s "%s"' % (device, cmd),
                                              libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        assert out.strip() == "", out


def image_has(path, byte, offset, fmt):
    """Whether the image (read by qemu-io, sharing locks) has 64 KiB of ``byte`` at
    ``offset``."""
    proc = subprocess.run(["qemu-io", "-U", "-r", "-f", fmt, "-c",
                           "read -P 0x%02x %d 64k" % (byte, offset), str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and "read 65536/65536" in proc.stdout and \
        "verification failed" not in proc.stdout


def raw_has(path, byte, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(65536) == bytes([byte]) * 65536


def test_snapshot_write_commit_on_a_running_domain(env, conn, tmp_path):
    spec = make_instance(tmp_path)
    name = spec["name"]
    d0, d1 = (d["path"] for d in spec["disks"])
    try:
        ensure_running(conn, spec)
        before = {p: sha(p) for p in (d0, d1)}
        expected = [{"target": "vda", "base": d0, "overlay": d0 + S},
                    {"target": "vdb", "base": d1, "overlay": d1 + S}]

        ok, res = snap(env, name, check=True)
        assert ok and res["changed"] is True and res["disks"] == expected, res
        assert not Path(d0 + S).exists() and sources(conn, name)["vda"][0] == d0

        ok, res = snap(env, name, state="present")
        assert ok and res["changed"] is True and res["disks"] == expected, res
        assert Path(d0 + S).is_file() and Path(d1 + S).is_file()
        assert sources(conn, name) == {"vda": (d0 + S, "qcow2", d0), "vdb": (d1 + S, "qcow2", d1)}
        assert sources(conn, name, inactive=True)["vda"][0] == d0 + S

        ok, res = snap(env, name)
        assert ok and res["changed"] is False and res["disks"] == expected, res

        # the guest keeps writing: into the overlay, the bases stay frozen
        guest_write(conn, name, "vda", 0xAB, 1 * MIB)
        assert {p: sha(p) for p in (d0, d1)} == before
        assert image_has(d0 + S, 0xAB, 1 * MIB, "qcow2")
        assert image_has(d0 + S, 0x11, 0, "qcow2")  # the base's data seen through it

        ok, res = snap(env, name, check=True, state="absent")
        assert ok and res["changed"] is True
        assert [d["action"] for d in res["disks"]] == ["committed", "committed"]
        assert Path(d0 + S).exists() and sources(conn, name)["vda"][0] == d0 + S

        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is True, res
        assert res["disks"] == [dict(e, action="committed") for e in expected]
        assert not Path(d0 + S).exists() and not Path(d1 + S).exists()
        assert raw_has(d0, 0xAB, 1 * MIB) and raw_has(d0, 0x11, 0)
        assert sha(d1) == before[d1]
        raw = {"vda": (d0, "raw", None), "vdb": (d1, "raw", None)}
        assert sources(conn, name) == raw
        assert sources(conn, name, inactive=True) == raw
        dom = conn.lookupByName(name)
        assert dom.isActive() and not definition_outdated(dom, render(spec, "tcg"))

        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is False and res["disks"] == [], res
    finally:
        cleanup(conn, name)


def test_refusals_stopped_domain_and_stale_overlay(env, conn, tmp_path):
    spec = make_instance(tmp_path, ndisks=1)
    name = spec["name"]
    d0 = spec["disks"][0]["path"]
    try:
        ok, res = snap(env, name)  # not even defined
        assert not ok and f"disks of domain {name}: it is not running" in res["msg"], res
        ok, res = snap(env, name, state="absent")
        assert not ok and name in res["msg"] and "not defined" in res["msg"]

        ensure_defined(conn, spec)
        for check in (True, False):
            ok, res = snap(env, name, check=check)
            assert not ok and name in res["msg"] and "not running" in res["msg"], res
        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is False and res["disks"] == []

        ensure_running(conn, spec)
        Path(d0 + S).write_bytes(b"someone else's file")
        for check in (True, False):
            ok, res = snap(env, name, check=check)
            assert not ok and f"overlay file {d0 + S} already exists" in res["msg"], res
            assert "check it and remove it" in res["msg"] and name in res["msg"]
        assert Path(d0 + S).read_bytes() == b"someone else's file"
        assert sources(conn, name)["vda"][0] == d0
        ok, res = snap(env, name, state="absent")
        assert not ok and f"runs disk vda on its base {d0}" in res["msg"], res
        assert Path(d0 + S).read_bytes() == b"someone else's file"

        ok, res = snap(env, name, suffix="")
        assert not ok and "invalid overlay suffix" in res["msg"]
        ok, res = snap(env, name, state="absent", timeout=-1)
        assert not ok and "timeout must be >= 0" in res["msg"]
    finally:
        cleanup(conn, name)


def test_offline_commit_after_the_guest_stopped(env, conn, tmp_path):
    import libvirt

    spec = make_instance(tmp_path)
    name = spec["name"]
    d0, d1 = (d["path"] for d in spec["disks"])
    raw = {"vda": (d0, "raw", None), "vdb": (d1, "raw", None)}
    try:
        ensure_running(conn, spec)
        dom = conn.lookupByName(name)
        original = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

        # 1. the guest stops while its disks run on the overlays
        ok, res = snap(env, name)
        assert ok and res["changed"] is True
        guest_write(conn, name, "vda", 0xA1, 1 * MIB)
        dom.destroy()
        assert sources(conn, name, inactive=True)["vda"] == (d0 + S, "qcow2", d0)
        ok, res = snap(env, name, state="absent", check=True)
        assert ok and res["changed"] is True and Path(d0 + S).exists()
        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is True, res
        assert [(d["target"], d["action"]) for d in res["disks"]] == [
            ("vda", "committed_offline"), ("vdb", "committed_offline")]
        assert raw_has(d0, 0xA1, 1 * MIB) and raw_has(d0, 0x11, 0)
        assert not Path(d0 + S).exists() and not Path(d1 + S).exists()
        assert sources(conn, name, inactive=True) == raw
        assert not definition_outdated(dom, render(spec, "tcg"))
        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is False and res["disks"] == []
        dom.create()
        assert dom.isActive() and sources(conn, name) == raw

        # 2. overlays orphaned: the definition was replaced by one on the bases meanwhile
        ok, res = snap(env, name)
        assert ok and res["changed"] is True
        guest_write(conn, name, "vdb", 0xB2, 2 * MIB)
        dom.destroy()
        conn.defineXML(original)
        ok, res = snap(env, name, state="absent")
        assert ok and res["changed"] is True, res
        assert {d["action"] for d in res["disks"]} == {"committed_offline"}
        assert raw_has(d1, 0xB2, 2 * MIB) and not Path(d1 + S).exists()
        assert sources(conn, name, inactive=True) == raw

        # 3. ... and the domain ran (and wrote) on the bases since: refused, nothing lost
        dom.create()
        ok, res = snap(env, name)
        assert ok and res["changed"] is True
        dom.destroy()
        conn.defineXML(original)
        dom.create()
        guest_write(conn, name, "vda", 0xC3, 3 * MIB)
        dom.destroy()
        ok, res = snap(env, name, state="absent")
        assert not ok and f"overlay {d0 + S}" in res["msg"] and "written after" in res["msg"]
        assert Path(d0 + S).exists() and raw_has(d0, 0xC3, 3 * MIB)
    finally:
        cleanup(conn, name)


PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: gnt.cluster.instance_disk_snapshot
    - name: Dump the result
      ansible.builtin.copy:
        content: "{{{{ gnt_snapshot_result | to_json }}}}"
        dest: "{out}"
        mode: "0644"
"""


def test_role_publishes_gnt_snapshot_result(env, conn, tmp_path):
    spec = make_instance(tmp_path, ndisks=1)
    name = spec["name"]
    d0 = spec["disks"][0]["path"]

    def role(state, n):
        out, play, varfile = (tmp_path / f"{kind}{n}" for kind in ("out", "play", "vars"))
        play.write_text(PLAY.format(out=out))
        varfile.write_text(json.dumps({
            "gnt_instance": spec, "gnt_node": {"libvirt_uri": URI},
            "gnt_snapshot": {"state": state, "timeout": 60},
            "ansible_python_interpreter": sys.executable}))
        proc = subprocess.run([str(gnt_ansible.PLAYBOOK), "-i", "localhost,", str(play),
                               "-e", f"@{varfile}"], env=env, capture_output=True, text=True,
                              check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(out.read_text())

    try:
        ensure_running(conn, spec)
        assert role("present", 1) == {"changed": True, "disks": [
            {"target": "vda", "base": d0, "overlay": d0 + S}]}
        assert sources(conn, name)["vda"][0] == d0 + S
        assert role("present", 2)["changed"] is False
        assert role("absent", 3) == {"changed": True, "disks": [
            {"target": "vda", "base": d0, "overlay": d0 + S, "action": "committed"}]}
        assert sources(conn, name)["vda"] == (d0, "raw", None) and not Path(d0 + S).exists()
        assert role("absent", 4) == {"changed": False, "disks": []}
    finally:
        cleanup(conn, name)
