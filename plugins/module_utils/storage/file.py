# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""The ``file``/``sharedfile`` kind behind the backend interface.

An adapter over :mod:`file_storage` (which ``file_disk`` keeps using directly): a device name
is the absolute path of the image file, checked against the allowed storage directories. A
file is attached whenever it exists (QEMU opens the path itself), so attach and detach change
nothing; snapshots are not a file-storage operation (Ganeti has none either).
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import os
from collections.abc import Sequence
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.file_storage import (
    FileStorageError,
    disk_info,
    ensure_absent,
    ensure_present,
    resolve_allowed,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    DeviceState,
    StorageBackend,
    StorageError,
    positive_size,
)


def _state(info: dict[str, Any]) -> DeviceState:
    return DeviceState(name=info["path"], exists=info["exists"], attached=info["exists"],
                       path=info["path"], size_mib=info["size_mib"],
                       details={"allocated_mib": info["allocated_mib"]})


def _outcome(result: dict[str, Any]) -> ActionResult:
    return ActionResult(state=_state(result), actions=list(result["actions"]))


class FileBackend(StorageBackend):
    """Raw image files inside ``allowed_dirs`` (the cluster's file storage directories)."""

    kind = "file"

    def __init__(self, allowed_dirs: Sequence[str], preallocate: bool = False) -> None:
        self.allowed_dirs = list(allowed_dirs)
        self.preallocate = preallocate

    def info(self, name: str) -> DeviceState:
        try:
            return _state(disk_info(resolve_allowed(name, self.allowed_dirs)))
        except FileStorageError as err:
            raise StorageError(str(err)) from err

    def create(self, name: str, size_mib: int, check_mode: bool = False,
               **options: Any) -> ActionResult:
        positive_size("disk %s" % name, size_mib)
        return self._present(name, size_mib=size_mib, check_mode=check_mode)

    def remove(self, name: str, check_mode: bool = False) -> ActionResult:
        try:
            return _outcome(ensure_absent(name, self.allowed_dirs, check_mode=check_mode))
        except FileStorageError as err:
            raise StorageError(str(err)) from err

    def rename(self, old_name: str, new_name: str, check_mode: bool = False) -> ActionResult:
        return self._present(new_name, rename_from=old_name, check_mode=check_mode)

    def grow(self, name: str, size_mib: int, check_mode: bool = False) -> ActionResult:
        positive_size("disk %s" % name, size_mib)
        if not self.info(name).exists:
            raise StorageError("disk %s does not exist, cannot grow it" % name)
        return self._present(name, size_mib=size_mib, grow=True, check_mode=check_mode)

    def attach(self, name: str, check_mode: bool = False) -> ActionResult:
        state = self.info(name)
        if not state.exists:
            raise StorageError("disk %s does not exist, cannot attach it" % name)
        return ActionResult(state=state)

    def detach(self, name: str, check_mode: bool = False) -> ActionResult:
        return ActionResult(state=self.info(name))

    def verify(self) -> list[str]:
        return ["file storage directory %s does not exist" % directory
                for directory in self.allowed_dirs if not os.path.isdir(directory)]

    def _present(self, name: str, check_mode: bool, **kwargs: Any) -> ActionResult:
        try:
            return _outcome(ensure_present(name, self.allowed_dirs,
                                           preallocate=self.preallocate,
                                           check_mode=check_mode, **kwargs))
        except FileStorageError as err:
            raise StorageError(str(err)) from err
