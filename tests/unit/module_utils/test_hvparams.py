"""One hvparam table (plugins/module_utils/hvparams.py), used by the coordinator and the node;
every parameter in it takes effect (domain XML or migration call), issue 10."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils import hvparams as table
from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import (
    HVPARAM_DEFAULTS,
    DomainSpecError,
    render_domain_xml,
)
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import DomainError
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_migrate import max_downtime_of
from gnt.core.errors import OpPrereqError
from gnt.opcodes import params

SPEC = {
    "name": "inst1.example.com",
    "uuid": "6f1a3a8e-2d7e-4c51-9a53-0c5d1c7c2a11",
    "os": "tinylinux",
    "hvparams": {},
    "beparams": {"maxmem": 256, "minmem": 128, "vcpus": 1},
    "memory": 256,
    "disks": [{"index": 0, "path": "/srv/d0", "mode": "rw"}],
    "nics": [{"index": 0, "mac": "aa:00:00:12:34:56", "mode": "bridged", "link": "br0"}],
    "console_log": "/tmp/c.log",
}

# A value other than the default for each parameter that is not a choice.
OTHER_VALUE = {
    "kernel_path": "/boot/vmlinuz", "kernel_args": "quiet", "initrd_path": "/boot/initrd",
    "root_path": "/dev/sda2", "serial_console": False, "serial_speed": 9600,
    "cpu_type": "qemu64", "vnc_bind_address": "0.0.0.0", "machine_version": "q35",
    "migration_downtime": 500,
}


# Parameters of the direct kernel boot: they act only with a kernel_path.
NEEDS_KERNEL = {"kernel_args", "initrd_path", "root_path", "serial_speed"}


def xml_of(**hv):
    spec = copy.deepcopy(SPEC)
    spec["hvparams"] = hv
    return ET.fromstring(render_domain_xml(spec))


def other_values(name):
    kind, default, choices, _effect = table.KVM_HVPARAMS[name]
    if kind == table.KIND_CHOICE:
        return [value for value in choices if value != default]
    return [OTHER_VALUE[name]]


def effect_of(name, hv):
    """What the parameter drives: the domain XML, or the migration's maximum downtime."""
    if table.KVM_HVPARAMS[name][3] == table.EFFECT_MIGRATION:
        return max_downtime_of("i1", hv)
    spec = copy.deepcopy(SPEC)
    spec["hvparams"] = hv
    # hash-free XML: the spec hash differs whenever anything differs
    text = render_domain_xml(spec)
    return text.split("<gnt:spec_hash>")[0] + text.split("</gnt:spec_hash>")[1]


@pytest.mark.parametrize("name", sorted(table.KVM_HVPARAMS))
def test_every_table_entry_takes_effect(name):
    """A parameter the node ignores (a dead entry) fails here. kernel_args, initrd_path,
    root_path and serial_speed act on the kernel command line, so with a kernel_path."""
    base = {"kernel_path": "/boot/vmlinuz"} if name in NEEDS_KERNEL else {}
    if name == "accel":
        base = {"accel": "kvm"}
    before = effect_of(name, dict(base))
    for value in other_values(name):
        if name == "accel" and value == "kvm":
            continue
        after = effect_of(name, dict(base, **{name: value}))
        assert after != before, f"hvparam {name}={value!r} changes nothing"


def test_coordinator_and_node_share_defaults_and_names():
    coordinator = params.defaults(params.HVPARAMS_KVM)
    assert coordinator == HVPARAM_DEFAULTS == table.kvm_defaults()
    # Ganeti's root_path default, on both sides (the node had "" before)
    assert HVPARAM_DEFAULTS["root_path"] == "/dev/vda1"


@pytest.mark.parametrize("name", sorted(n for n, e in table.KVM_HVPARAMS.items()
                                        if e[0] == table.KIND_CHOICE))
def test_choices_agree_between_coordinator_and_node(name):
    for value in table.KVM_HVPARAMS[name][2]:
        assert params.check_hvparams("kvm", {name: value}) == {name: value}
        if value or name != "accel":
            xml_of(**{name: value})
    with pytest.raises(OpPrereqError, match=f"'{name}'.*'bogus' is not one of"):
        params.check_hvparams("kvm", {name: "bogus"})
    with pytest.raises(DomainSpecError, match=f"invalid hvparam {name} 'bogus'"):
        xml_of(**{name: "bogus"})


def test_machine_version():
    assert xml_of().find("os/type").get("machine") is None
    assert xml_of(machine_version="pc-q35-7.2").find("os/type").get("machine") == "pc-q35-7.2"
    assert xml_of(machine_version="a'b").find("os/type").get("machine") == "a'b"


def test_reboot_behavior():
    assert xml_of().findtext("on_reboot") == "restart"
    assert xml_of(reboot_behavior="reboot").findtext("on_reboot") == "restart"
    assert xml_of(reboot_behavior="exit").findtext("on_reboot") == "destroy"
    assert xml_of(reboot_behavior="exit").findtext("on_poweroff") == "destroy"


def test_cpu_type_host_is_passthrough():
    cpu = xml_of(cpu_type="host").find("cpu")
    assert cpu.get("mode") == "host-passthrough" and cpu.find("model") is None
    assert xml_of(cpu_type="qemu64").findtext("cpu/model") == "qemu64"
    assert xml_of().find("cpu") is None


def test_unknown_hvparam_refused_on_the_node_and_the_coordinator():
    with pytest.raises(DomainSpecError, match="inst1.example.com: unknown hvparam.* spice_bind"):
        xml_of(spice_bind="x")
    with pytest.raises(OpPrereqError, match="Unknown hypervisor.*parameter 'spice_bind'"):
        params.check_hvparams("kvm", {"spice_bind": "x"})


def test_migration_downtime():
    assert max_downtime_of("i1", {}) == 30  # Ganeti's default
    assert max_downtime_of("i1", {"migration_downtime": 250}) == 250
    assert max_downtime_of("i1", {"migration_downtime": 250}, explicit_ms=80) == 80
    for bad in (0, -5, "soon", True):
        with pytest.raises(DomainError, match="domain i1: hvparam migration_downtime"):
            max_downtime_of("i1", {"migration_downtime": bad})
    for bad in (0, "x", -1):
        with pytest.raises(OpPrereqError, match="'migration_downtime'"):
            params.check_hvparams("kvm", {"migration_downtime": bad})
    assert params.check_hvparams("kvm", {"migration_downtime": "100"}) == \
        {"migration_downtime": 100}


def test_serial_speed_must_be_positive():
    with pytest.raises(OpPrereqError, match="'serial_speed'.*less than 1"):
        params.check_hvparams("kvm", {"serial_speed": 0})


def test_empty_choice_is_named_in_the_message():
    with pytest.raises(OpPrereqError, match=r"'xen' is not one of '' \(empty\), kvm, tcg"):
        params.check_hvparams("kvm", {"accel": "xen"})
