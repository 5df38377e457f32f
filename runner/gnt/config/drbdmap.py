"""DRBD minors, ports and secrets, and LVM volume names of new disks, allocated from the config.

Facts as in Ganeti:

- A ``drbd`` disk's ``logical_id`` is ``[primary node UUID, secondary node UUID, port,
  primary minor, secondary minor, shared secret]``; its ``children`` are two ``plain`` disks,
  data (the disk's size) and meta-data (128 MiB), whose ``logical_id`` is ``[vg, lv name]``.
- Minors are per node: the map of used minors is computed from the disks in the config (no
  separate table to drift), a new disk gets the lowest free minor on each of its nodes, and a
  removed disk's minors are free again as soon as it leaves the config. Two jobs never
  allocate on the same node at once: both hold that node's lock.
- Ports are cluster-wide, from 11000 to 14999: released ports go to the cluster's
  ``tcpudp_port_pool`` and are handed out again first, otherwise the port after
  ``highest_used_port``. A port is taken (and persisted) when a job allocates it and given back
  when the job fails before the disk is in the config, or when the disk is removed.
- LV names are ``<new uuid>.disk<N>`` (plain) and ``<new uuid>.disk<N>_data``/``_meta`` (drbd).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gnt.config.objects import new_uuid
from gnt.core.errors import ECODE_INVAL, ECODE_NORES, ConfigError, OpPrereqError
from gnt.opcodes.storage import DT_DRBD, DT_PLAIN

FIRST_DRBD_PORT = 11000
LAST_DRBD_PORT = 14999
DRBD_META_SIZE = 128            # MiB, the meta-data volume of every drbd disk
SECRET_BYTES = 20               # 40 hex digits, as Ganeti's generated secrets

# Positions in a drbd disk's logical_id.
LID_PNODE, LID_SNODE, LID_PORT, LID_PMINOR, LID_SMINOR, LID_SECRET = range(6)


@dataclass(frozen=True)
class DrbdEnd:
    """One node's side of a drbd disk, as ``gnt-node list-drbd`` shows it."""

    node: str          # node UUID
    minor: int
    disk: str          # disk UUID
    role: str          # "primary" or "secondary" (the configured role, not the live state)
    peer: str          # the other node's UUID


def drbd_disks(data: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Every drbd disk of the config ``data``."""
    return (disk for disk in data["disks"].values() if disk.get("dev_type") == DT_DRBD)


def drbd_ends(disk: dict[str, Any]) -> tuple[DrbdEnd, DrbdEnd]:
    """The primary and secondary ends of a drbd ``disk`` (ConfigError for a bad logical_id)."""
    lid = disk.get("logical_id")
    if not isinstance(lid, list) or len(lid) != 6 or not all(
            isinstance(lid[i], int) and not isinstance(lid[i], bool)
            for i in (LID_PORT, LID_PMINOR, LID_SMINOR)):
        raise ConfigError(f"config.data: drbd disk {disk.get('uuid')} has a bad logical_id"
                          f" {lid!r:.80} (want [pnode, snode, port, pminor, sminor, secret])")
    pnode, snode = str(lid[LID_PNODE]), str(lid[LID_SNODE])
    return (DrbdEnd(pnode, lid[LID_PMINOR], disk["uuid"], "primary", snode),
            DrbdEnd(snode, lid[LID_SMINOR], disk["uuid"], "secondary", pnode))


def minor_map(data: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Used minors: node UUID -> minor -> disk UUID, every node present (maybe empty).

    Raises ConfigError naming both disks when two disks claim one minor of a node.
    """
    used: dict[str, dict[int, str]] = {uuid: {} for uuid in data["nodes"]}
    for disk in drbd_disks(data):
        for end in drbd_ends(disk):
            minors = used.setdefault(end.node, {})
            other = minors.get(end.minor)
            if other is not None and other != end.disk:
                raise ConfigError(f"config.data: DRBD minor {end.minor} of node {end.node} is"
                                  f" used by two disks ({other} and {end.disk})")
            minors[end.minor] = end.disk
    return used


def node_ends(data: dict[str, Any], node_uuid: str) -> list[DrbdEnd]:
    """The drbd ends configured on one node, by minor."""
    ends = [end for disk in drbd_disks(data) for end in drbd_ends(disk) if end.node == node_uuid]
    return sorted(ends, key=lambda end: end.minor)


def allocate_minors(data: dict[str, Any], node_uuids: list[str],
                    taken: dict[str, set[int]] | None = None) -> list[int]:
    """The lowest free minor on each of ``node_uuids`` (in that order).

    ``taken`` holds minors this job already allocated for other new disks (node UUID -> minors)
    and is updated, so several disks of one instance get distinct minors before any of them
    is in the config.
    """
    if len(set(node_uuids)) != len(node_uuids):
        raise OpPrereqError(f"A DRBD disk needs two different nodes, not {node_uuids}",
                            ECODE_INVAL)
    used = minor_map(data)
    pending = taken if taken is not None else {}
    result = []
    for node in node_uuids:
        busy = set(used.get(node, {})) | pending.setdefault(node, set())
        minor = next(m for m in range(len(busy) + 1) if m not in busy)
        pending[node].add(minor)
        result.append(minor)
    return result


def used_ports(data: dict[str, Any]) -> set[int]:
    """Ports of the drbd disks in the config."""
    ports = set()
    for disk in drbd_disks(data):
        drbd_ends(disk)   # validates the logical_id
        ports.add(int(disk["logical_id"][LID_PORT]))
    return ports


def allocate_port(cluster: dict[str, Any], in_use: set[int]) -> int:
    """Take a port for a new drbd disk, recording it in ``cluster`` (call inside a config
    change): the first pooled port not ``in_use``, else the one after ``highest_used_port``.

    OpPrereqError (ECODE_NORES) when every port up to 14999 is used.
    """
    pool = [int(p) for p in cluster.get("tcpudp_port_pool") or []]
    for port in sorted(pool):
        pool.remove(port)
        if port not in in_use:
            cluster["tcpudp_port_pool"] = pool
            return port
    cluster["tcpudp_port_pool"] = pool
    highest = max(int(cluster.get("highest_used_port") or FIRST_DRBD_PORT - 1),
                  FIRST_DRBD_PORT - 1)
    port = highest + 1
    while port in in_use:
        port += 1
    if port > LAST_DRBD_PORT:
        raise OpPrereqError(f"No free DRBD port left ({FIRST_DRBD_PORT}-{LAST_DRBD_PORT} are"
                            " all in use)", ECODE_NORES)
    cluster["highest_used_port"] = port
    return port


def release_port(cluster: dict[str, Any], port: int) -> None:
    """Give ``port`` back to the cluster's pool (call inside a config change)."""
    pool = [int(p) for p in cluster.get("tcpudp_port_pool") or []]
    if port not in pool:
        pool.append(int(port))
    cluster["tcpudp_port_pool"] = sorted(pool)


def new_secret() -> str:
    """A fresh shared secret for one drbd disk's connection."""
    return secrets.token_hex(SECRET_BYTES)


def new_lv_name(index: int, suffix: str = "") -> str:
    """``<new uuid>.disk<index><suffix>``: the LV name of a new disk (suffix ``_data`` or
    ``_meta`` for a drbd disk's children)."""
    return f"{new_uuid()}.disk{index}{suffix}"


def plain_disk(vg: str, name: str, size: int) -> dict[str, Any]:
    """A ``plain`` disk's device fields (a drbd child, or the disk of a plain instance)."""
    return {"dev_type": DT_PLAIN, "logical_id": [vg, name], "size": size}


def drbd_disk(pnode: str, snode: str, port: int, minors: list[int], secret: str,
              size: int, vg: str, metavg: str, index: int) -> dict[str, Any]:
    """A drbd disk's device fields with its data and meta-data children."""
    base = new_lv_name(index)
    return {"dev_type": DT_DRBD,
            "logical_id": [pnode, snode, port, minors[0], minors[1], secret],
            "size": size,
            "children": [plain_disk(vg, f"{base}_data", size),
                         plain_disk(metavg, f"{base}_meta", DRBD_META_SIZE)]}
