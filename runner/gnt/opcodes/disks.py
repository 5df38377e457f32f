"""Opcode definitions for the disks of existing instances: activate, deactivate, grow (as
Ganeti's OpInstanceActivateDisks, OpInstanceDeactivateDisks and OpInstanceGrowDisk)."""

from __future__ import annotations

from gnt.opcodes.base import OpDef, P, R, t_bool, t_int, t_maybe_str, t_name, t_nonneg

DEFS: list[OpDef] = [
    OpDef("OP_CLUSTER_VERIFY_DISKS", (P("group_name", t_maybe_str, None),
                                      P("is_strict", t_bool, True)),
          doc="Find the instances whose disks need activation or are missing, and the nodes"
              " that could not be asked."),
    OpDef("OP_INSTANCE_ACTIVATE_DISKS", (R("instance_name", t_name),
                                         P("ignore_size", t_bool, False),
                                         P("wait_for_sync", t_bool, False)),
          summary="instance_name",
          doc="Activate an instance's disks on its nodes; the result lists each disk's device"
              " on the primary node."),
    OpDef("OP_INSTANCE_DEACTIVATE_DISKS", (R("instance_name", t_name),
                                           P("force", t_bool, False)),
          summary="instance_name", doc="Deactivate the disks of a stopped instance."),
    OpDef("OP_INSTANCE_GROW_DISK", (R("instance_name", t_name), R("disk", t_nonneg),
                                    R("amount", t_int), P("wait_for_sync", t_bool, True),
                                    P("absolute", t_bool, False),
                                    P("ignore_ipolicy", t_bool, False)),
          summary="instance_name", doc="Grow one disk of an instance (MiB, by or to amount)."),
]
