"""Opcode definitions for nodes (add, remove, modify, migrate, evacuate) and the cluster's
multi-node operations."""

from __future__ import annotations

from typing import Any

from gnt.opcodes.base import (
    ND_CHANGES,
    OpDef,
    P,
    R,
    t_bool,
    t_dict,
    t_hostname,
    t_int,
    t_list_of_str,
    t_maybe_bool,
    t_maybe_str,
    t_name,
    t_one_of,
)
from gnt.opcodes.storage import STORAGE_TYPES


def t_maybe_one_of(*choices: str) -> Any:
    """None or one of ``choices``."""
    inner = t_one_of(*choices)

    def check(value: Any) -> bool:
        return value is None or bool(inner(value))
    check.__name__ = f"none or {inner.__name__}"
    setattr(check, "choices", (None, *choices))   # noqa: B010 - read by the OpenAPI schema
    return check


DEFS: list[OpDef] = [
    OpDef("OP_NODE_ADD", (
        R("node_name", t_hostname), P("primary_ip", t_maybe_str, None),
        P("secondary_ip", t_maybe_str, None), P("readd", t_bool, False),
        P("group", t_maybe_str, None), P("master_capable", t_maybe_bool, None),
        P("vm_capable", t_maybe_bool, None), P("ndparams", ND_CHANGES, {})),
        summary="node_name", doc="Add a node to the cluster (or re-add a known one)."),
    OpDef("OP_NODE_REMOVE", (R("node_name", t_name),), summary="node_name",
          doc="Remove a node without instances from the cluster."),
    OpDef("OP_NODE_POWERCYCLE", (R("node_name", t_name), P("force", t_bool, False)),
          summary="node_name", doc="Hard-reboot a node (the master only with force)."),
    OpDef("OP_NODE_SET_PARAMS", (
        R("node_name", t_name), P("force", t_bool, False),
        P("master_candidate", t_maybe_bool, None), P("offline", t_maybe_bool, None),
        P("drained", t_maybe_bool, None), P("auto_promote", t_bool, False),
        P("master_capable", t_maybe_bool, None), P("vm_capable", t_maybe_bool, None),
        P("secondary_ip", t_maybe_str, None), P("ndparams", ND_CHANGES, {}),
        P("powered", t_maybe_bool, None)),
        summary="node_name", doc="Change a node's roles and parameters."),
    OpDef("OP_INSTANCE_MIGRATE", (
        R("instance_name", t_name), P("mode", t_maybe_one_of("live", "non-live"), None),
        P("live", t_maybe_bool, None), P("cleanup", t_bool, False),
        P("target_node", t_maybe_str, None), P("iallocator", t_maybe_str, None),
        P("allow_failover", t_bool, False), P("allow_runtime_changes", t_bool, True),
        P("ignore_ipolicy", t_bool, False), P("ignore_hvversions", t_bool, False),
        P("shutdown_timeout", t_int, 120)),
        summary="instance_name", doc="Live-migrate an instance to another node."),
    OpDef("OP_INSTANCE_FAILOVER", (
        R("instance_name", t_name), P("ignore_consistency", t_bool, False),
        P("shutdown_timeout", t_int, 120), P("target_node", t_maybe_str, None),
        P("iallocator", t_maybe_str, None), P("ignore_ipolicy", t_bool, False),
        P("cleanup", t_bool, False)),
        summary="instance_name", doc="Restart an instance on another node."),
    OpDef("OP_INSTANCE_MOVE", (
        R("instance_name", t_name), R("target_node", t_name),
        P("shutdown_timeout", t_int, 120), P("ignore_consistency", t_bool, False),
        P("ignore_ipolicy", t_bool, False), P("compress", t_maybe_str, None)),
        summary="instance_name", doc="Copy a non-redundant instance to another node."),
    OpDef("OP_NODE_MIGRATE", (
        R("node_name", t_name), P("mode", t_maybe_one_of("live", "non-live"), None),
        P("live", t_maybe_bool, None), P("target_node", t_maybe_str, None),
        P("iallocator", t_maybe_str, None), P("allow_runtime_changes", t_bool, True),
        P("ignore_ipolicy", t_bool, False)),
        summary="node_name", doc="Migrate every running primary instance off a node."),
    OpDef("OP_NODE_EVACUATE", (
        R("node_name", t_name),
        P("mode", t_one_of("primary-only", "secondary-only", "all"), "all"),
        P("remote_node", t_maybe_str, None), P("iallocator", t_maybe_str, None),
        P("early_release", t_bool, False)),
        summary="node_name", doc="Move every instance off a node."),
    OpDef("OP_NODE_QUERY_STORAGE", (
        P("nodes", t_list_of_str, []),
        P("storage_type", t_maybe_one_of(*STORAGE_TYPES), None),
        P("name", t_maybe_str, None),
        R("output_fields", t_list_of_str)),
        doc="List the storage units of the nodes (gnt-node list-storage)."),
    OpDef("OP_NODE_MODIFY_STORAGE", (
        R("node_name", t_name), R("storage_type", t_one_of(*STORAGE_TYPES)), R("name", t_name),
        R("changes", t_dict)),
        summary="node_name", doc="Change a storage unit of a node (gnt-node modify-storage)."),
    OpDef("OP_REPAIR_NODE_STORAGE", (
        R("node_name", t_name), R("storage_type", t_one_of(*STORAGE_TYPES)), R("name", t_name),
        P("ignore_consistency", t_bool, False)),
        summary="node_name", doc="Repair a storage unit of a node (gnt-node repair-storage)."),
    OpDef("OP_NODE_QUERYVOLS", (P("nodes", t_list_of_str, []), R("output_fields", t_list_of_str)),
          doc="List the logical volumes of the nodes (gnt-node volumes)."),
    OpDef("OP_CLUSTER_REDIST_CONF", (),
          doc="Push the configuration and ssconf files to every online node again."),
]
