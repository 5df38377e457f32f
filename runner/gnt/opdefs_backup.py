"""Opcode definitions for instance exports (gnt-backup)."""

from __future__ import annotations

from .opcodes import OpDef, P, R, t_bool, t_list_of_str, t_name

DEFS: list[OpDef] = [
    OpDef("OP_BACKUP_QUERY", (P("nodes", t_list_of_str, []), P("use_locking", t_bool, False)),
          doc="List the exports on the nodes."),
    OpDef("OP_BACKUP_REMOVE", (R("instance_name", t_name),), summary="instance_name",
          doc="Remove an instance's export from every node."),
]
