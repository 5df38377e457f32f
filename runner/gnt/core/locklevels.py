"""Lock levels and lock names: what logical units declare and the lock manager grants."""

from __future__ import annotations

LEVEL_CLUSTER = "cluster"
LEVEL_INSTANCE = "instance"
LEVEL_NODEGROUP = "nodegroup"
LEVEL_NODE = "node"
LEVEL_NODE_RES = "node-res"
LEVEL_NETWORK = "network"
LEVELS = (LEVEL_CLUSTER, LEVEL_INSTANCE, LEVEL_NODEGROUP, LEVEL_NODE, LEVEL_NODE_RES,
          LEVEL_NETWORK)
BGL = "BGL"
ALL = "__all__"  # ask for every lock of a level
_NAME_PREFIX = "name:"


def name_lock(name: str) -> str:
    """The lock that reserves the (new) object name ``name`` at its kind's level."""
    return _NAME_PREFIX + name
