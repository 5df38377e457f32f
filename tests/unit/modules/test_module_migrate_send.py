"""gnt.cluster.domain_migrate and gnt.cluster.file_disk_send through ansible: argument
checks, unreachable targets (clear errors, nothing changed), a real local disk copy over SSH
refused on a closed port."""

from __future__ import annotations

import pytest


def _libvirt_reason() -> str:
    try:
        import libvirt
    except ImportError:
        return "the libvirt Python binding is not installed"
    try:
        libvirt.open("qemu:///system").close()
    except libvirt.libvirtError as err:
        return f"libvirt at qemu:///system is unreachable: {err} (run scripts/setup.sh)"
    return ""


def test_domain_migrate_argument_errors(run_module):
    ok, result = run_module("domain_migrate", {"name": "i1", "dest_uri": "qemu:///system"})
    assert not ok and "dest_uri qemu:///system is the source uri itself" in result["msg"]
    ok, result = run_module("domain_migrate", {"name": "i1", "dest_uri": "qemu+tcp://x/system",
                                               "max_downtime_ms": 0})
    assert not ok and "max_downtime_ms must be positive, got 0" in result["msg"]
    ok, result = run_module("domain_migrate", {"name": "i1", "dest_uri": "qemu+tcp://x/system",
                                               "timeout": -1})
    assert not ok and "timeout must be >= 0" in result["msg"]
    ok, result = run_module("domain_migrate", {"name": "i1"})
    assert not ok and "dest_uri" in result["msg"]


@pytest.mark.integration  # talks to the real libvirtd
def test_domain_migrate_unreachable_destination(run_module):
    reason = _libvirt_reason()
    if reason:
        pytest.skip(reason)
    dest = "qemu+tcp://127.0.0.1:1/system"       # closed port on loopback
    ok, result = run_module("domain_migrate", {"name": "gnt-no-such-domain", "dest_uri": dest})
    assert not ok
    assert "cannot connect to libvirt at %s" % dest in result["msg"]
    assert "nothing was done" in result["msg"] and "absent" in result["msg"]


def test_file_disk_send_argument_errors(run_module, tmp_path):
    disk = {"src": str(tmp_path / "d0"), "dst": str(tmp_path / "d0")}
    ok, result = run_module("file_disk_send", {"target_address": "127.0.0.1",
                                               "disks": [disk, disk]})
    assert not ok and "is listed twice" in result["msg"]
    ok, result = run_module("file_disk_send", {"target_address": "127.0.0.1", "disks": [disk],
                                               "target_port": 70000})
    assert not ok and "target_port 70000 is not a TCP port" in result["msg"]
    ok, result = run_module("file_disk_send", {"target_address": "127.0.0.1", "disks": []})
    assert not ok and "at least one" in result["msg"]


def test_file_disk_send_unreachable_target(run_module, tmp_path):
    src = tmp_path / "d0"
    src.write_bytes(b"x" * 4096)
    ok, result = run_module("file_disk_send", {
        "target_address": "127.0.0.1", "target_port": 1,
        "disks": [{"src": str(src), "dst": str(tmp_path / "copy")}]}, check=True)
    assert not ok and "cannot inspect %s on root@127.0.0.1:1" % (tmp_path / "copy") in result["msg"]
    assert "refused" in result["msg"].lower()
    assert not (tmp_path / "copy").exists()
