"""The built-in allocator's view of a cluster, read from the IAllocator protocol input.

:class:`Cluster` holds per node the free memory and disk, the vCPUs placed there and the
memory that would have to move elsewhere if the node failed; it checks whether an instance
fits on a node, whether the cluster survives the loss of any one node (N+1), and applies
placements so several requests (multi-allocate, node-evacuate) see each other's effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gnt.iallocator.request import (
    ALLOC_UNALLOCABLE,
    DEFAULT_VCPU_RATIO,
    LOCAL_STORAGE_TEMPLATES,
    MIRROR_EXTERNAL,
    MIRROR_INTERNAL,
    mirror_type,
)


@dataclass
class Node:
    """One node's resources as the allocator tracks them."""

    name: str
    group: str
    total_memory: int
    free_memory: int
    total_disk: int
    free_disk: int
    cpu_capacity: float          # vCPUs the node may carry (ratio x usable physical CPUs)
    vcpus: int = 0               # vCPUs of the instances whose primary it is
    usable: bool = True          # online, not drained, vm_capable
    offline: bool = False
    # Memory of running instances that fail over anywhere (external mirror).
    flexible: dict[str, int] = field(default_factory=dict)
    # Memory of running drbd instances, by the secondary node they fail over to.
    fixed: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Inst:
    """An instance as the allocator needs it."""

    name: str
    memory: int
    vcpus: int
    disk: int                    # disk_space_total
    template: str
    nodes: list[str]
    up: bool = True

    @property
    def mirror(self) -> str:
        return mirror_type(self.template)

    @property
    def local_disk(self) -> bool:
        return self.template in LOCAL_STORAGE_TEMPLATES


class Cluster:
    """Nodes, groups and instances of one IAllocator input, with placement bookkeeping."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.groups: dict[str, dict[str, Any]] = {
            uuid: dict(group) for uuid, group in data["nodegroups"].items()}
        self.nodes: dict[str, Node] = {}
        for name, nd in data["nodes"].items():
            group = self.groups.get(nd["group"], {})
            ratio = float((group.get("ipolicy") or data.get("ipolicy") or {})
                          .get("vcpu-ratio", DEFAULT_VCPU_RATIO))
            cpus = max(0, int(nd.get("total_cpus", 0)) - int(nd.get("reserved_cpus", 0) or 0))
            self.nodes[name] = Node(
                name=name, group=nd["group"], total_memory=int(nd.get("total_memory", 0)),
                free_memory=int(nd.get("free_memory", 0)),
                total_disk=int(nd.get("total_disk", 0)), free_disk=int(nd.get("free_disk", 0)),
                cpu_capacity=ratio * cpus, offline=bool(nd["offline"]),
                usable=not (nd["offline"] or nd["drained"] or not nd.get("vm_capable", True)))
        self.instances: dict[str, Inst] = {}
        for name, idata in data["instances"].items():
            inst = Inst(name=name, memory=int(idata["memory"]), vcpus=int(idata["vcpus"]),
                        disk=int(idata.get("disk_space_total", 0)),
                        template=idata["disk_template"], nodes=list(idata["nodes"]),
                        up=idata.get("admin_state", "up") == "up")
            self.instances[name] = inst
            self._account(inst, +1, resources=False)

    # --- bookkeeping -----------------------------------------------------------------------

    def _account(self, inst: Inst, sign: int, resources: bool) -> None:
        """Add (sign +1) or remove (-1) ``inst`` on its nodes; ``resources``: also its
        memory and disk (live data already counts existing instances)."""
        if not inst.nodes:
            return
        primary = self.nodes.get(inst.nodes[0])
        if primary is None:
            return
        primary.vcpus += sign * inst.vcpus
        if resources:
            if inst.up:
                primary.free_memory -= sign * inst.memory
            if inst.local_disk:
                for name in inst.nodes:
                    if name in self.nodes:
                        self.nodes[name].free_disk -= sign * inst.disk
        if not inst.up:
            return
        if inst.mirror == MIRROR_EXTERNAL:
            if sign > 0:
                primary.flexible[inst.name] = inst.memory
            else:
                primary.flexible.pop(inst.name, None)
        elif inst.mirror == MIRROR_INTERNAL and len(inst.nodes) > 1:
            by_sec = primary.fixed.setdefault(inst.nodes[1], {})
            if sign > 0:
                by_sec[inst.name] = inst.memory
            else:
                by_sec.pop(inst.name, None)

    def place(self, inst: Inst, nodes: list[str]) -> None:
        """Move (or add) ``inst`` to ``nodes``, updating free memory, disk and vCPUs."""
        if inst.name in self.instances:
            old = self.instances[inst.name]
            self._account(old, -1, resources=True)
        inst.nodes = list(nodes)
        self.instances[inst.name] = inst
        self._account(inst, +1, resources=True)

    # --- checks ----------------------------------------------------------------------------

    def group_ok(self, group_uuid: str, template: str) -> str | None:
        """Why ``template`` cannot go into the group, or None."""
        group = self.groups.get(group_uuid)
        if group is None:
            return f"unknown group {group_uuid}"
        if group.get("alloc_policy") == ALLOC_UNALLOCABLE:
            return f"group {group['name']} is unallocable"
        allowed = (group.get("ipolicy") or {}).get("disk-templates")
        if allowed is not None and template not in allowed:
            return f"disk template {template} not allowed in group {group['name']}"
        return None

    def fits(self, node: Node, inst: Inst, primary: bool = True) -> str | None:
        """Why ``inst`` does not fit on ``node`` (as primary, or as drbd secondary), or None."""
        if not node.usable:
            return "offline" if node.offline else "drained or not vm_capable"
        if primary:
            if inst.up and node.free_memory < inst.memory:
                return f"memory ({node.free_memory} MiB free, {inst.memory} MiB needed)"
            if node.vcpus + inst.vcpus > node.cpu_capacity:
                return (f"vcpus ({node.vcpus} placed + {inst.vcpus} > capacity"
                        f" {node.cpu_capacity:g})")
        if inst.local_disk and node.free_disk < inst.disk:
            return f"disk ({node.free_disk} MiB free, {inst.disk} MiB needed)"
        return None

    def n1_failures(self, group_uuid: str) -> list[str]:
        """Nodes of the group whose running instances could not restart elsewhere."""
        members = [n for n in self.nodes.values() if n.group == group_uuid]
        receivers = [n for n in members if n.usable]
        return [f.name for f in members
                if not f.offline and (f.flexible or f.fixed)
                and not self._survives(f, receivers)]

    def _survives(self, failed: Node, receivers: list[Node]) -> bool:
        free = {n.name: n.free_memory for n in receivers if n.name != failed.name}
        for secondary, mems in failed.fixed.items():
            need = sum(mems.values())
            if free.get(secondary, -1) < need:
                return False
            free[secondary] -= need
        items = sorted(failed.flexible.values(), reverse=True)
        if not items:
            return True
        total, biggest = sum(items), items[0]
        caps = list(free.values())
        if not caps or total > sum(caps) or biggest > max(caps):
            return False
        # Sufficient: when an item could not be placed every node would have less than
        # `biggest` left, i.e. more than sum(cap - biggest) already placed.
        if total <= sum(max(0, c - biggest) for c in caps):
            return True
        caps.sort(reverse=True)
        for item in items:  # worst fit decreasing
            idx = max(range(len(caps)), key=caps.__getitem__)
            if caps[idx] < item:
                return False
            caps[idx] -= item
        return True
