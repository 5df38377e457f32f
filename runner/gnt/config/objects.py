"""Constructors for new config objects: uuid, serial numbers and timestamps in one place."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any


def new_uuid() -> str:
    """A fresh object UUID."""
    return str(uuidlib.uuid4())


def stamp(obj: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Give a new object its uuid (if missing), serial_no 1, ctime and mtime."""
    now = time.time() if now is None else now
    obj.setdefault("uuid", new_uuid())
    obj["serial_no"] = 1
    obj["ctime"] = now
    obj["mtime"] = now
    return obj


def touch(obj: dict[str, Any], now: float | None = None) -> None:
    """Record a change of ``obj``: bump its serial_no and mtime."""
    obj["serial_no"] = obj.get("serial_no", 0) + 1
    obj["mtime"] = time.time() if now is None else now


def disks_active(instance: dict[str, Any]) -> bool:
    """Ganeti's ``disks_active`` of ``instance``: whether its disks are (to be) assembled.
    A config written before the field existed reads as the admin state being ``up``, as
    Ganeti upgrades a missing value."""
    value = instance.get("disks_active")
    if value is None:
        return instance.get("admin_state") == "up"
    return bool(value)


def empty_config(cluster: dict[str, Any], master: dict[str, Any], group: dict[str, Any],
                 version: int) -> dict[str, Any]:
    """A fresh ``config.data`` with one cluster, one node group and the master node."""
    now = time.time()
    for obj in (cluster, master, group):
        stamp(obj, now)
    master["group"] = group["uuid"]
    cluster["master_node"] = master["uuid"]
    return {
        "version": version,
        "serial_no": 1,
        "ctime": now,
        "mtime": now,
        "cluster": cluster,
        "nodes": {master["uuid"]: master},
        "nodegroups": {group["uuid"]: group},
        "instances": {},
        "disks": {},
        "networks": {},
    }
