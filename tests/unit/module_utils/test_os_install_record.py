"""os_interface install record: the OS install of an instance is marked on its real disk
files (extended attribute with the instance uuid), per disk, and dies with the file."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.gnt.cluster.plugins.module_utils.os_interface import (
    install_recorded,
    mark_install,
)


def instance(tmp_path: Path, disks: int = 2, uuid: str = "u-1") -> dict:
    paths = []
    for index in range(disks):
        disk = tmp_path / f"disk{index}"
        if not disk.exists():
            disk.write_bytes(b"\0" * 4096)
        paths.append({"index": index, "path": str(disk)})
    return {"name": "inst1.example.com", "uuid": uuid, "disks": paths}


def test_mark_record_and_clear(tmp_path):
    inst = instance(tmp_path)
    assert not install_recorded(inst)
    assert mark_install(inst, True) == []
    assert install_recorded(inst)
    # another instance (uuid) over the same files is not installed
    assert not install_recorded(instance(tmp_path, uuid="u-2"))
    assert mark_install(inst, False) == []
    assert not install_recorded(inst)
    assert mark_install(inst, False) == []  # clearing twice is fine


def test_a_recreated_or_missing_disk_drops_the_record(tmp_path):
    inst = instance(tmp_path)
    mark_install(inst, True)
    Path(inst["disks"][1]["path"]).unlink()
    assert not install_recorded(inst)
    assert mark_install(inst, False) == []  # a missing disk is fine when clearing
    Path(inst["disks"][1]["path"]).write_bytes(b"\0" * 4096)
    mark_install(dict(inst, disks=inst["disks"][:1]), True)
    assert not install_recorded(inst)  # the new disk 1 carries no record


def test_no_disks_or_no_uuid_is_never_installed(tmp_path):
    assert not install_recorded(instance(tmp_path, disks=0))
    assert not install_recorded(dict(instance(tmp_path), uuid=""))


def test_unmarkable_disk_is_a_warning(tmp_path):
    inst = instance(tmp_path, disks=1)
    inst["disks"].append({"index": 1, "path": str(tmp_path / "missing")})
    warnings = mark_install(inst, True)
    assert len(warnings) == 1 and str(tmp_path / "missing") in warnings[0]
    assert "inst1.example.com" in warnings[0]
    assert not install_recorded(inst)
