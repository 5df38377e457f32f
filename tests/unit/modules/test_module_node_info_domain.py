"""gnt.cluster.node_info, gnt.cluster.domain_info and the argument checks of
gnt.cluster.domain through ansible."""

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


@pytest.mark.integration  # talks to the real libvirtd
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
    assert not ok and "reboot_type=hard needs spec" in result["msg"]
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "rebooted",
                                       "reboot_type": "full"})
    assert not ok and "reboot_type=full needs spec" in result["msg"]


def test_domain_state_choices_and_default(run_module):
    ok, result = run_module("domain", {"name": "gnt-test-x", "state": "info"})
    assert not ok and "state" in result["msg"] and "rebooted, absent" in result["msg"]
    # the default state is "defined", which needs a spec (and never starts anything)
    ok, result = run_module("domain", {"name": "gnt-test-x"})
    assert not ok and "state is defined" in result["msg"] and "spec" in result["msg"]


@pytest.mark.integration  # talks to the real libvirtd
def test_domain_info_absent_domain(run_module):
    reason = libvirt_reachable()
    if reason:
        pytest.skip(reason + " (run scripts/setup.sh --test)")
    name = "gnt-test-no-such-domain"
    ok, result = run_module("domain_info", {"name": name}, check=True)
    assert ok and result["changed"] is False
    assert result["name"] == name and result["state"] == "absent" and result["id"] == -1
    assert result["xml"] == "" and result["persistent"] is False
    assert "definition_outdated" not in result
    spec = {"name": name, "hvparams": {"accel": "tcg"}, "beparams": {"maxmem": 64}}
    ok, result = run_module("domain_info", {"name": name, "spec": spec})
    assert ok and result["changed"] is False and result["definition_outdated"] is True


def test_domain_info_argument_errors(run_module):
    ok, result = run_module("domain_info", {"name": "gnt-test-x",
                                            "spec": {"name": "gnt-test-y"}})
    assert not ok and "spec is for instance gnt-test-y" in result["msg"]
    ok, result = run_module("domain_info", {"name": "gnt-test-x",
                                            "uri": "qemu:///system?socket=/nonexistent/sock"})
    assert not ok and "/nonexistent/sock" in result["msg"]
    ok, result = run_module("domain_info", {"name": "gnt-test-x", "state": "running"})
    assert not ok and "state" in result["msg"]
