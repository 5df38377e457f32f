"""The export description file config.ini (gnt.config.exportcfg): build, render, parse, errors."""

from __future__ import annotations

import configparser
import copy
from typing import Any

import pytest

from gnt.config import exportcfg
from gnt.core.errors import ECODE_INVAL, OpPrereqError


def cluster_config() -> dict[str, Any]:
    """A parsed config.data with one instance (two disks, two NICs)."""
    return {
        "cluster": {
            "cluster_name": "cluster.example.com",
            "hvparams": {"kvm": {"kernel_args": "ro console=ttyS0"}},
            "beparams": {"maxmem": 256, "minmem": 256},
            "nicparams": {"mode": "bridged", "link": "gnt-br0"},
            "osparams": {"debootstrap": {"dist": "bookworm"}},
        },
        "disks": {
            "d0": {"uuid": "d0", "size": 1024, "iv_name": "disk/0", "mode": "rw"},
            "d1": {"uuid": "d1", "size": 512, "iv_name": "disk/1", "mode": "ro",
                   "name": "data"},
        },
        "instances": {
            "i1": {
                "uuid": "i1", "name": "web1.example.com", "os": "debootstrap+default",
                "hypervisor": "kvm", "hvparams": {"serial_console": False},
                "beparams": {"vcpus": 2, "maxmem": 512}, "osparams": {"arch": "amd64"},
                "disk_template": "file", "disks": ["d0", "d1"],
                "nics": [
                    {"uuid": "n0", "mac": "aa:00:00:11:22:33", "ip": "198.18.0.50",
                     "nicparams": {}},
                    {"uuid": "n1", "mac": "aa:00:00:44:55:66", "ip": None,
                     "nicparams": {"mode": "routed", "link": "table10"}, "name": "back"},
                ],
                "tags": ["web", "prod", "team:a"],
            },
        },
    }


def build(dumps: list[str | None] | None = None, compression: str = "zstd") -> exportcfg.ExportInfo:
    config = cluster_config()
    return exportcfg.build_export_info(config, config["instances"]["i1"],
                                       dumps if dumps is not None else ["d0.snap", "d1.snap"],
                                       compression, timestamp=1700000000.7)


def ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def error_of(text: str) -> str:
    with pytest.raises(OpPrereqError) as err:
        exportcfg.parse(text)
    assert err.value.ecode == ECODE_INVAL
    return str(err.value)


def test_build_fills_parameters_from_the_cluster() -> None:
    info = build()
    assert info.name == "web1.example.com" and info.os == "debootstrap+default"
    assert info.source == "cluster.example.com" and info.timestamp == 1700000000
    assert info.compression == "zstd" and info.version == 0
    assert info.beparams["maxmem"] == 512 and info.beparams["minmem"] == 256
    assert info.beparams["vcpus"] == 2
    assert info.hvparams["kernel_args"] == "ro console=ttyS0"
    assert info.hvparams["serial_console"] is False
    assert info.osparams == {"dist": "bookworm", "arch": "amd64"}
    assert info.nics[0] == {"mac": "aa:00:00:11:22:33", "ip": "198.18.0.50", "mode": "bridged",
                            "link": "gnt-br0", "vlan": None, "network": None, "name": None}
    assert info.nics[1]["mode"] == "routed" and info.nics[1]["name"] == "back"
    assert info.disks == [
        {"index": 0, "ivname": "disk/0", "dump": "d0.snap", "size_mib": 1024, "name": None,
         "mode": "rw"},
        {"index": 1, "ivname": "disk/1", "dump": "d1.snap", "size_mib": 512, "name": "data",
         "mode": "ro"},
    ]


def test_round_trip_build_render_parse_is_equal() -> None:
    info = build()
    text = exportcfg.render(info)
    assert exportcfg.parse(text) == info
    # the text is plain INI readable by any configparser, with Ganeti's keys
    parsed = ini(text)
    assert parsed.sections() == ["export", "instance", "hypervisor", "backend", "os"]
    assert parsed.get("export", "version") == "0"
    assert parsed.get("instance", "memory") == "512"
    assert parsed.get("instance", "nic1_ip") == "None"
    assert parsed.get("instance", "disk0_size") == "1024"
    assert parsed.get("hypervisor", "serial_console") == "False"
    # Ganeti's importer takes any non-empty nic%d_network as a network name
    assert parsed.get("instance", "nic0_network") == ""
    assert parsed.get("instance", "nic0_vlan") == ""
    assert parsed.get("instance", "nic0_name") == "None"


def test_cluster_wide_hypervisor_parameters_are_not_exported() -> None:
    config = cluster_config()
    inst = config["instances"]["i1"]
    inst["hvparams"]["migration_port"] = 8102
    info = exportcfg.build_export_info(config, inst, ["a", "b"], "none")
    assert "migration_port" not in info.hvparams
    assert "kernel_args" in info.hvparams


def test_render_is_stable() -> None:
    assert exportcfg.render(build()) == exportcfg.render(build())


def test_tags_with_several_values() -> None:
    text = exportcfg.render(build())
    assert ini(text).get("instance", "tags") == "web prod team:a"
    assert exportcfg.parse(text).tags == ["web", "prod", "team:a"]


def test_failed_disk_has_no_keys_and_is_not_counted() -> None:
    info = build(dumps=[None, "d1.snap"])
    assert [d["index"] for d in info.disks] == [1]
    text = exportcfg.render(info)
    section = ini(text)["instance"]
    assert not [key for key in section if key.startswith("disk0_")]
    assert section["disk1_dump"] == "d1.snap"
    assert section["disk_count"] == "1"
    parsed = exportcfg.parse(text)
    assert parsed == info
    assert parsed.disks[0]["index"] == 1 and parsed.disks[0]["size_mib"] == 512


def test_all_disks_failed() -> None:
    text = exportcfg.render(build(dumps=[None, None]))
    assert ini(text).get("instance", "disk_count") == "0"
    assert exportcfg.parse(text).disks == []


def test_build_rejects_bad_input() -> None:
    config = cluster_config()
    inst = config["instances"]["i1"]
    with pytest.raises(OpPrereqError, match="unknown compression 'foo'"):
        exportcfg.build_export_info(config, inst, ["a", "b"], "foo")
    with pytest.raises(OpPrereqError, match="2 disk.*1 dump"):
        exportcfg.build_export_info(config, inst, ["a"], "none")
    with pytest.raises(OpPrereqError, match="not a plain file name"):
        exportcfg.build_export_info(config, inst, ["../etc/passwd", "b"], "none")


GANETI_30 = """\
[export]
version = 0
timestamp = 1650000000
source = node1.example.com
os = debootstrap+default
compression = none

[instance]
name = old1.example.com
maxmem = 1024
minmem = 512
memory = 1024
vcpus = 2
disk_template = plain
hypervisor = kvm
tags = a b c
nic0_mac = aa:00:00:9a:8b:7c
nic0_ip = None
nic0_network =
nic0_name = None
nic0_mode = bridged
nic0_link = br0
nic0_vlan =
nic1_mac = aa:00:00:1a:2b:3c
nic1_ip = 192.0.2.7
nic1_network = net1
nic1_name = ext
nic1_mode = openvswitch
nic1_link = ovs0
nic1_vlan = .100
nic_count = 2
disk0_ivname = disk/0
disk0_dump = 4f6a1c9e-0000-4000-8000-000000000001.disk0_data.snap
disk0_size = 10240
disk0_name = None
disk2_ivname = disk/2
disk2_dump = 4f6a1c9e-0000-4000-8000-000000000003.disk2_data.snap
disk2_size = 2048
disk2_name = swap
disk_count = 2

[hypervisor]
boot_order = disk
serial_console = True
serial_speed = 38400
kernel_path =
vhost_net = False
cpu_cores = 0
disk_type = scsi-hd

[backend]
always_failover = False
auto_balance = True
maxmem = 1024
minmem = 512
spindle_use = 1
vcpus = 2

[os]
dist = bullseye

[os_private]
root_password = secret
"""


def test_ganeti_30_sample_parses() -> None:
    info = exportcfg.parse(GANETI_30)
    assert (info.name, info.os, info.source) == ("old1.example.com", "debootstrap+default",
                                                 "node1.example.com")
    assert (info.timestamp, info.compression, info.version) == (1650000000, "none", 0)
    assert (info.disk_template, info.hypervisor) == ("plain", "kvm")
    assert info.tags == ["a", "b", "c"]
    assert info.beparams == {"always_failover": False, "auto_balance": True, "maxmem": 1024,
                             "minmem": 512, "spindle_use": 1, "vcpus": 2}
    # known booleans/integers are typed; unknown Ganeti parameters stay text
    assert info.hvparams["serial_console"] is True
    assert info.hvparams["serial_speed"] == 38400
    assert info.hvparams["vhost_net"] == "False" and info.hvparams["disk_type"] == "scsi-hd"
    assert info.hvparams["kernel_path"] == ""
    assert info.osparams == {"dist": "bullseye"}
    assert info.osparams_private == {"root_password": "secret"}
    assert info.nics == [
        {"mac": "aa:00:00:9a:8b:7c", "ip": None, "mode": "bridged", "link": "br0",
         "vlan": None, "network": None, "name": None},
        {"mac": "aa:00:00:1a:2b:3c", "ip": "192.0.2.7", "mode": "openvswitch", "link": "ovs0",
         "vlan": ".100", "network": "net1", "name": "ext"},
    ]
    assert info.disks == [
        {"index": 0, "ivname": "disk/0",
         "dump": "4f6a1c9e-0000-4000-8000-000000000001.disk0_data.snap", "size_mib": 10240,
         "name": None, "mode": None},
        {"index": 2, "ivname": "disk/2",
         "dump": "4f6a1c9e-0000-4000-8000-000000000003.disk2_data.snap", "size_mib": 2048,
         "name": "swap", "mode": None},
    ]
    # and what we render from it reads back the same
    assert exportcfg.parse(exportcfg.render(info)) == info


OLD_STYLE = """\
[export]
version = 0
timestamp = 1300000000
source = node1
os = debian-etch
compression = gzip

[instance]
name = legacy
memory = 128
vcpus = 1
disk_template = plain
nic0_mac = aa:00:00:00:00:01
nic0_ip = None
nic0_bridge = xen-br0
nic_count = 1
disk0_ivname = sda
disk0_dump = legacy.sda.snap
disk0_size = 100
disk_count = 1
"""


def test_old_style_memory_and_missing_optional_keys() -> None:
    info = exportcfg.parse(OLD_STYLE)
    assert info.beparams == {"maxmem": 128, "minmem": 128, "vcpus": 1}
    assert info.hypervisor is None and info.tags == [] and info.hvparams == {}
    assert info.compression == "gzip"
    assert info.nics[0]["mode"] is None and info.nics[0]["link"] is None
    assert info.disks[0]["name"] is None and info.disks[0]["ivname"] == "sda"


def test_backend_memory_alias() -> None:
    text = OLD_STYLE + "\n[backend]\nmemory = 300\nvcpus = 3\n"
    info = exportcfg.parse(text)
    assert info.beparams == {"maxmem": 300, "minmem": 300, "vcpus": 3}


def test_minimal_file_without_counts() -> None:
    text = ("[export]\nversion = 0\nos = x\n[instance]\nname = n\ndisk_template = diskless\n")
    info = exportcfg.parse(text)
    assert info.disks == [] and info.nics == [] and info.compression == "none"
    assert info.timestamp == 0 and info.source == ""


def replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("disk2_size = 2048\n", "", "config.ini: [instance] disk2_size missing"),
    ("disk0_size = 10240", "disk0_size = abc", "[instance] disk0_size: not an integer: 'abc'"),
    ("disk0_size = 10240", "disk0_size = 0", "[instance] disk0_size: must be positive"),
    ("compression = none", "compression = foo",
     "config.ini: [export] compression: unknown compression 'foo'"),
    ("version = 0", "version = 7", "config.ini: [export] version: version 7 not supported"),
    ("version = 0", "version = x", "[export] version: not an integer: 'x'"),
    ("version = 0\n", "", "config.ini: [export] version missing"),
    ("os = debootstrap+default\n", "", "config.ini: [export] os missing"),
    ("os = debootstrap+default\n", "os =\n", "config.ini: [export] os: empty"),
    ("name = old1.example.com\n", "name = \n", "config.ini: [instance] name: empty"),
    ("name = old1.example.com\n", "", "config.ini: [instance] name missing"),
    ("disk_template = plain\n", "", "[instance] disk_template missing"),
    ("[export]", "[exp]", "config.ini: no [export] section"),
    ("[instance]", "[inst]", "config.ini: no [instance] section"),
    ("timestamp = 1650000000", "timestamp = soon", "[export] timestamp: not an integer"),
    ("vcpus = 2\ndisk_template", "vcpus = two\ndisk_template",
     "[instance] vcpus: not an integer: 'two'"),
    ("auto_balance = True", "auto_balance = maybe", "[backend] auto_balance: not a boolean"),
    ("serial_speed = 38400", "serial_speed = fast", "[hypervisor] serial_speed: not an integer"),
    ("nic_count = 2", "nic_count = 3", "config.ini: [instance] nic2_mac missing"),
    ("nic_count = 2", "nic_count = 1", "nic_count is 1 but there are keys for NIC 1"),
    ("nic_count = 2", "nic_count = -1", "[instance] nic_count: must not be negative"),
    ("nic1_mac = aa:00:00:1a:2b:3c\n", "", "config.ini: [instance] nic1_mac missing"),
    ("nic1_mode = openvswitch", "nic1_mode = bridge", "nic1_mode: unknown NIC mode 'bridge'"),
    ("disk_count = 2", "disk_count = 3", "disk_count is 3 but keys describe 2 disk(s)"),
    ("disk_count = 2", "disk_count = 1", "disk_count is 1 but keys describe 2 disk(s)"),
    ("disk_count = 2", "disk_count = x", "[instance] disk_count: not an integer: 'x'"),
    ("disk0_dump = 4f6a1c9e-0000-4000-8000-000000000001.disk0_data.snap",
     "disk0_dump = ../../etc/shadow", "[instance] disk0_dump '../../etc/shadow' is not a plain"),
    ("disk2_name = swap", "disk2_name = swap\ndisk2_mode = rx", "disk2_mode: unknown disk mode"),
    ("[os]", "[os]\ndist = again", "not a valid export description"),
    ("[export]", "garbage line\n[export]", "not a valid export description"),
])
def test_bad_files_are_refused_with_a_clear_error(old: str, new: str, message: str) -> None:
    assert message in error_of(replace(GANETI_30, old, new))


def test_error_names_the_given_file() -> None:
    with pytest.raises(OpPrereqError, match="/exp/web1/config.ini: no \\[export\\] section"):
        exportcfg.parse("", where="/exp/web1/config.ini")


def test_render_refuses_unknown_compression_and_line_breaks() -> None:
    info = build()
    bad = copy.deepcopy(info)
    bad.compression = "rar"
    with pytest.raises(OpPrereqError, match="unknown compression 'rar'"):
        exportcfg.render(bad)
    bad = copy.deepcopy(info)
    bad.osparams["motd"] = "two\nlines"
    with pytest.raises(OpPrereqError, match=r"\[os\] motd.*line break"):
        exportcfg.render(bad)
