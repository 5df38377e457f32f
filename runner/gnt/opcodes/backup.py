"""Opcode definitions for instance exports (gnt-backup). Import is OP_INSTANCE_CREATE with
``mode="import"`` (in :mod:`gnt.opcodes.base`), as in Ganeti."""

from __future__ import annotations

from typing import Any

from gnt.opcodes.base import (
    OpDef,
    P,
    R,
    t_bool,
    t_int,
    t_list_of_str,
    t_maybe_list,
    t_maybe_str,
    t_name,
    t_one_of,
)
from gnt.opcodes.params import COMPRESSIONS

EXPORT_MODE_LOCAL = "local"
EXPORT_MODE_REMOTE = "remote"


def t_export_target(v: Any) -> bool:
    """A node name (local export) or the signed per-disk destinations of a remote one."""
    return t_name(v) or (isinstance(v, list) and all(isinstance(item, list) for item in v))


t_export_target.__name__ = ("a node name, or a list of signed [host, port, magic, hmac, salt]"
                            " disk destinations (mode remote)")

DEFS: list[OpDef] = [
    OpDef("OP_BACKUP_QUERY", (P("nodes", t_list_of_str, []), P("use_locking", t_bool, False)),
          doc="List the exports on the nodes."),
    OpDef("OP_BACKUP_EXPORT", (
        R("instance_name", t_name), R("target_node", t_export_target),
        P("shutdown", t_bool, True), P("shutdown_timeout", t_int, 120),
        P("remove_instance", t_bool, False), P("ignore_remove_failures", t_bool, False),
        P("compress", t_one_of(*COMPRESSIONS), "none"),
        P("mode", t_one_of(EXPORT_MODE_LOCAL, EXPORT_MODE_REMOTE), EXPORT_MODE_LOCAL),
        P("x509_key_name", t_maybe_list, None), P("destination_x509_ca", t_maybe_str, None)),
        summary="instance_name",
        doc="Export an instance's disks and configuration to a node."),
    OpDef("OP_BACKUP_PREPARE", (R("instance_name", t_name),
                                R("mode", t_one_of(EXPORT_MODE_LOCAL, EXPORT_MODE_REMOTE))),
          summary="instance_name",
          doc="Prepare an export: for a remote one (to another cluster) the handshake, a signed"
              " X509 key name and CA of the primary node."),
    OpDef("OP_BACKUP_REMOVE", (R("instance_name", t_name),), summary="instance_name",
          doc="Remove an instance's export from every node."),
]
