"""file_storage: create, grow, shrink refusal, outside-dir refusal, rename, removal."""

from __future__ import annotations

import os

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.file_storage import (
    MIB,
    FileStorageError,
    disk_info,
    ensure_absent,
    ensure_present,
    inspect_disk,
    resolve_allowed,
)


@pytest.fixture
def storage(tmp_path):
    base = tmp_path / "file-storage"
    base.mkdir()
    return base


def test_create_sparse_with_parent_dir(storage):
    path = storage / "inst1" / "disk0"
    result = ensure_present(str(path), [str(storage)], size_mib=16)
    assert result["changed"] is True
    assert result["exists"] is True
    assert os.path.getsize(path) == 16 * MIB
    assert result["size_mib"] == 16
    assert result["allocated_mib"] < 16  # sparse
    again = ensure_present(str(path), [str(storage)], size_mib=16)
    assert again["changed"] is False
    assert again["actions"] == []


def test_create_preallocated(storage):
    path = storage / "inst1" / "disk0"
    result = ensure_present(str(path), [str(storage)], size_mib=8, preallocate=True)
    assert result["allocated_mib"] == 8
    assert os.stat(path).st_blocks * 512 >= 8 * MIB


def test_check_mode_changes_nothing(storage):
    path = storage / "inst1" / "disk0"
    result = ensure_present(str(path), [str(storage)], size_mib=8, check_mode=True)
    assert result["changed"] is True
    assert result["size_mib"] == 8
    assert not path.exists()
    assert not path.parent.exists()


def test_grow_and_refuse_shrink(storage):
    path = str(storage / "d0")
    ensure_present(path, [str(storage)], size_mib=8)
    mismatch = ensure_present(path, [str(storage)], size_mib=12)
    assert mismatch["changed"] is False
    assert mismatch["size_mismatch"] is True
    assert os.path.getsize(path) == 8 * MIB
    grown = ensure_present(path, [str(storage)], size_mib=12, grow=True)
    assert grown["changed"] is True
    assert os.path.getsize(path) == 12 * MIB
    with pytest.raises(FileStorageError, match="cannot shrink"):
        ensure_present(path, [str(storage)], size_mib=4, grow=True)
    assert os.path.getsize(path) == 12 * MIB
    smaller = ensure_present(path, [str(storage)], size_mib=4)
    assert smaller["size_mismatch"] is True and smaller["changed"] is False


def test_grow_keeps_data(storage):
    path = storage / "d0"
    ensure_present(str(path), [str(storage)], size_mib=4)
    with open(path, "r+b") as handle:
        handle.write(b"payload")
    ensure_present(str(path), [str(storage)], size_mib=8, grow=True)
    assert path.read_bytes()[:7] == b"payload"


def test_outside_allowed_dirs_refused(storage, tmp_path):
    outside = tmp_path / "elsewhere" / "disk0"
    with pytest.raises(FileStorageError) as err:
        ensure_present(str(outside), [str(storage)], size_mib=4)
    assert str(outside) in str(err.value) and str(storage) in str(err.value)
    assert not outside.exists()
    # ".." and symlinks are resolved before the check
    sneaky = storage / ".." / "elsewhere" / "disk0"
    with pytest.raises(FileStorageError, match="outside the allowed"):
        ensure_present(str(sneaky), [str(storage)], size_mib=4)
    (storage / "link").symlink_to(tmp_path)
    with pytest.raises(FileStorageError, match="outside the allowed"):
        resolve_allowed(str(storage / "link" / "disk0"), [str(storage)])
    # the storage directory itself is not a disk path
    with pytest.raises(FileStorageError):
        resolve_allowed(str(storage), [str(storage)])
    with pytest.raises(FileStorageError, match="not an absolute"):
        resolve_allowed("relative/disk0", [str(storage)])


def test_rename_moves_and_is_idempotent(storage):
    old = storage / "old.example.com" / "disk0"
    new = storage / "new.example.com" / "disk0"
    ensure_present(str(old), [str(storage)], size_mib=4)
    old.write_bytes(b"x" * 10)
    checked = ensure_present(str(new), [str(storage)], rename_from=str(old), check_mode=True)
    assert checked["changed"] is True and old.exists() and not new.exists()
    moved = ensure_present(str(new), [str(storage)], rename_from=str(old),
                           remove_empty_parent=True)
    assert moved["changed"] is True
    assert new.read_bytes() == b"x" * 10
    assert not old.exists()
    assert not old.parent.exists()  # emptied instance dir removed
    again = ensure_present(str(new), [str(storage)], rename_from=str(old))
    assert again["changed"] is False


def test_rename_conflicts(storage):
    old, new = storage / "a" / "disk0", storage / "b" / "disk0"
    with pytest.raises(FileStorageError, match="neither exists"):
        ensure_present(str(new), [str(storage)], rename_from=str(old))
    ensure_present(str(old), [str(storage)], size_mib=4)
    ensure_present(str(new), [str(storage)], size_mib=4)
    with pytest.raises(FileStorageError, match="already exists"):
        ensure_present(str(new), [str(storage)], rename_from=str(old))


def test_missing_without_size_fails(storage):
    with pytest.raises(FileStorageError, match="no size_mib"):
        ensure_present(str(storage / "d0"), [str(storage)])


def test_absent_removes_file_and_empty_instance_dir(storage):
    path = storage / "inst1" / "disk0"
    ensure_present(str(path), [str(storage)], size_mib=4)
    checked = ensure_absent(str(path), [str(storage)], remove_empty_parent=True,
                            check_mode=True)
    assert checked["changed"] is True and path.exists()
    assert len(checked["actions"]) == 2
    result = ensure_absent(str(path), [str(storage)], remove_empty_parent=True)
    assert result["changed"] is True
    assert not path.exists() and not path.parent.exists()
    assert storage.is_dir()  # never the storage dir itself
    assert ensure_absent(str(path), [str(storage)])["changed"] is False


def test_absent_keeps_non_empty_dir(storage):
    path = storage / "inst1" / "disk0"
    ensure_present(str(path), [str(storage)], size_mib=4)
    ensure_present(str(storage / "inst1" / "disk1"), [str(storage)], size_mib=4)
    ensure_absent(str(path), [str(storage)], remove_empty_parent=True)
    assert path.parent.is_dir()


def test_disk_info_rejects_directories(storage):
    (storage / "dir").mkdir()
    with pytest.raises(FileStorageError, match="not a regular file"):
        disk_info(str(storage / "dir"))
    assert disk_info(str(storage / "none"))["exists"] is False


def test_inspect_disk_reports_without_changing(storage, tmp_path):
    path = storage / "inst1" / "disk0"
    assert inspect_disk(str(path), [str(storage)], size_mib=4) == {
        "path": str(path), "exists": False, "size_mib": 0, "allocated_mib": 0,
        "size_mismatch": False}
    assert not path.parent.exists()
    ensure_present(str(path), [str(storage)], size_mib=4)
    info = inspect_disk(str(storage / "inst1" / ".." / "inst1" / "disk0"), [str(storage)])
    assert info["path"] == str(path) and info["size_mib"] == 4
    assert info["size_mismatch"] is False
    assert inspect_disk(str(path), [str(storage)], size_mib=4)["size_mismatch"] is False
    assert inspect_disk(str(path), [str(storage)], size_mib=8)["size_mismatch"] is True
    assert os.path.getsize(path) == 4 * MIB
    with pytest.raises(FileStorageError, match="outside the allowed storage directories"):
        inspect_disk(str(tmp_path / "elsewhere"), [str(storage)])
