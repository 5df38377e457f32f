"""Storage questions a node answers about itself (node calls ``storage-list`` and
``volumes``, declared in :data:`gnt.nodes.agent.CALLS`): its storage units as Ganeti's
``gnt-node list-storage`` shows them, and its logical volumes for ``gnt-node volumes``.

Storage types (Ganeti's): ``lvm-vg`` and ``lvm-pv`` from lvm2's reports (through the
collection's storage module_utils), ``file`` and ``sharedfile`` from the storage directory's
file system (size and free) and what is under the directory (used). Sizes are MiB.
"""

from __future__ import annotations

import os
from typing import Any

from gnt.core.collection import load_module_util
from gnt.opcodes.storage import STORAGE_TYPES

# The fields of a storage unit (Ganeti's SF_*); node and type are added by the master.
STORAGE_FIELDS = ("node", "type", "name", "size", "used", "free", "allocatable")


def _lvm() -> tuple[Any, Any]:
    return load_module_util("storage.base"), load_module_util("storage.lvm")


def _dir_used_mib(path: str) -> int:
    """MiB allocated to the files under ``path`` (not following links)."""
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                continue
    return total // (1024 * 1024)


def storage_list(storage_type: str, path: str | None = None) -> list[dict[str, Any]]:
    """The storage units of ``storage_type`` here, sorted by name (``path``: the storage
    directory of the file types)."""
    if storage_type == "lvm-vg":
        base, lvm = _lvm()
        return sorted(({"name": vg["name"], "size": int(vg["size_mib"]),
                        "used": int(vg["size_mib"]) - int(vg["free_mib"]),
                        "free": int(vg["free_mib"]), "allocatable": True}
                       for vg in lvm.list_vgs(base.subprocess_runner)),
                      key=lambda unit: unit["name"])
    if storage_type == "lvm-pv":
        base, lvm = _lvm()
        return sorted(({"name": pv["name"], "size": int(pv["size_mib"]),
                        "used": int(pv["used_mib"]), "free": int(pv["free_mib"]),
                        "allocatable": bool(pv["allocatable"])}
                       for pv in lvm.list_pvs(base.subprocess_runner)),
                      key=lambda unit: unit["name"])
    if storage_type in ("file", "sharedfile"):
        if not path:
            raise ValueError(f"storage type {storage_type} needs the storage directory")
        usage = load_module_util("node_facts").storage_usage([path])[path]
        if not usage["exists"]:
            raise ValueError(f"storage directory {path} does not exist")
        return [{"name": path, "size": int(usage["total_mib"]), "used": _dir_used_mib(path),
                 "free": int(usage["free_mib"]), "allocatable": True}]
    raise ValueError(f"unknown storage type {storage_type!r} (known: {', '.join(STORAGE_TYPES)})")


def volumes() -> list[dict[str, Any]]:
    """Every logical volume here: physical device(s), vg, name, size (MiB)."""
    base, lvm = _lvm()
    return [{"phys": ",".join(lv["devices"]) or "-", "vg": lv["vg"], "name": lv["name"],
             "size": int(lv["size_mib"])}
            for lv in sorted(lvm.list_lvs(base.subprocess_runner),
                             key=lambda lv: (lv["vg"], lv["name"]))]


def drbd_status() -> dict[str, Any]:
    """The DRBD minors configured here as ``/proc/drbd`` shows them (minor as a string ->
    connection, role, peer_role, disk, peer_disk, degraded, local_disk, sync_percent...);
    empty when the drbd kernel module is not loaded."""
    status = load_module_util("storage.drbd_status")
    if not os.path.exists("/proc/drbd"):
        return {}
    proc = status.read_proc_drbd()
    return {str(minor): info.as_dict() for minor, info in sorted(proc.minors.items())}


def verify_storage(vgs: list[str], drbd: bool) -> dict[str, Any]:
    """What ``gnt-cluster verify`` checks of this node's LVM and DRBD: the volume groups found
    of ``vgs`` (``vgs_found``), the logical volumes in them (``lvs``: ``"vg/lv"`` -> active) or
    why they could not be listed (``lvm_error``); with ``drbd``, the minors configured here
    (``drbd_minors``: minor as a string -> :func:`drbd_status`'s fields) and the kernel
    module's usermode helper (``drbd_helper``, None when the module is not loaded)."""
    result: dict[str, Any] = {}
    if vgs:
        base, lvm = _lvm()
        try:
            result["vgs_found"] = sorted(vg["name"] for vg in lvm.list_vgs(base.subprocess_runner)
                                         if vg["name"] in vgs)
            present = [vg for vg in vgs if vg in result["vgs_found"]]
            lvs = lvm.list_lvs(base.subprocess_runner, present) if present else []
            result["lvs"] = {f"{lv['vg']}/{lv['name']}": bool(lv["active"]) for lv in lvs}
        except Exception as err:  # StorageError: the message names the command and its output
            result["lvm_error"] = str(err)
    if drbd:
        drbd_util = load_module_util("storage.drbd")
        try:
            with open(drbd_util.USERMODE_HELPER_FILE, encoding="utf-8") as handle:
                result["drbd_helper"] = handle.read().strip()
        except OSError:
            result["drbd_helper"] = None
        result["drbd_minors"] = drbd_status()
    return result
