"""Opcode definitions for the disks of existing instances: activate, deactivate, grow, replace,
recreate (as Ganeti's OpInstanceActivateDisks, OpInstanceDeactivateDisks, OpInstanceGrowDisk,
OpInstanceReplaceDisks and OpInstanceRecreateDisks)."""

from __future__ import annotations

from typing import Any

from gnt.opcodes.base import (
    OpDef,
    P,
    R,
    t_bool,
    t_int,
    t_list_of_str,
    t_maybe_str,
    t_name,
    t_nonneg,
    t_one_of,
)

# replace-disks modes (Ganeti's REPLACE_DISK_*)
REPLACE_ON_PRIMARY = "replace_on_primary"
REPLACE_ON_SECONDARY = "replace_on_secondary"
REPLACE_NEW_SECONDARY = "replace_new_secondary"
REPLACE_AUTO = "replace_auto"
REPLACE_MODES = (REPLACE_ON_PRIMARY, REPLACE_ON_SECONDARY, REPLACE_NEW_SECONDARY, REPLACE_AUTO)


def t_disk_indexes(value: Any) -> bool:
    """A list of disk indexes (non-negative integers)."""
    return isinstance(value, list) and all(t_nonneg(v) and not isinstance(v, float)
                                           for v in value)


def t_recreate_disks(value: Any) -> bool:
    """Ganeti's RecreateDisksInfo: ``[]`` (every disk), a list of disk indexes, or a list of
    ``[index, {parameter: value}]`` pairs (the parameters are checked by the logical unit)."""
    if not isinstance(value, list):
        return False
    if t_disk_indexes(value):
        return True
    return all(isinstance(item, (list, tuple)) and len(item) == 2 and t_nonneg(item[0])
               and not isinstance(item[0], float) and isinstance(item[1], dict)
               for item in value)


DEFS: list[OpDef] = [
    OpDef("OP_CLUSTER_VERIFY_DISKS", (P("group_name", t_maybe_str, None),
                                      P("is_strict", t_bool, True)),
          doc="Find the instances whose disks need activation or are missing, and the nodes"
              " that could not be asked."),
    OpDef("OP_CLUSTER_REPAIR_DISK_SIZES", (P("instances", t_list_of_str, []),),
          doc="Correct the recorded sizes of LVM disks from their volumes' sizes."),
    OpDef("OP_INSTANCE_ACTIVATE_DISKS", (R("instance_name", t_name),
                                         P("ignore_size", t_bool, False),
                                         P("wait_for_sync", t_bool, False)),
          summary="instance_name",
          doc="Activate an instance's disks on its nodes; the result lists each disk's device"
              " on the primary node."),
    OpDef("OP_INSTANCE_DEACTIVATE_DISKS", (R("instance_name", t_name),
                                           P("force", t_bool, False)),
          summary="instance_name", doc="Deactivate the disks of a stopped instance."),
    OpDef("OP_INSTANCE_REPLACE_DISKS", (R("instance_name", t_name),
                                        R("mode", t_one_of(*REPLACE_MODES)),
                                        P("disks", t_disk_indexes, []),
                                        P("remote_node", t_maybe_str, None),
                                        P("iallocator", t_maybe_str, None),
                                        P("early_release", t_bool, False),
                                        P("ignore_ipolicy", t_bool, False)),
          summary="instance_name",
          doc="Replace the storage of a drbd instance's disks on its primary or secondary"
              " node, automatically where faulty, or move its secondary to another node."),
    OpDef("OP_INSTANCE_GROW_DISK", (R("instance_name", t_name), R("disk", t_nonneg),
                                    R("amount", t_int), P("wait_for_sync", t_bool, True),
                                    P("absolute", t_bool, False),
                                    P("ignore_ipolicy", t_bool, False)),
          summary="instance_name", doc="Grow one disk of an instance (MiB, by or to amount)."),
    OpDef("OP_INSTANCE_RECREATE_DISKS", (R("instance_name", t_name),
                                         P("disks", t_recreate_disks, []),
                                         P("nodes", t_list_of_str, []),
                                         P("iallocator", t_maybe_str, None)),
          summary="instance_name",
          doc="Recreate (empty) the missing disks of a stopped instance, all of them or those"
              " listed (optionally with a new size or mode), on its nodes or on new ones"
              " (nodes, or chosen by an iallocator)."),
    OpDef("OP_EXT_STORAGE_DIAGNOSE", (P("output_fields", t_list_of_str, []),
                                      P("names", t_list_of_str, [])),
          doc="Every ExtStorage provider on the cluster's nodes: per node (path, validity,"
              " error, parameters), per node group (valid on all its nodes) and its"
              " parameters; rows of the asked output_fields (name, node_status,"
              " nodegroup_status, parameters)."),
]
