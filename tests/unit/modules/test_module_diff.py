"""Diff mode of the node-side modules (issue 13): gnt.cluster.domain shows the domain's state
and XML definition, file_disk the disk's existence and size, export_dir the export's
config.ini, os_definition the install record; check mode + diff mode shows the would-be
change and changes nothing; without diff mode no diff is returned.

The domain tests use libvirt's built-in test driver (``test:///default``: an in-memory
hypervisor shared by the connections of this process), so they need the libvirt binding but
no libvirtd."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

TEST_URI = "test:///default"


def _spec(name: str, vcpus: int = 1) -> dict:
    return {"name": name, "uuid": str(uuid.uuid4()), "os": "none", "hypervisor": "kvm",
            "hvparams": {"accel": "tcg", "serial_console": True},
            "beparams": {"maxmem": 64, "minmem": 32, "vcpus": vcpus}, "memory": 64,
            "disks": [], "nics": []}


@pytest.fixture
def domain_name(monkeypatch):
    """A fresh domain name; a connection held open keeps the test driver's domains between
    the module runs (its state lasts while a connection to it is open)."""
    libvirt = pytest.importorskip("libvirt",
                                  reason="the libvirt Python binding is not installed")
    # the test driver refuses the NVRAM and checkpoint flags state=absent undefines with
    for flag in ("VIR_DOMAIN_UNDEFINE_NVRAM", "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA"):
        monkeypatch.delattr(libvirt, flag, raising=False)
    keeper = libvirt.open(TEST_URI)
    yield f"gnt-diff-{uuid.uuid4().hex[:8]}"
    keeper.close()


def test_domain_define_redefine_and_remove_diff(run_module, domain_name):
    name, spec = domain_name, _spec(domain_name)
    args = {"name": name, "uri": TEST_URI, "spec": spec}

    ok, planned = run_module("domain", args, check=True, diff=True)
    assert ok and planned["changed"] is True and planned["state"] == "absent"
    assert planned["diff"]["before"] == ""
    assert planned["diff"]["after"].startswith(f"<!-- domain {name}: state shutoff -->\n")
    assert "<vcpu placement='static'>1</vcpu>" in planned["diff"]["after"]

    ok, done = run_module("domain", args, diff=True)
    assert ok and done["changed"] is True and done["state"] == "shutoff"
    assert done["diff"]["before"] == "" and f"<name>{name}</name>" in done["diff"]["after"]
    assert done["diff"]["before_header"] == f"domain {name}"

    ok, again = run_module("domain", args, diff=True)
    assert ok and again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"] == done["diff"]["after"]

    bigger = dict(args, spec=dict(spec, beparams=dict(spec["beparams"], vcpus=2)))
    ok, planned = run_module("domain", bigger, check=True, diff=True)
    assert ok and planned["changed"] is True
    assert planned["diff"]["before"] == done["diff"]["after"]
    assert ">2</vcpu>" in planned["diff"]["after"] and ">1</vcpu>" not in planned["diff"]["after"]
    ok, unchanged = run_module("domain", args, diff=True)
    assert ok and unchanged["changed"] is False  # check mode did not redefine it

    ok, done = run_module("domain", bigger, diff=True)
    assert ok and done["changed"] is True
    assert ">1</vcpu>" in done["diff"]["before"] and ">2</vcpu>" in done["diff"]["after"]

    gone = {"name": name, "uri": TEST_URI, "state": "absent"}
    ok, planned = run_module("domain", gone, check=True, diff=True)
    assert ok and planned["changed"] is True and planned["diff"]["after"] == ""
    assert planned["state"] == "shutoff"
    ok, removed = run_module("domain", gone, diff=True)
    assert ok and removed["changed"] is True and removed["state"] == "absent"
    assert ">2</vcpu>" in removed["diff"]["before"] and removed["diff"]["after"] == ""


def test_domain_start_and_stop_diff_shows_the_state(run_module, domain_name):
    name, spec = domain_name, _spec(domain_name)
    args = {"name": name, "uri": TEST_URI, "spec": spec, "state": "running"}
    ok, planned = run_module("domain", args, check=True, diff=True)
    assert ok and planned["changed"] is True and planned["state"] == "absent"
    assert planned["diff"]["after"].startswith(f"<!-- domain {name}: state running -->")
    ok, started = run_module("domain", args, diff=True)
    assert ok and started["state"] == "running"
    assert started["diff"]["before"] == ""
    assert started["diff"]["after"].startswith(f"<!-- domain {name}: state running -->")

    stop = {"name": name, "uri": TEST_URI, "state": "shutdown", "shutdown_timeout": 0}
    ok, planned = run_module("domain", stop, check=True, diff=True)
    assert ok and planned["changed"] is True and planned["state"] == "running"
    assert "state running" in planned["diff"]["before"]
    assert "state shutoff" in planned["diff"]["after"]
    ok, stopped = run_module("domain", stop, diff=True)
    assert ok and stopped["state"] == "shutoff" and "state shutoff" in stopped["diff"]["after"]
    ok, quiet = run_module("domain", stop)
    assert ok and quiet["changed"] is False and "diff" not in quiet
    assert run_module("domain", {"name": name, "uri": TEST_URI, "state": "absent"})[0]


def test_domain_stop_with_undefine_removes_the_definition(run_module, domain_name):
    """state=shutdown with undefine (a failover leaving the node): one task stops the
    domain and removes its definition; check mode plans it and changes nothing; undefine
    with another state is refused."""
    name, spec = domain_name, _spec(domain_name)
    assert run_module("domain", {"name": name, "uri": TEST_URI, "spec": spec,
                                 "state": "running"})[1]["state"] == "running"
    leave = {"name": name, "uri": TEST_URI, "state": "shutdown", "shutdown_timeout": 0,
             "undefine": True}
    ok, planned = run_module("domain", leave, check=True, diff=True)
    assert ok and planned["changed"] is True and planned["state"] == "running"
    assert "state running" in planned["diff"]["before"] and planned["diff"]["after"] == ""
    ok, left = run_module("domain", leave, diff=True)
    assert ok and left["changed"] is True and left["forced"] is True
    assert left["state"] == "absent" and left["diff"]["after"] == ""
    ok, again = run_module("domain", leave)
    assert ok and again["changed"] is False and again["state"] == "absent"
    ok, refused = run_module("domain", {"name": name, "uri": TEST_URI, "spec": spec,
                                        "state": "running", "undefine": True})
    assert not ok and "undefine is only valid with state=shutdown" in refused["msg"]
    assert run_module("domain", {"name": name, "uri": TEST_URI, "state": "absent"})[1][
        "changed"] is False


def test_file_disk_diff_create_grow_rename_remove(run_module, tmp_path):
    storage = tmp_path / "fs"
    disk = storage / "inst1" / "disk0"
    base = {"path": str(disk), "allowed_dirs": [str(storage)]}
    absent = {"path": str(disk), "exists": False, "size_mib": 0}

    ok, planned = run_module("file_disk", dict(base, size_mib=4), check=True, diff=True)
    assert ok and planned["diff"] == {"before": absent,
                                      "after": {**absent, "exists": True, "size_mib": 4}}
    assert not disk.exists()
    ok, created = run_module("file_disk", dict(base, size_mib=4), diff=True)
    assert ok and created["diff"]["after"] == {**absent, "exists": True, "size_mib": 4}
    ok, created = run_module("file_disk", dict(base, size_mib=4))
    assert ok and "diff" not in created

    grow = dict(base, size_mib=8, grow=True)
    ok, planned = run_module("file_disk", grow, check=True, diff=True)
    assert ok and planned["changed"] is True
    assert planned["diff"]["before"]["size_mib"] == 4 and planned["diff"]["after"]["size_mib"] == 8
    assert os.path.getsize(disk) == 4 * 2**20
    ok, grown = run_module("file_disk", grow, diff=True)
    assert ok and (grown["diff"]["before"]["size_mib"], grown["diff"]["after"]["size_mib"]) == (4, 8)
    ok, again = run_module("file_disk", grow, diff=True)
    assert ok and again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]

    moved = storage / "inst2" / "disk0"
    rename = {"path": str(moved), "rename_from": str(disk), "allowed_dirs": [str(storage)]}
    ok, planned = run_module("file_disk", rename, check=True, diff=True)
    assert ok and planned["diff"]["before"] == {"path": str(disk), "exists": True, "size_mib": 8}
    assert planned["diff"]["after"] == {"path": str(moved), "exists": True, "size_mib": 8}
    assert disk.exists() and not moved.exists()

    gone = {"path": str(disk), "state": "absent", "allowed_dirs": [str(storage)]}
    ok, planned = run_module("file_disk", gone, check=True, diff=True)
    assert ok and planned["diff"]["before"]["size_mib"] == 8
    assert planned["diff"]["after"] == absent and disk.exists()
    ok, removed = run_module("file_disk", gone, diff=True)
    assert ok and removed["diff"]["after"] == absent and not disk.exists()


def test_export_dir_diff_shows_config_ini(run_module, tmp_path):
    root = tmp_path / "export"
    root.mkdir()
    path = root / "inst1"
    old_config, new_config = "[export]\nversion = 0\n", "[export]\nversion = 0\nos = x\n"
    (path).mkdir()
    (path / "config.ini").write_text(old_config)
    source = root / ".inst1.new-abc"
    source.mkdir()
    args = {"path": str(path), "export_root": str(root), "source": str(source),
            "config": new_config}

    ok, planned = run_module("export_dir", args, check=True, diff=True)
    assert ok and planned["changed"] is True
    assert (planned["diff"]["before"], planned["diff"]["after"]) == (old_config, new_config)
    assert planned["diff"]["after_header"] == f"{path}/config.ini"
    assert (path / "config.ini").read_text() == old_config
    ok, done = run_module("export_dir", args, diff=True)
    assert ok and done["diff"]["before"] == old_config
    assert (path / "config.ini").read_text() == new_config
    ok, again = run_module("export_dir", args, diff=True)
    assert ok and again["changed"] is False and again["diff"]["before"] == new_config

    gone = {"path": str(path), "export_root": str(root), "state": "absent"}
    ok, removed = run_module("export_dir", gone, diff=True)
    assert ok and removed["diff"]["before"] == new_config and removed["diff"]["after"] == ""
    ok, removed = run_module("export_dir", gone, diff=True)
    assert ok and removed["changed"] is False and removed["diff"]["before"] == ""


def test_os_definition_create_diff_shows_the_install_record(run_module, tmp_path: Path):
    os_dir = tmp_path / "os" / "good"
    os_dir.mkdir(parents=True)
    (os_dir / "ganeti_api_version").write_text("20\n")
    for script in ("create", "import", "export", "rename"):
        (os_dir / script).write_text("#!/bin/sh\nexit 0\n")
        (os_dir / script).chmod(0o755)
    disk = tmp_path / "fs" / "inst1" / "disk0"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"\0" * 2**20)
    instance = {"name": "inst1", "uuid": "u-1", "os": "good", "osparams": {},
                "hypervisor": "kvm", "hvparams": {}, "beparams": {"maxmem": 64},
                "disk_template": "file", "nics": [],
                "disks": [{"index": 0, "uuid": "d0", "path": str(disk), "size_mib": 1,
                           "mode": "rw"}]}
    args = {"action": "create", "search_path": [str(tmp_path / "os")], "instance": instance}
    view = {"instance": "inst1", "os": "good"}

    ok, planned = run_module("os_definition", args, check=True, diff=True)
    assert ok and planned["diff"] == {"before": {**view, "os_installed": False},
                                      "after": {**view, "os_installed": True}}
    ok, done = run_module("os_definition", args, diff=True)
    assert ok and done["changed"] is True and done["diff"]["after"]["os_installed"] is True
    if not done["installed"]:
        pytest.skip("this file system refuses the user.* extended attribute of the record")
    ok, again = run_module("os_definition", dict(args, reinstall=True), diff=True)
    assert ok and again["diff"]["before"]["os_installed"] is True
    ok, diagnose = run_module("os_definition", {"action": "diagnose",
                                                "search_path": [str(tmp_path / "os")]},
                              diff=True)
    assert ok and "diff" not in diagnose
