"""gnt.cluster.node_info and the argument checks of gnt.cluster.domain through ansible."""

from __future__ import annotations

import pytest


def libvirt_reachable() -> str:
    try:
        import libvirt
    except ImportError:
        return "the libvirt Python binding is not installed"
    try:
        libvirt.open("qemu:///system").close()
    except libvirt.libvirtError as err:
        return f"libvirt at qemu:///system is unreachable: {err}"
    return ""


def test_node_info(run_module, tmp_path):
    reason = libvirt_reachable()
    if reason:
        pytest.skip(reason + " (run scripts/setup.sh --test)")
    ok, result = run_module("node_info", {"storage_dirs": [str(tmp_path)]}, check=True)
    assert ok and result["changed"] is False
    assert result["memory_total_mib"] > 0
    assert 0 <= result["memory_free_mib"] <= result["memory_total_mib"]
    assert result["cpus"] >= 1
    assert result["hypervisor"]["type"] == "QEMU"
    assert result["hypervisor"]["version"].count(".") == 2
    assert result["accel_default"] in ("kvm", "tcg")
    assert result["storage"][str(tmp_path)]["exists"] is True
    assert result["storage"][str(tmp_path)]["total_mib"] > 0
    assert isinstance(result["domains"], dict) and isinstance(result["bridges"], list)


def test_node_info_unreachable_uri(run_module):
    ok, result = run_module("node_info", {"uri": "qemu:///system?socket=/nonexistent/sock"})
    assert not ok and "/nonexistent/sock" in result["msg"]


def test_domain_argument_errors(run_module):
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "running"})
    assert not ok and "spec" in result["msg"]
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "shutdown",
                                       "memory_mib": 128})
    assert not ok and "memory_mib is only valid with state=running" in result["msg"]
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "defined",
                                       "spec": {"name": "gnt-test-x",
                                                "hvparams": {"accel": "xen"},
                                                "beparams": {"maxmem": 64}}})
    assert not ok and "accel 'xen'" in result["msg"]
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "rebooted",
                                       "reboot_type": "hard"})
    assert not ok and "needs spec" in result["msg"]
