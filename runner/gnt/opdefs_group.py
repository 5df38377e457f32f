"""Opcode definitions for node groups (gnt-group).

Parameter names follow Ganeti's group opcodes (and so its RAPI bodies): ``group_name``,
``new_name``, ``nodes``, ``alloc_policy``, ``ndparams``, ``force``.
"""

from __future__ import annotations

from .opcodes import OpDef, P, R, t_bool, t_dict, t_list_of_str, t_name, t_one_of

# Ganeti's allocation policies, in its order of preference.
ALLOC_PREFERRED = "preferred"
ALLOC_LAST_RESORT = "last_resort"
ALLOC_UNALLOCABLE = "unallocable"
ALLOC_POLICIES = (ALLOC_PREFERRED, ALLOC_LAST_RESORT, ALLOC_UNALLOCABLE)

_POLICY = t_one_of(*ALLOC_POLICIES)

DEFS: list[OpDef] = [
    OpDef("OP_GROUP_ADD", (R("group_name", t_name), P("alloc_policy", _POLICY, None),
                           P("ndparams", t_dict, {}), P("tags", t_list_of_str, [])),
          summary="group_name", doc="Create a new, empty node group."),
    OpDef("OP_GROUP_REMOVE", (R("group_name", t_name),),
          summary="group_name", doc="Remove an empty node group (never the last one)."),
    OpDef("OP_GROUP_RENAME", (R("group_name", t_name), R("new_name", t_name)),
          summary="group_name", doc="Rename a node group."),
    OpDef("OP_GROUP_ASSIGN_NODES", (R("group_name", t_name), R("nodes", t_list_of_str),
                                    P("force", t_bool, False)),
          summary="group_name", doc="Move nodes into a node group."),
    OpDef("OP_GROUP_SET_PARAMS", (R("group_name", t_name), P("alloc_policy", _POLICY, None),
                                  P("ndparams", t_dict, None)),
          summary="group_name", doc="Change a node group's parameters."),
]
