"""Opcode definitions for nodes (add, remove, modify, migrate, evacuate) and the cluster's
multi-node operations."""

from __future__ import annotations

from .opcodes import OpDef, P, R, t_bool, t_dict, t_maybe_bool, t_maybe_str, t_name

DEFS: list[OpDef] = [
    OpDef("OP_NODE_ADD", (
        R("node_name", t_name), P("primary_ip", t_maybe_str, None),
        P("secondary_ip", t_maybe_str, None), P("readd", t_bool, False),
        P("group", t_maybe_str, None), P("master_capable", t_maybe_bool, None),
        P("vm_capable", t_maybe_bool, None), P("ndparams", t_dict, {})),
        summary="node_name", doc="Add a node to the cluster (or re-add a known one)."),
    OpDef("OP_NODE_REMOVE", (R("node_name", t_name),), summary="node_name",
          doc="Remove a node without instances from the cluster."),
    OpDef("OP_NODE_SET_PARAMS", (
        R("node_name", t_name), P("force", t_bool, False),
        P("master_candidate", t_maybe_bool, None), P("offline", t_maybe_bool, None),
        P("drained", t_maybe_bool, None), P("auto_promote", t_bool, False),
        P("master_capable", t_maybe_bool, None), P("vm_capable", t_maybe_bool, None),
        P("secondary_ip", t_maybe_str, None), P("ndparams", t_dict, {}),
        P("powered", t_maybe_bool, None)),
        summary="node_name", doc="Change a node's roles and parameters."),
    OpDef("OP_CLUSTER_REDIST_CONF", (),
          doc="Push the configuration and ssconf files to every online node again."),
]
