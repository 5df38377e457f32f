"""storage.file: the file kind behind the backend interface (an adapter over file_storage)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    NotSupportedError,
    StorageError,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.file import FileBackend


def test_file_backend_lifecycle(tmp_path):
    storage = tmp_path / "fs"
    storage.mkdir()
    backend = FileBackend([str(storage)])
    disk = str(storage / "inst1" / "disk0")
    assert backend.info(disk).exists is False
    checked = backend.create(disk, 4, check_mode=True)
    assert checked.changed and checked.state.exists and not os.path.exists(disk)
    created = backend.create(disk, 4)
    assert created.changed and created.state.attached and created.state.size_mib == 4
    assert not backend.create(disk, 4).changed
    assert not backend.attach(disk).changed and not backend.detach(disk).changed
    assert backend.grow(disk, 8).state.size_mib == 8
    with pytest.raises(StorageError, match="cannot shrink"):
        backend.grow(disk, 4)
    moved = str(storage / "inst2" / "disk0")
    assert backend.rename(disk, moved).changed and os.path.exists(moved)
    with pytest.raises(NotSupportedError, match="the file backend cannot snapshot"):
        backend.snapshot(moved, moved + ".snap", 8)
    assert backend.remove(moved).changed and not os.path.exists(moved)
    assert backend.verify() == []
    with pytest.raises(StorageError, match="outside the allowed storage directories"):
        backend.create(str(tmp_path / "elsewhere"), 4)
    with pytest.raises(StorageError, match="size must be a positive number of MiB"):
        backend.create(disk, 0)
