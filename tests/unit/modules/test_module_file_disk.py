"""gnt.cluster.file_disk run through ansible: check mode, idempotence, failures."""

from __future__ import annotations

import os


def test_create_check_mode_then_idempotent(run_module, tmp_path):
    storage = tmp_path / "fs"
    storage.mkdir()
    disk = storage / "inst1.example.com" / "disk0"
    args = {"path": str(disk), "size_mib": 8, "allowed_dirs": [str(storage)]}

    ok, result = run_module("file_disk", args, check=True)
    assert ok and result["changed"] is True
    assert not disk.exists() and not disk.parent.exists()

    ok, result = run_module("file_disk", args)
    assert ok and result["changed"] is True
    assert result["size_mib"] == 8 and result["exists"] is True
    assert os.path.getsize(disk) == 8 * 2**20

    ok, result = run_module("file_disk", args)
    assert ok and result["changed"] is False

    info_args = {"path": str(disk), "allowed_dirs": [str(storage)]}
    ok, result = run_module("file_disk_info", dict(info_args, size_mib=8))
    assert ok and result["changed"] is False and result["size_mib"] == 8
    assert result["exists"] is True and result["size_mismatch"] is False
    ok, result = run_module("file_disk_info", dict(info_args, size_mib=16), check=True)
    assert ok and result["changed"] is False and result["size_mismatch"] is True
    assert os.path.getsize(disk) == 8 * 2**20


def test_file_disk_info(run_module, tmp_path):
    storage = tmp_path / "fs"
    storage.mkdir()
    missing = storage / "inst1" / "disk0"
    ok, result = run_module("file_disk_info", {"path": str(missing),
                                               "allowed_dirs": [str(storage)]})
    assert ok and result["changed"] is False
    assert result == {**result, "path": str(missing), "exists": False, "size_mib": 0,
                      "allocated_mib": 0, "size_mismatch": False}
    assert not missing.parent.exists()

    outside = tmp_path / "other" / "disk0"
    ok, result = run_module("file_disk_info", {"path": str(outside),
                                               "allowed_dirs": [str(storage)]})
    assert not ok and str(outside) in result["msg"] and str(storage) in result["msg"]

    ok, result = run_module("file_disk_info", {"path": str(missing), "size_mib": 0,
                                               "allowed_dirs": [str(storage)]})
    assert not ok and "size_mib must be positive" in result["msg"]


def test_file_disk_has_no_info_state(run_module, tmp_path):
    ok, result = run_module("file_disk", {"path": str(tmp_path / "fs" / "d"), "state": "info",
                                          "allowed_dirs": [str(tmp_path / "fs")]})
    assert not ok and "state" in result["msg"] and "present, absent" in result["msg"]


def test_grow_shrink_and_outside(run_module, tmp_path):
    storage = tmp_path / "fs"
    disk = storage / "i" / "disk0"
    base = {"path": str(disk), "allowed_dirs": [str(storage)]}
    assert run_module("file_disk", dict(base, size_mib=4))[0]
    ok, result = run_module("file_disk", dict(base, size_mib=8))
    assert ok and result["changed"] is False and result["size_mismatch"] is True
    ok, result = run_module("file_disk", dict(base, size_mib=8, grow=True), check=True)
    assert ok and result["changed"] is True and os.path.getsize(disk) == 4 * 2**20
    ok, result = run_module("file_disk", dict(base, size_mib=8, grow=True))
    assert ok and result["changed"] is True and os.path.getsize(disk) == 8 * 2**20
    ok, result = run_module("file_disk", dict(base, size_mib=4, grow=True))
    assert not ok and "cannot shrink" in result["msg"] and str(disk) in result["msg"]

    outside = tmp_path / "other" / "disk0"
    ok, result = run_module("file_disk", {"path": str(outside), "size_mib": 4,
                                          "allowed_dirs": [str(storage)]})
    assert not ok
    assert str(outside) in result["msg"] and str(storage) in result["msg"]
    assert not outside.exists()

    ok, result = run_module("file_disk", {"path": str(disk), "allowed_dirs": [str(storage)]})
    assert not ok and "size_mib is required" in result["msg"]


def test_rename_and_absent(run_module, tmp_path):
    storage = tmp_path / "fs"
    old = storage / "old" / "disk0"
    new = storage / "new" / "disk0"
    dirs = [str(storage)]
    assert run_module("file_disk", {"path": str(old), "size_mib": 4, "allowed_dirs": dirs})[0]
    rename = {"path": str(new), "rename_from": str(old), "allowed_dirs": dirs,
              "remove_empty_parent": True}
    ok, result = run_module("file_disk", rename, check=True)
    assert ok and result["changed"] and old.exists() and not new.exists()
    ok, result = run_module("file_disk", rename)
    assert ok and result["changed"] and new.exists() and not old.parent.exists()
    ok, result = run_module("file_disk", rename)
    assert ok and result["changed"] is False

    absent = {"path": str(new), "state": "absent", "allowed_dirs": dirs,
              "remove_empty_parent": True}
    ok, result = run_module("file_disk", absent, check=True)
    assert ok and result["changed"] and new.exists()
    ok, result = run_module("file_disk", absent)
    assert ok and result["changed"] and not new.exists() and not new.parent.exists()
    assert storage.is_dir()
    ok, result = run_module("file_disk", absent)
    assert ok and result["changed"] is False
