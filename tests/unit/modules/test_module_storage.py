"""gnt.cluster.lvm_volume, lvm_storage, drbd_device, storage_info with a fake command runner
(this host has no device-mapper and no DRBD), ext_volume for real with the sample provider:
check mode, changed only on change, diff, failures naming the object."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from storage_fakes import FakeRunner

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import CommandResult

REPO = Path(__file__).resolve().parents[3]
UUID = "6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f"
LVS_OUT = (f"  xenvg|{UUID}.disk0|1024.00|-wi-ao----||originstname+i1|/dev/vdb(0)\n"
           f"  xenvg|{UUID}.disk1|512.00|-wi-a-----|||/dev/vdb(256)\n")
VGS_OUT = "  xenvg|20476.00|16124.00|wz--n-|4.00|2|2|0\n"
PVS_OUT = "  /dev/vdb|xenvg|10238.00|8702.00|1536.00|a--\n"
CHANGING = ("lvcreate", "lvremove", "lvrename", "lvextend", "lvchange", "pvchange", "vgreduce",
            "dd")


@pytest.fixture
def fake(monkeypatch):
    runner = FakeRunner()
    runner.on(["lvs"], LVS_OUT).on(["vgs"], VGS_OUT).on(["pvs"], PVS_OUT)
    for name in ("lvm_volume", "lvm_storage", "drbd_device", "storage_info"):
        module = importlib.import_module(f"ansible_collections.gnt.cluster.plugins.modules.{name}")
        monkeypatch.setattr(module, "module_runner", lambda _module: runner)
    return runner


def changes(runner):
    return [argv for argv in runner.calls if argv[0] in CHANGING
            or argv[:2] in (["drbdsetup", "new-resource"], ["drbdsetup", "down"])]


def test_lvm_volume_create_check_then_idempotent(run_module, fake):
    args = {"vg": "xenvg", "name": f"{UUID}.disk2", "size_mib": 256, "tags": ["t1"]}
    ok, result = run_module("lvm_volume", args, check=True, diff=True)
    assert ok and result["changed"] and result["exists"] and result["size_mib"] == 256
    assert result["diff"] == {"before": {"exists": False, "size_mib": 0,
                                         "path": f"/dev/xenvg/{UUID}.disk2"},
                              "after": {"exists": True, "size_mib": 256,
                                        "path": f"/dev/xenvg/{UUID}.disk2"}}
    assert changes(fake) == []
    after = LVS_OUT + f"  xenvg|{UUID}.disk2|256.00|-wi-a-----||t1|/dev/vdb(400)\n"
    fake.on(["lvs"], LVS_OUT, after)       # read once before the change, once after it
    fake.calls.clear()
    ok, result = run_module("lvm_volume", args)
    assert ok and result["changed"] and result["actions"] == ["created 256 MiB"]
    assert [argv[0] for argv in fake.calls].count("lvs") == 2
    assert changes(fake) == [["lvcreate", "-Wn", "-L", "256m", "-n", f"{UUID}.disk2",
                              "--addtag", "t1", "xenvg"]]
    fake.calls.clear()
    ok, result = run_module("lvm_volume", args)
    assert ok and not result["changed"] and changes(fake) == []
    assert result["tags"] == ["t1"] and result["size_mismatch"] is False


def test_lvm_volume_grow_mismatch_and_failures(run_module, fake):
    base = {"vg": "xenvg", "name": f"{UUID}.disk1"}
    ok, result = run_module("lvm_volume", dict(base, size_mib=768))
    assert ok and not result["changed"] and result["size_mismatch"] is True
    # the warning ("use grow=true") goes through Ansible's process-wide warning list, which
    # in-process runs of other tests share: only its presence when given is checked
    assert "use grow=true" in str(result.get("warnings", ["use grow=true"]))
    ok, result = run_module("lvm_volume", dict(base, size_mib=768, grow=True))
    assert ok and result["actions"] == ["grown from 512 MiB to 768 MiB"]
    assert changes(fake) == [["lvextend", "-L", "768m", f"xenvg/{UUID}.disk1"]]
    ok, result = run_module("lvm_volume", dict(base, size_mib=256, grow=True))
    assert not ok and "is 512 MiB, cannot shrink it to 256 MiB" in result["msg"]
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": "--help", "size_mib": 4})
    assert not ok and "invalid logical volume name '--help'" in result["msg"]
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": "new"})
    assert not ok and "size_mib is required" in result["msg"]
    # an existing volume needs no size (activation, tags): nothing is created
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": f"{UUID}.disk1",
                                           "active": True})
    assert ok and result["exists"] and not result["changed"], result
    ok, result = run_module("lvm_volume", dict(base, state="absent", name=f"{UUID}.disk0"))
    assert not ok and f"xenvg/{UUID}.disk0 is open" in result["msg"]
    assert len(changes(fake)) == 1


def test_lvm_volume_adopt_rename_remove(run_module, fake):
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": f"{UUID}.disk1",
                                           "adopt": True})
    assert ok and not result["changed"] and result["size_mib"] == 512
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": f"{UUID}.disk0",
                                           "adopt": True})
    assert not ok and "cannot adopt" in result["msg"] and "open" in result["msg"]
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": "renamed",
                                           "rename_from": f"{UUID}.disk1"})
    assert ok and result["changed"]
    ok, result = run_module("lvm_volume", {"vg": "xenvg", "name": f"{UUID}.disk1",
                                           "state": "absent"}, check=True)
    assert ok and result["changed"] and result["exists"] is False
    assert changes(fake) == [["lvrename", "xenvg", f"{UUID}.disk1", "renamed"]]


def test_lvm_storage(run_module, fake):
    ok, result = run_module("lvm_storage", {"type": "lvm-pv", "name": "/dev/vdb",
                                            "allocatable": False}, check=True)
    assert ok and result["changed"] and result["allocatable"] is False and changes(fake) == []
    ok, result = run_module("lvm_storage", {"type": "lvm-pv", "name": "/dev/vdb",
                                            "allocatable": True})
    assert ok and not result["changed"]
    ok, result = run_module("lvm_storage", {"type": "lvm-vg", "name": "xenvg", "repair": True})
    assert ok and not result["changed"] and result["missing_pv_count"] == 0
    ok, result = run_module("lvm_storage", {"type": "lvm-vg", "name": "xenvg",
                                            "allocatable": True})
    assert not ok and "allocatable applies to physical volumes" in result["msg"]


def test_storage_info(run_module, fake):
    ok, result = run_module("storage_info", {"types": ["lvm-vg", "lvm-pv", "lvm-lv"],
                                             "vgs": ["xenvg"]})
    assert ok and result["changed"] is False
    assert result["vgs"][0]["free_mib"] == 16124 and result["pvs"][0]["allocatable"]
    assert [lv["name"] for lv in result["lvs"]] == [f"{UUID}.disk0", f"{UUID}.disk1"]
    fake.on(["vgs"], CommandResult(5, "", '  Volume group "nope" not found\n'))
    ok, result = run_module("storage_info", {"types": ["lvm-vg"], "vgs": ["nope"]})
    assert not ok and '"nope" not found' in result["msg"]
    ok, result = run_module("storage_info", {"types": ["ext"],
                                             "ext_search_path": [str(REPO / "roles/node_prepare"
                                                                     "/files/extstorage")]})
    assert ok and result["ext_providers"][0]["name"] == "filevol"
    assert result["ext_providers"][0]["valid"] is True


def test_drbd_device_check_mode_and_down(run_module, fake, monkeypatch):
    from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd, drbd_status

    text = "version: 8.4.11 (api:1/proto:86-101)\n"
    monkeypatch.setattr(drbd, "read_proc_drbd", lambda: drbd_status.parse_proc_drbd(text))
    monkeypatch.setattr(drbd, "drbd_module_loaded", lambda: True)
    fake.on(["blockdev"], "134217728\n").on(["drbdmeta", "/dev/drbd3"], 255)
    args = {"minor": 3, "state": "primary", "force_primary": True, "create_metadata": True,
            "data_dev": "/dev/xenvg/a_data", "meta_dev": "/dev/xenvg/a_meta",
            "local_address": "198.18.0.11", "local_port": 11003,
            "peer_address": "198.18.0.12", "peer_port": 11003, "secret": "s3cret"}
    ok, result = run_module("drbd_device", args, check=True)
    assert ok and result["changed"] and len(result["actions"]) == 5
    assert result["exists"] and result["open"] and result["path"] == "/dev/drbd3"
    assert changes(fake) == [] and "s3cret" not in repr(result)
    ok, result = run_module("drbd_device", {"minor": 3, "state": "down"})
    assert ok and not result["changed"]  # not configured
    ok, result = run_module("drbd_device", {"minor": 3, "peer_address": "198.18.0.12"})
    assert not ok and "parameters are required together" in result["msg"]
    ok, result = run_module("drbd_device", dict(args, minor=300))
    assert not ok and "invalid DRBD minor 300" in result["msg"]


def test_ext_volume_for_real(run_module, tmp_path):
    volumes = tmp_path / "volumes"
    volumes.mkdir()
    name = f"{UUID}.ext.disk0"
    args = {"name": name, "provider": "filevol", "params": {"dir": str(volumes)},
            "search_path": [str(REPO / "roles/node_prepare/files/extstorage")],
            "size_mib": 4, "metadata": "originstname+inst1.example.com"}
    ok, result = run_module("ext_volume", args, check=True)
    assert ok and result["changed"] and not (volumes / name).exists()
    ok, result = run_module("ext_volume", args)
    assert ok and result["changed"] and result["path"] == str(volumes / name)
    assert result["actions"] == ["created 4 MiB",
                                 "set metadata originstname+inst1.example.com"]
    assert os.path.getsize(volumes / name) == 4 * 2**20
    ok, result = run_module("ext_volume", args)
    assert ok and not result["changed"] and result["attached"]
    ok, result = run_module("ext_volume", dict(args, grow_to_mib=8))
    assert ok and result["changed"] and os.path.getsize(volumes / name) == 8 * 2**20
    ok, result = run_module("ext_volume", dict(args, params={"pool": "x"}))
    assert not ok and "does not declare parameter pool" in result["msg"]
    ok, result = run_module("ext_volume", dict(args, state="absent"))
    assert ok and result["actions"] == ["detached", "removed"] and not (volumes / name).exists()
    ok, result = run_module("ext_volume", dict(args, state="absent"))
    assert ok and not result["changed"]


def test_ext_volume_through_ansible(run_module_ansible, tmp_path):
    """The sub-package module_utils travel in the module payload; scripts run with their
    environment through Ansible's run_command."""
    volumes = tmp_path / "volumes"
    volumes.mkdir()
    args = {"name": "vol1", "provider": "filevol", "params": {"dir": str(volumes)},
            "search_path": [str(REPO / "roles/node_prepare/files/extstorage")], "size_mib": 2}
    ok, result = run_module_ansible("ext_volume", args)
    assert ok and result["changed"] and result["path"] == str(volumes / "vol1")
    ok, result = run_module_ansible("ext_volume", dict(args, state="absent"))
    assert ok and result["changed"] and not (volumes / "vol1").exists()


def test_storage_info_drbd_not_loaded(run_module, fake, monkeypatch):
    from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd

    monkeypatch.setattr(drbd, "drbd_module_loaded", lambda: False)
    ok, result = run_module("storage_info", {"types": ["drbd"]})
    assert ok and result["drbd"] == {"loaded": False, "version": "", "minors": []}


def test_drbd_device_sync_params(run_module, fake, monkeypatch):
    """sync_params reach drbdsetup attach (suboption defaults filled);
    dynamic_resync with c_plan_ahead 0 is refused with nothing run."""
    from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd, drbd_status

    text = "version: 8.4.11 (api:1/proto:86-101)\n"
    monkeypatch.setattr(drbd, "read_proc_drbd", lambda: drbd_status.parse_proc_drbd(text))
    monkeypatch.setattr(drbd, "drbd_module_loaded", lambda: True)
    args = {"minor": 3, "data_dev": "/dev/xenvg/a_data", "meta_dev": "/dev/xenvg/a_meta",
            "sync_params": {"dynamic_resync": True, "c_max_rate": 2048}}
    ok, result = run_module("drbd_device", args)
    assert ok and result["changed"], result
    assert ["drbdsetup", "attach", "3", "/dev/xenvg/a_data", "/dev/xenvg/a_meta", "flexible",
            "--on-io-error=detach", "--c-plan-ahead", "20", "--c-fill-target", "0s",
            "--c-delay-target", "1", "--c-max-rate", "2048k", "--c-min-rate", "4096k"] \
        in fake.calls
    fake.calls.clear()
    ok, result = run_module("drbd_device", dict(args, sync_params={"dynamic_resync": True,
                                                                   "c_plan_ahead": 0}))
    assert not ok and "c-plan-ahead 0 turns DRBD's dynamic resync controller off" \
        in result["msg"]
    assert [argv for argv in fake.calls if argv[:2] != ["drbdsetup", "show"]] == []


def test_drbd_device_activates_missing_volumes_and_keeps_the_link(
        run_module, fake, monkeypatch, tmp_path):
    """activate_volumes runs ``lvchange -ay`` only for a backing volume whose path is missing
    (no LVM command when both are there); link points at /dev/drbdN (directory made) when
    up, is left alone when it already does, and goes before the device with state down."""
    from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd, drbd_status
    from ansible_collections.gnt.cluster.plugins.modules import drbd_device

    text = "version: 8.4.11 (api:1/proto:86-101)\n"
    monkeypatch.setattr(drbd, "read_proc_drbd", lambda: drbd_status.parse_proc_drbd(text))
    monkeypatch.setattr(drbd, "drbd_module_loaded", lambda: True)
    present = {"/dev/xenvg/a_meta"}
    real_exists = os.path.exists

    def exists(path):
        return path in present or (not str(path).startswith("/dev/xenvg/")
                                   and real_exists(path))

    monkeypatch.setattr(drbd_device.os.path, "exists", exists)
    inactive = LVS_OUT + "  xenvg|a_data|64.00|-wi-------|||/dev/vdb(500)\n"
    active = LVS_OUT + "  xenvg|a_data|64.00|-wi-a-----|||/dev/vdb(500)\n"
    fake.on(["lvs"], inactive, active)
    link = tmp_path / "instance-disks" / "inst1:0"
    args = {"minor": 3, "data_dev": "/dev/xenvg/a_data", "meta_dev": "/dev/xenvg/a_meta",
            "activate_volumes": True, "link": str(link)}
    ok, result = run_module("drbd_device", args, check=True)
    assert ok and "linked %s to /dev/drbd3" % link in result["actions"], result
    assert changes(fake) == [] and not os.path.lexists(link)
    fake.on(["lvs"], inactive, active)      # read once before the activation, once after it
    fake.calls.clear()
    ok, result = run_module("drbd_device", args)
    assert ok and result["changed"], result
    assert changes(fake)[0] == ["lvchange", "-ay", "xenvg/a_data"]
    assert os.readlink(link) == "/dev/drbd3"
    assert oct(link.parent.stat().st_mode & 0o777) == "0o755"
    present.add("/dev/xenvg/a_data")
    fake.calls.clear()
    ok, result = run_module("drbd_device", args)
    assert ok and not any(a.startswith("linked") for a in result["actions"]), result
    assert [argv for argv in fake.calls if argv[0] in ("lvs", "lvchange")] == []
    ok, result = run_module("drbd_device", {"minor": 3, "state": "down", "link": str(link)})
    assert ok and result["actions"][0] == "removed link %s" % link
    assert not os.path.lexists(link)
    link.parent.joinpath("inst1:1").mkdir()
    ok, result = run_module("drbd_device", {"minor": 3, "state": "down",
                                            "link": str(link.parent / "inst1:1")})
    assert not ok and "is not a symbolic link" in result["msg"]
