"""Logical units, one module per area; importing this package registers them all."""

from gnt.lu import (  # noqa: F401 - imported to register the LUs
    backup,
    backup_export,
    backup_prepare,
    backup_remote,
    cluster,
    group,
    instance,
    instance_create,
    instance_disks,
    instance_import,
    instance_migrate,
    instance_modify,
    instance_move,
    instance_multialloc,
    instance_recreate,
    instance_remote_import,
    instance_replace,
    network,
    node,
    node_evacuate,
    node_storage,
    query,
    tags,
    test,
    verify,
    verify_disks,
)
from gnt.lu.base import LU_REGISTRY, Context, LogicalUnit

__all__ = ["LU_REGISTRY", "Context", "LogicalUnit"]
