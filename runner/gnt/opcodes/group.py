"""Opcode definitions for node groups (gnt-group).

Parameter names follow Ganeti's group opcodes (and so its RAPI bodies): ``group_name``,
``new_name``, ``nodes``, ``alloc_policy``, ``ndparams``, ``diskparams``, ``force``.
"""

from __future__ import annotations

from gnt.opcodes import base as _op

# Ganeti's allocation policies, in its order of preference.
ALLOC_PREFERRED = "preferred"
ALLOC_LAST_RESORT = "last_resort"
ALLOC_UNALLOCABLE = "unallocable"
ALLOC_POLICIES = (ALLOC_PREFERRED, ALLOC_LAST_RESORT, ALLOC_UNALLOCABLE)

P, R = _op.P, _op.R
_NAME, _POLICY = _op.t_name, _op.t_one_of(*ALLOC_POLICIES)

DEFS: list[_op.OpDef] = [
    _op.OpDef("OP_GROUP_ADD", (R("group_name", _NAME), P("alloc_policy", _POLICY, None),
                               P("ndparams", _op.ND_CHANGES, {}),
                               P("ipolicy", _op.t_ipolicy(group=True), {}),
                               P("diskparams", _op.t_diskparams, None),
                               P("tags", _op.t_list_of_str, [])),
              summary="group_name", doc="Create a new, empty node group."),
    _op.OpDef("OP_GROUP_REMOVE", (R("group_name", _NAME),),
              summary="group_name", doc="Remove an empty node group (never the last one)."),
    _op.OpDef("OP_GROUP_RENAME", (R("group_name", _NAME), R("new_name", _NAME)),
              summary="group_name", doc="Rename a node group."),
    _op.OpDef("OP_GROUP_ASSIGN_NODES", (R("group_name", _NAME), R("nodes", _op.t_list_of_str),
                                        P("force", _op.t_bool, False)),
              summary="group_name", doc="Move nodes into a node group."),
    _op.OpDef("OP_GROUP_SET_PARAMS", (R("group_name", _NAME), P("alloc_policy", _POLICY, None),
                                      P("ndparams", _op.ND_CHANGES, None),
                                      P("ipolicy", _op.t_ipolicy(group=True, allow_default=True),
                                        None),
                                      P("diskparams", _op.t_diskparams, None)),
              summary="group_name", doc="Change a node group's parameters."),
]
