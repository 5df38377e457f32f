"""domain_xml: every hvparam / NIC / disk variant rendered and parsed back."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import (
    METADATA_NS,
    DomainSpecError,
    minmem_of,
    render_domain_xml,
    spec_hash_of,
)

BASE = {
    "name": "inst1.example.com",
    "uuid": "6f1a3a8e-2d7e-4c51-9a53-0c5d1c7c2a11",
    "os": "tinylinux",
    "osparams": {},
    "hypervisor": "kvm",
    "hvparams": {"accel": "", "boot_order": "disk", "disk_type": "paravirtual",
                 "nic_type": "paravirtual", "kernel_path": "", "kernel_args": "ro",
                 "initrd_path": "", "serial_console": True, "serial_speed": 115200,
                 "cpu_type": "", "vnc_bind_address": ""},
    "beparams": {"maxmem": 256, "minmem": 128, "vcpus": 2, "auto_balance": True,
                 "always_failover": False},
    "memory": 192,
    "disk_template": "file",
    "disks": [
        {"index": 0, "uuid": "d0", "path": "/srv/gnt/file-storage/inst1/disk0",
         "size_mib": 1024, "mode": "rw"},
        {"index": 1, "uuid": "d1", "path": "/srv/gnt/file-storage/inst1/disk1",
         "size_mib": 512, "mode": "ro"},
    ],
    "nics": [{"index": 0, "uuid": "n0", "mac": "aa:00:00:12:34:56", "ip": None,
              "mode": "bridged", "link": "gnt-br0"}],
    "console_log": "/gnt/var/log/gnt/console/inst1.example.com.log",
}


def spec(**hv):
    result = copy.deepcopy(BASE)
    result["hvparams"].update(hv)
    return result


def parse(spec_dict, accel_default="kvm"):
    return ET.fromstring(render_domain_xml(spec_dict, accel_default))


def test_basic_domain():
    root = parse(spec())
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "inst1.example.com"
    assert root.findtext("uuid") == BASE["uuid"]
    assert root.find("memory").get("unit") == "MiB"
    assert root.findtext("memory") == "256"
    assert root.findtext("currentMemory") == "192"
    assert root.findtext("vcpu") == "2"
    assert root.findtext("os/type") == "hvm"
    assert root.find("os/boot").get("dev") == "hd"
    assert root.find("os/kernel") is None
    assert root.find("features/acpi") is not None and root.find("features/apic") is not None
    assert root.findtext("on_poweroff") == "destroy"
    assert root.findtext("on_reboot") == "restart"
    assert root.findtext("on_crash") == "destroy"
    assert root.find("cpu") is None  # default CPU model, never host-passthrough
    assert root.find("devices/memballoon").get("model") == "virtio"
    assert root.find("devices/graphics") is None
    assert minmem_of(ET.tostring(root, encoding="unicode")) == 128


@pytest.mark.parametrize("accel,default,expected", [
    ("kvm", "tcg", "kvm"), ("tcg", "kvm", "qemu"), ("", "tcg", "qemu"), ("", "kvm", "kvm")])
def test_accel(accel, default, expected):
    assert parse(spec(accel=accel), default).get("type") == expected


def test_invalid_accel_names_value_and_choices():
    with pytest.raises(DomainSpecError, match=r"inst1.example.com.*accel 'xen'.*kvm, tcg"):
        render_domain_xml(spec(accel="xen"))


@pytest.mark.parametrize("order,dev", [("disk", "hd"), ("cdrom", "cdrom"),
                                       ("network", "network"), ("floppy", "fd")])
def test_boot_order(order, dev):
    assert parse(spec(boot_order=order)).find("os/boot").get("dev") == dev


def test_bad_boot_order():
    with pytest.raises(DomainSpecError, match="boot_order 'usb'"):
        render_domain_xml(spec(boot_order="usb"))


def test_direct_kernel_boot():
    root = parse(spec(kernel_path="/boot/vmlinuz", initrd_path="/boot/initrd.img",
                      kernel_args="ro quiet", root_path="/dev/vda1", serial_speed=38400))
    assert root.find("os/boot") is None
    assert root.findtext("os/kernel") == "/boot/vmlinuz"
    assert root.findtext("os/initrd") == "/boot/initrd.img"
    assert root.findtext("os/cmdline") == "root=/dev/vda1 ro quiet console=ttyS0,38400"


def test_direct_kernel_boot_without_serial_or_initrd():
    root = parse(spec(kernel_path="/k", serial_console=False))
    assert root.find("os/initrd") is None
    # root_path defaults to Ganeti's /dev/vda1 on the node too (one table)
    assert root.findtext("os/cmdline") == "root=/dev/vda1 ro"
    root = parse(spec(kernel_path="/k", serial_console=False, root_path=""))
    assert root.findtext("os/cmdline") == "ro"
    assert root.find("devices/serial") is None and root.find("devices/console") is None


@pytest.mark.parametrize("disk_type,bus,devs", [
    ("paravirtual", "virtio", ["vda", "vdb"]), ("ide", "ide", ["hda", "hdb"]),
    ("scsi", "scsi", ["sda", "sdb"])])
def test_disks(disk_type, bus, devs):
    disks = parse(spec(disk_type=disk_type)).findall("devices/disk")
    assert len(disks) == 2
    for disk, dev, source in zip(disks, devs, BASE["disks"]):
        assert disk.get("type") == "file" and disk.get("device") == "disk"
        assert disk.find("driver").get("type") == "raw"
        assert disk.find("source").get("file") == source["path"]
        assert disk.find("target").get("bus") == bus
        assert disk.find("target").get("dev") == dev
    assert disks[0].find("readonly") is None
    assert disks[1].find("readonly") is not None


def test_disks_sorted_by_index_and_diskless():
    s = spec()
    s["disks"].reverse()
    disks = parse(s).findall("devices/disk")
    assert disks[0].find("source").get("file").endswith("disk0")
    s["disks"], s["disk_template"] = [], "diskless"
    assert parse(s).findall("devices/disk") == []


def test_bad_disk_type_and_mode():
    with pytest.raises(DomainSpecError, match="disk_type 'floppy'.*ide, paravirtual, scsi"):
        render_domain_xml(spec(disk_type="floppy"))
    s = spec()
    s["disks"][0]["mode"] = "rwx"
    with pytest.raises(DomainSpecError, match="invalid mode 'rwx'"):
        render_domain_xml(s)


@pytest.mark.parametrize("nic_type,model", [("paravirtual", "virtio"), ("e1000", "e1000"),
                                            ("rtl8139", "rtl8139")])
def test_nic_models(nic_type, model):
    nic = parse(spec(nic_type=nic_type)).find("devices/interface")
    assert nic.find("model").get("type") == model


def test_bridged_nic():
    nic = parse(spec()).find("devices/interface")
    assert nic.get("type") == "bridge"
    assert nic.find("source").get("bridge") == "gnt-br0"
    assert nic.find("mac").get("address") == "aa:00:00:12:34:56"
    assert nic.find("virtualport") is None


def test_routed_and_openvswitch_nics():
    s = spec()
    s["nics"] = [{"index": 0, "mac": "aa:00:00:00:00:01", "mode": "routed", "link": "100"},
                 {"index": 1, "mac": "aa:00:00:00:00:02", "mode": "openvswitch",
                  "link": "ovs0"}]
    routed, ovs = parse(s).findall("devices/interface")
    assert routed.get("type") == "ethernet"
    assert routed.find("source") is None
    assert routed.find("mac").get("address") == "aa:00:00:00:00:01"
    assert ovs.get("type") == "bridge"
    assert ovs.find("virtualport").get("type") == "openvswitch"


def test_bad_nics():
    s = spec()
    s["nics"][0]["mode"] = "nat"
    with pytest.raises(DomainSpecError, match="nic 0 has invalid mode 'nat'"):
        render_domain_xml(s)
    s["nics"][0].update(mode="bridged", link="")
    with pytest.raises(DomainSpecError, match="needs a link"):
        render_domain_xml(s)
    with pytest.raises(DomainSpecError, match="nic_type 'virtio'"):
        render_domain_xml(spec(nic_type="virtio"))


def test_serial_console_with_log():
    root = parse(spec())
    serial = root.find("devices/serial")
    assert serial.get("type") == "pty"
    log = serial.find("log")
    assert log.get("file") == BASE["console_log"] and log.get("append") == "on"
    console = root.find("devices/console")
    assert console.get("type") == "pty"
    assert console.find("target").get("type") == "serial"


def test_cpu_type_and_vnc():
    root = parse(spec(cpu_type="qemu64", vnc_bind_address="127.0.0.1"))
    cpu = root.find("cpu")
    assert cpu.get("mode") == "custom"
    assert cpu.findtext("model") == "qemu64"
    graphics = root.find("devices/graphics")
    assert graphics.get("type") == "vnc" and graphics.get("listen") == "127.0.0.1"


def test_memory_validation():
    s = spec()
    s["memory"] = 512
    with pytest.raises(DomainSpecError, match="memory 512 MiB is larger than maxmem 256"):
        render_domain_xml(s)
    s = spec()
    s["beparams"]["minmem"] = 1024
    with pytest.raises(DomainSpecError, match="minmem 1024"):
        render_domain_xml(s)
    s = spec()
    s["beparams"]["vcpus"] = "two"
    with pytest.raises(DomainSpecError, match="vcpus must be an integer"):
        render_domain_xml(s)


def test_escaping():
    s = spec(kernel_path="/k", kernel_args="a<b & 'c'", root_path="")
    s["console_log"] = "/tmp/it's.log"
    root = parse(s)
    assert root.findtext("os/cmdline").startswith("a<b & 'c'")
    assert root.find("devices/serial/log").get("file") == "/tmp/it's.log"


def test_spec_hash_tracks_changes():
    first = render_domain_xml(spec())
    assert render_domain_xml(spec()) == first
    h = spec_hash_of(first)
    assert len(h) == 64
    assert ET.fromstring(first).find("metadata/{%s}instance" % METADATA_NS) is not None
    changed = spec()
    changed["memory"] = 128
    assert spec_hash_of(render_domain_xml(changed)) != h
    fixed = render_domain_xml(spec(accel="kvm"), accel_default="kvm")
    assert spec_hash_of(render_domain_xml(spec(accel="kvm"), accel_default="tcg")) == \
        spec_hash_of(fixed)  # an explicit accel ignores the node default
    assert spec_hash_of(render_domain_xml(spec(accel=""), "tcg")) != \
        spec_hash_of(render_domain_xml(spec(accel=""), "kvm"))
    assert spec_hash_of("<domain/>") == "" and spec_hash_of("not xml") == ""


@pytest.mark.parametrize("dev_type", ["plain", "drbd"])
def test_block_device_disks(dev_type):
    s = spec()
    s["disks"][0].update(dev_type=dev_type, path="/dev/xenvg/abc.disk0")
    s["disks"][1]["dev_type"] = "file"
    block, file_disk = parse(s).findall("devices/disk")
    assert block.get("type") == "block" and block.find("source").get("dev") == \
        "/dev/xenvg/abc.disk0"
    assert block.find("source").get("file") is None
    assert block.find("driver").get("type") == "raw"
    assert file_disk.get("type") == "file" and file_disk.find("source").get("file")


def test_ext_disk_is_a_file_disk_when_its_path_is_a_regular_file(tmp_path):
    """ext: the attach script printed a regular file (file-backed provider) -> a file disk,
    through the node's link; anything else (a block device) -> a block disk."""
    volume = tmp_path / "vol.ext.disk0"
    volume.write_bytes(b"")
    link = tmp_path / "inst1:0"
    link.symlink_to(volume)
    s = spec()
    s["disk_template"] = "ext"
    s["disks"][0].update(dev_type="ext", path=str(link))
    s["disks"][1].update(dev_type="ext", path=str(tmp_path / "missing-block-device-link"))
    file_disk, block = parse(s).findall("devices/disk")
    assert file_disk.get("type") == "file" and file_disk.find("source").get("file") == str(link)
    assert block.get("type") == "block"


def _fresh_render(monkeypatch, directory):
    """Render in a "new process": no template compiled yet, the cache in ``directory``."""
    from ansible_collections.gnt.cluster.plugins.module_utils import domain_xml

    monkeypatch.setattr(domain_xml, "BYTECODE_DIR", str(directory))
    monkeypatch.setattr(domain_xml, "_TEMPLATE_CACHE", [])
    return render_domain_xml(copy.deepcopy(BASE))


def test_the_compiled_template_is_kept_in_a_private_directory(monkeypatch, tmp_path):
    """The second module run loads the compiled template (Jinja's bytecode cache) instead of
    compiling it again; the XML is the same."""
    import os

    cache = tmp_path / "jinja"
    first = _fresh_render(monkeypatch, cache)
    assert (cache.stat().st_mode & 0o777) == 0o700
    [kept] = list(cache.iterdir())
    mtime = kept.stat().st_mtime_ns
    os.utime(kept, ns=(mtime - 10**9, mtime - 10**9))
    assert _fresh_render(monkeypatch, cache) == first
    assert kept.stat().st_mtime_ns == mtime - 10**9   # read, not written again


@pytest.mark.parametrize("where", ["writable itself", "under a writable directory"])
def test_no_compiled_template_is_kept_where_others_could_write(monkeypatch, tmp_path, where):
    """A cache directory others may write to, or one under a directory they may write to
    (not sticky), is not used: the template is compiled as if there were none."""
    if where == "writable itself":
        cache = tmp_path / "jinja"
        cache.mkdir(mode=0o700)
        cache.chmod(0o777)
    else:  # private itself, but under a world-writable, non-sticky directory
        (tmp_path / "open").mkdir()
        (tmp_path / "open").chmod(0o777)
        cache = tmp_path / "open" / "jinja"
    expected = _fresh_render(monkeypatch, tmp_path / "private")
    assert _fresh_render(monkeypatch, cache) == expected
    assert not cache.exists() or list(cache.iterdir()) == []
