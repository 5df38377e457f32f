"""The built-in allocator: pure Python, answering the same protocol input as ``hail``.

Policy (see docs/iallocator.md):

- never offline, drained or non-vm_capable nodes, nor groups whose alloc_policy is
  ``unallocable`` or whose ipolicy does not allow the disk template or whose ispec bounds
  refuse the new instance's specs (allocate, multi-allocate); ``preferred`` groups
  before ``last_resort`` ones; all nodes of an instance in one group;
- the primary needs free memory >= the instance memory and room for its vCPUs (vcpu-ratio of
  the ipolicy, default 4 per usable physical CPU); local templates (file, plain, drbd) need
  ``disk_space_total`` free disk on every node, shared ones (sharedfile, diskless, ...) none;
- among fitting nodes the one with the largest share of its memory still free after the
  placement wins (in 1% steps; then free disk share, then the lowest vCPU load, then name),
  but a placement that keeps the group N+1 (the running instances of any one failed node
  can restart on the others) is preferred over one that does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gnt.iallocator.model import Cluster, Inst, Node
from gnt.iallocator.request import (
    ALLOC_LAST_RESORT,
    ALLOC_PREFERRED,
    EVAC_PRIMARY,
    EVAC_SECONDARY,
    MIRROR_INTERNAL,
    MIRROR_NONE,
    MODE_ALLOCATE,
    MODE_MULTI_ALLOCATE,
    MODE_NODE_EVACUATE,
    MODE_RELOCATE,
)
from gnt.opcodes import ipolicy

Answer = dict[str, Any]
# How many of the best candidates are tried for N+1 before settling for the best one.
MAX_N1_PROBES = 64


class NoPlacement(Exception):
    """No node (pair) fits; the message says why."""


# Shares of free memory and disk are compared in steps of this size, so that the jitter of live
# readings (nodes sharing a host, memory moving by a few MiB) does not decide alone.
SHARE_STEP = 0.01


def _score(node: Node, inst: Inst) -> tuple[float, float, float, str]:
    """Sort key, lower is better: most memory (then disk) left relative to the total, in
    steps of SHARE_STEP; then the lowest vCPU load after the placement (as hail's CPU-load
    term spreads instances that use no memory yet, e.g. added without starting); then name."""
    mem_left = node.free_memory - (inst.memory if inst.up else 0)
    mem_share = mem_left / node.total_memory if node.total_memory else 0.0
    disk_left = node.free_disk - (inst.disk if inst.local_disk else 0)
    disk_share = disk_left / node.total_disk if node.total_disk else 0.0
    cpu_load = ((node.vcpus + inst.vcpus) / node.cpu_capacity if node.cpu_capacity
                else float("inf"))
    return (-round(mem_share / SHARE_STEP), -round(disk_share / SHARE_STEP), cpu_load,
            node.name)


def _group_order(cluster: Cluster, template: str,
                 only: Iterable[str] | None = None) -> list[list[str]]:
    """Allowed group uuids in tiers: preferred ones, then last_resort ones."""
    wanted = set(only) if only is not None else set(cluster.groups)
    tiers: list[list[str]] = []
    for policy in (ALLOC_PREFERRED, ALLOC_LAST_RESORT):
        tier = sorted(uuid for uuid, group in cluster.groups.items()
                      if uuid in wanted and group.get("alloc_policy", ALLOC_PREFERRED) == policy
                      and cluster.group_ok(uuid, template) is None)
        if tier:
            tiers.append(tier)
    return tiers


def _try_candidates(cluster: Cluster, inst: Inst, candidates: list[list[str]],
                    notes: list[str]) -> list[str] | None:
    """The first candidate (already sorted) that keeps the group N+1, else the first one;
    None if there is none. Each of the best MAX_N1_PROBES candidates is tentatively placed
    and undone again."""
    if not candidates:
        return None
    group = cluster.nodes[candidates[0][0]].group
    previous = cluster.instances.get(inst.name)
    old_nodes = list(previous.nodes) if previous else None
    if cluster.n1_failures(group):
        notes.append("group already not N+1 redundant: N+1 not considered")
        return candidates[0]
    for nodes in candidates[:MAX_N1_PROBES]:
        probe = Inst(inst.name, inst.memory, inst.vcpus, inst.disk, inst.template, [], inst.up)
        cluster.place(probe, nodes)
        failing = cluster.n1_failures(group)
        if previous is not None and old_nodes is not None:
            cluster.place(previous, old_nodes)
        else:
            cluster.place(probe, [])
            del cluster.instances[inst.name]
        if not failing:
            return nodes
    notes.append("no placement keeps N+1 redundancy; using the best-scoring one")
    return candidates[0]


def _choose(cluster: Cluster, inst: Inst, required: int, exclude: set[str],
            groups: Iterable[str] | None, notes: list[str],
            fixed_primary: str | None = None) -> list[str]:
    """Nodes for ``inst`` (1 or 2, primary first) or :class:`NoPlacement`."""
    reasons: dict[str, int] = {}

    def fitting(group: str, primary: bool, skip: set[str]) -> list[Node]:
        result = []
        for node in cluster.nodes.values():
            if node.group != group or node.name in skip:
                continue
            why = cluster.fits(node, inst, primary)
            if why is None:
                result.append(node)
            else:
                key = why.split(" (")[0]
                reasons[key] = reasons.get(key, 0) + 1
        return sorted(result, key=lambda n: _score(n, inst))

    tiers = _group_order(cluster, inst.template, groups)
    if not tiers:
        raise NoPlacement(f"no node group accepts disk template {inst.template}")
    for tier in tiers:
        best: tuple[tuple[float, float, float, str], list[str]] | None = None
        for group in tier:
            if required == 1:
                cands = [[n.name] for n in fitting(group, True, exclude)]
            elif fixed_primary is not None:
                if cluster.nodes[fixed_primary].group != group:
                    continue
                cands = [[fixed_primary, s.name] for s in
                         fitting(group, False, exclude | {fixed_primary})]
            else:
                prims = fitting(group, True, exclude)
                cands = [[p.name, s.name] for p in prims
                         for s in fitting(group, False, exclude | {p.name})]
            chosen = _try_candidates(cluster, inst, cands, notes)
            if chosen is None:
                continue
            key = _score(cluster.nodes[chosen[0]], inst)
            if best is None or key < best[0]:
                best = (key, chosen)
        if best is not None:
            return best[1]
    summary = ", ".join(f"{why}: {count}" for why, count in sorted(reasons.items()))
    raise NoPlacement(f"no node fits instance {inst.name} ({inst.memory} MiB memory,"
                      f" {inst.vcpus} vcpus, {inst.disk} MiB disk, template {inst.template})"
                      + (f"; nodes refused for {summary}" if summary else ""))


def _new_instance(spec: Mapping[str, Any]) -> Inst:
    return Inst(name=spec["name"], memory=int(spec["memory"]), vcpus=int(spec["vcpus"]),
                disk=int(spec.get("disk_space_total", 0)), template=spec["disk_template"],
                nodes=[])


def _group_filter(cluster: Cluster, spec: Mapping[str, Any]) -> list[str] | None:
    name = spec.get("group_name")
    if name is None:
        return None
    return [uuid for uuid, group in cluster.groups.items() if group["name"] == name]


def _policy_filter(cluster: Cluster, spec: Mapping[str, Any],
                   groups: list[str] | None) -> list[str] | None:
    """The groups (of ``groups``, None: all) whose instance policy bounds accept the new
    instance's specs, as hail checks them; :class:`NoPlacement` naming the violations when
    none does. Groups sent without bounds are not checked."""
    sizes = [int(disk["size"]) for disk in spec.get("disks") or []]
    template = str(spec["disk_template"])
    accepted, refused = [], []
    for uuid in groups if groups is not None else sorted(cluster.groups):
        group = cluster.groups.get(uuid) or {}
        policy = dict(group.get("ipolicy") or {})
        if not policy.get(ipolicy.MINMAX):
            accepted.append(uuid)
            continue
        policy[ipolicy.DISK_TEMPLATES] = [template, ipolicy.DT_DISKLESS]  # group_ok's part
        found = ipolicy.spec_violations(
            policy, int(spec["memory"]), int(spec["vcpus"]), sizes,
            len(spec.get("nics") or []), spec.get("spindle_use"), [template] * len(sizes))
        if found:
            refused.append(f"group {group.get('name', uuid)}: {', '.join(found)}")
        else:
            accepted.append(uuid)
    if not accepted and refused:
        raise NoPlacement(f"instance {spec['name']} violates the instance policy of every"
                          f" node group ({'; '.join(refused)})")
    return accepted if groups is not None or refused else None


def _allocate_one(cluster: Cluster, spec: Mapping[str, Any], notes: list[str]) -> list[str]:
    inst = _new_instance(spec)
    nodes = _choose(cluster, inst, int(spec.get("required_nodes", 1)), set(),
                    _policy_filter(cluster, spec, _group_filter(cluster, spec)), notes)
    cluster.place(inst, nodes)
    return nodes


def _allocate(cluster: Cluster, request: Mapping[str, Any]) -> Answer:
    notes: list[str] = []
    try:
        nodes = _allocate_one(cluster, request, notes)
    except NoPlacement as err:
        return _fail(str(err))
    return _ok(f"allocated {request['name']} on {', '.join(nodes)}", nodes, notes)


def _multi_allocate(cluster: Cluster, request: Mapping[str, Any]) -> Answer:
    allocated: list[list[Any]] = []
    failed: list[list[str]] = []
    notes: list[str] = []
    for spec in request["instances"]:
        try:
            allocated.append([spec["name"], _allocate_one(cluster, spec, notes)])
        except NoPlacement as err:
            failed.append([spec["name"], str(err)])
    return _ok(f"{len(failed)} instances failed to allocate and {len(allocated)} were"
               " allocated successfully", [allocated, failed], notes)


def _relocate(cluster: Cluster, request: Mapping[str, Any]) -> Answer:
    inst = cluster.instances[request["name"]]
    reloc_from = set(request["relocate_from"])
    notes: list[str] = []
    group = cluster.nodes[inst.nodes[0]].group
    moving = Inst(inst.name, inst.memory, inst.vcpus, inst.disk, inst.template, [], inst.up)
    try:
        if inst.mirror == MIRROR_INTERNAL:
            if len(inst.nodes) < 2 or reloc_from != {inst.nodes[1]}:
                return _fail(f"drbd instance {inst.name} can only be relocated away from its"
                             " secondary node")
            nodes = _choose(cluster, moving, 2, set(inst.nodes), [group], notes,
                            fixed_primary=inst.nodes[0])
            new = nodes[1]
        else:
            new = _choose(cluster, moving, 1, reloc_from | set(inst.nodes), [group], notes)[0]
            nodes = [new]
    except NoPlacement as err:
        return _fail(str(err))
    cluster.place(inst, nodes)
    return _ok(f"relocated {inst.name} to {new}", [new], notes)


def _evacuate_one(cluster: Cluster, inst: Inst, mode: str, away: set[str],
                  notes: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    group = cluster.nodes[inst.nodes[0]].group
    moving = Inst(inst.name, inst.memory, inst.vcpus, inst.disk, inst.template, [], inst.up)
    if inst.mirror == MIRROR_INTERNAL:
        primary, secondary = inst.nodes[0], inst.nodes[1]
        if mode == EVAC_PRIMARY:
            cluster.place(inst, [secondary, primary])
            return [secondary, primary], [_op_migrate(inst.name, None)]
        if mode == EVAC_SECONDARY:
            nodes = _choose(cluster, moving, 2, set(inst.nodes) | away, [group], notes,
                            fixed_primary=primary)
            cluster.place(inst, nodes)
            return nodes, [{"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": inst.name,
                            "mode": "replace_new_secondary", "remote_node": nodes[1],
                            "disks": [], "early_release": False}]
        raise NoPlacement("the built-in allocator moves drbd instances with evac_mode"
                          " primary-only or secondary-only, not all")
    if mode == EVAC_SECONDARY:
        raise NoPlacement(f"instances with disk template {inst.template} have no secondary"
                          " node to change")
    target = _choose(cluster, moving, 1, set(inst.nodes) | away, [group], notes)[0]
    cluster.place(inst, [target])
    if inst.mirror == MIRROR_NONE:
        return [target], [{"OP_ID": "OP_INSTANCE_MOVE", "instance_name": inst.name,
                           "target_node": target}]
    return [target], [_op_migrate(inst.name, target)]


def _op_migrate(name: str, target: str | None) -> dict[str, Any]:
    op: dict[str, Any] = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": name,
                          "allow_failover": True, "cleanup": False}
    if target is not None:
        op["target_node"] = target
    return op


def _node_evacuate(cluster: Cluster, request: Mapping[str, Any]) -> Answer:
    mode = request.get("evac_mode", "all")
    names = list(request["instances"])
    # Nodes being emptied: those the listed instances leave (never a target for another).
    away: set[str] = set()
    for name in names:
        nodes = cluster.instances[name].nodes
        if mode != EVAC_SECONDARY and nodes:
            away.add(nodes[0])
        if mode != EVAC_PRIMARY and len(nodes) > 1:
            away.add(nodes[1])
    moved: list[list[Any]] = []
    failed: list[list[str]] = []
    opcodes: list[list[dict[str, Any]]] = []
    notes: list[str] = []
    for name in names:
        inst = cluster.instances[name]
        try:
            nodes, ops = _evacuate_one(cluster, inst, mode, away, notes)
        except NoPlacement as err:
            failed.append([name, str(err)])
            continue
        group = cluster.groups[cluster.nodes[nodes[0]].group]["name"]
        moved.append([name, group, nodes])
        opcodes.append(ops)
    return _ok(f"{len(failed)} instances failed to move and {len(moved)} were moved"
               " successfully", [moved, failed, opcodes], notes)


def _ok(info: str, result: Any, notes: list[str]) -> Answer:
    extra = sorted(set(notes))
    return {"success": True, "info": "; ".join([info, *extra]), "result": result}


def _fail(info: str) -> Answer:
    return {"success": False, "info": info, "result": []}


MODES: dict[str, Callable[[Cluster, Mapping[str, Any]], Answer]] = {
    MODE_ALLOCATE: _allocate,
    MODE_MULTI_ALLOCATE: _multi_allocate,
    MODE_RELOCATE: _relocate,
    MODE_NODE_EVACUATE: _node_evacuate,
}


def allocate(data: Mapping[str, Any]) -> Answer:
    """Answer the IAllocator input ``data`` like an external allocator would:
    ``{"success": bool, "info": str, "result": ...}``."""
    request = data["request"]
    handler = MODES.get(request.get("type"))
    if handler is None:
        return _fail(f"request type {request.get('type')!r} is not supported by the built-in"
                     f" allocator (supported: {', '.join(MODES)}); use an external one such"
                     " as hail")
    return handler(Cluster(data), request)
