"""Where instances go: the iallocator glue for LUs (add, migrate, failover, evacuate) and the
checks every target node must pass."""

from __future__ import annotations

from typing import Any

from gnt import iallocator as ia
from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from gnt.lu.base import LogicalUnit
from gnt.nodes import rpc
from gnt.opcodes import params

SHARED_TEMPLATES = (params.DT_SHARED_FILE, params.DT_DISKLESS, params.DT_EXT)


def allocator_name(lu: LogicalUnit, requested: str | None) -> str:
    """The allocator to use: the op's ``iallocator``, else the cluster default (empty means
    the built-in one)."""
    if requested:
        return requested
    return str(lu.cfg.cluster().get("default_iallocator") or "builtin")


def cluster_request(lu: LogicalUnit, request: dict[str, Any],
                    only: list[str] | None = None) -> dict[str, Any]:
    """The IAllocator input for ``request`` with live figures of every online node. With
    ``only`` (node UUIDs: those locked opportunistically), the other nodes are shown offline,
    as Ganeti shows nodes whose locks were not acquired."""
    cfg = lu.cfg
    data = cfg.data
    if only is not None:
        allowed = set(only)
        data = dict(data)
        data["nodes"] = {uuid: (node if uuid in allowed else {**node, "offline": True})
                         for uuid, node in cfg.data["nodes"].items()}
    nodes = [n for n in data["nodes"].values() if not n["offline"]]
    live = ia.live_from_node_info(data, rpc.live_info_many(cfg, nodes))
    return ia.build_request(data, live, request)


def allocate(lu: LogicalUnit, name: str, allocator: str, memory: int, disks: list[int],
             template: str, vcpus: int, nics: list[dict[str, Any]], os_name: str,
             tags: list[str], only: list[str] | None = None) -> list[dict[str, Any]]:
    """The nodes for a new instance, chosen by ``allocator`` (among the nodes ``only`` names,
    when given): the primary, then (drbd) the secondary."""
    request = ia.request_allocate(name, memory, disks, template, vcpus=vcpus, nics=nics,
                                  os=os_name, tags=tags)
    answer = ia.run_iallocator(allocator, cluster_request(lu, request, only))
    nodes = [lu.cfg.lookup("nodes", node_name) for node_name in answer.nodes]
    chosen = ", ".join(node["name"] for node in nodes)
    lu.log(f"Selected node{'s' if len(nodes) > 1 else ''} {chosen} for instance {name}"
           f" (iallocator {allocator or 'builtin'}: {answer.info or 'ok'})")
    return nodes


def relocate(lu: LogicalUnit, instance: dict[str, Any], allocator: str,
             relocate_from: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new node for the instance, chosen by ``allocator``, instead of ``relocate_from``
    (default its primary: a shared-storage instance's new primary; a drbd instance's
    secondary gives its new secondary)."""
    source = relocate_from or lu.cfg.get("nodes", instance["primary_node"])
    request = ia.request_relocate(instance["name"], [source["name"]])
    answer = ia.run_iallocator(allocator, cluster_request(lu, request))
    node = lu.cfg.lookup("nodes", answer.nodes[0])
    lu.log(f"Selected node {node['name']} for instance {instance['name']} (iallocator"
           f" {allocator}: {answer.info or 'ok'})")
    return node


def check_target(lu: LogicalUnit, instance: dict[str, Any], node: dict[str, Any]) -> None:
    """A node an existing instance may move to: online, not drained, vm-capable, not its
    current primary."""
    name = instance["name"]
    if node["uuid"] == instance["primary_node"]:
        raise OpPrereqError(f"Instance {name} already lives on node {node['name']}",
                            ECODE_INVAL)
    if node["offline"]:
        raise OpPrereqError(f"Target node {node['name']} is offline", ECODE_STATE)
    if node["drained"]:
        raise OpPrereqError(f"Target node {node['name']} is drained: it takes no new"
                            " instances", ECODE_STATE)
    if not node["vm_capable"]:
        raise OpPrereqError(f"Target node {node['name']} is not vm-capable", ECODE_STATE)


def require_shared(instance: dict[str, Any], action: str) -> None:
    """Migration and failover need the disks visible on every node (sharedfile, diskless)."""
    template = instance["disk_template"]
    if template not in SHARED_TEMPLATES:
        raise OpPrereqError(
            f"Instance {instance['name']} has disk template '{template}', whose disks live on"
            f" its primary node only: it cannot {action} (no secondary node or shared storage)."
            " gnt-instance move copies its disks to another node", ECODE_STATE)


def target_for(lu: LogicalUnit, instance: dict[str, Any], target_node: str | None,
               iallocator: str | None) -> dict[str, Any]:
    """The target of a migrate/failover: ``-n NODE``, else the allocator's choice."""
    if target_node:
        if iallocator:
            raise OpPrereqError("Give either a target node (-n) or an iallocator (-I), not"
                                " both", ECODE_INVAL)
        node = lu.cfg.lookup("nodes", target_node)
    else:
        node = relocate(lu, instance, allocator_name(lu, iallocator))
    check_target(lu, instance, node)
    return node
