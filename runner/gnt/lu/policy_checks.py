"""The logical units' instance policy checks: the policy of a node group and whether an
instance (or the specs it will have) complies, with Ganeti's messages. The computation
itself is :mod:`gnt.opcodes.ipolicy`; this module only looks the objects up in the config."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gnt.opcodes import ipolicy, params


def group_policy(cfg: Any, group_uuid: str) -> dict[str, Any]:
    """The whole policy in force in a node group (cluster and group values filled in)."""
    return params.full_ipolicy(cfg.cluster(), cfg.get("nodegroups", group_uuid))


def node_group(cfg: Any, node_uuid: str) -> str:
    """The UUID of a node's group."""
    return str(cfg.get("nodes", node_uuid)["group"])


def instance_violations(cfg: Any, policy: dict[str, Any], instance: dict[str, Any]
                        ) -> list[str]:
    """What of the instance as configured the policy refuses."""
    be = params.filled_beparams(cfg.cluster(), instance)
    return ipolicy.instance_violations(policy, be, cfg.instance_disks(instance),
                                       len(instance.get("nics") or []))


def violating_instances(cfg: Any, instances: Iterable[dict[str, Any]]
                        ) -> dict[str, list[str]]:
    """Instance name -> what of it the policy of its primary node's group refuses, for the
    instances that violate it (Ganeti's cluster-verify check CV_EINSTANCEPOLICY)."""
    policies: dict[str, dict[str, Any]] = {}
    found = {}
    for inst in instances:
        group = node_group(cfg, inst["primary_node"])
        if group not in policies:
            policies[group] = group_policy(cfg, group)
        violations = instance_violations(cfg, policies[group], inst)
        if violations:
            found[str(inst["name"])] = violations
    return found


def check_target_node(lu: Any, instance: dict[str, Any], target_node_uuid: str,
                      ignore: bool) -> None:
    """Ganeti's CheckTargetNodeIPolicy: moving the instance to a node of another group needs
    it to comply with that group's policy (``ignore``: only a warning). Same group: nothing
    to check."""
    cfg = lu.cfg
    source = node_group(cfg, instance["primary_node"])
    target = node_group(cfg, target_node_uuid)
    if source == target:
        return
    found = instance_violations(cfg, group_policy(cfg, target), instance)
    ipolicy.refuse(f"Instance does not meet target node group's ({target}) instance policy",
                   found, ignore, lu.log)


def new_violations(cfg: Any, old: dict[str, Any], new: dict[str, Any],
                   instances: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the instances the new policy refuses and the old one did not (Ganeti's
    ComputeNewInstanceViolations), sorted."""
    return sorted(inst["name"] for inst in instances
                  if instance_violations(cfg, new, inst)
                  and not instance_violations(cfg, old, inst))


def warn_new_violations(log: Callable[[str], None], names: list[str]) -> None:
    """Ganeti's warning after a policy change that some instances no longer comply."""
    if names:
        log("WARNING: After the ipolicy change the following instances violate them:"
            f" {', '.join(names)}")


def check_new_specs(lu: Any, group_uuid: str, beparams: dict[str, Any],
                    disks: list[dict[str, Any]], nic_count: int, ignore: bool,
                    both_memories: bool = False) -> None:
    """Ganeti's check of a new or changed instance (``beparams`` filled; ``disks`` with
    ``size`` and ``dev_type``) against its group's policy: refused unless ``ignore`` (then
    silently accepted, as Ganeti). ``both_memories``: maxmem and minmem must both comply
    (instance modify)."""
    if ignore:
        return
    cfg = lu.cfg
    policy = group_policy(cfg, group_uuid)
    found = ipolicy.instance_violations(policy, beparams, disks, nic_count)
    if both_memories:
        low = ipolicy.instance_violations(policy, dict(beparams, maxmem=beparams.get("minmem")),
                                          disks, nic_count)
        found += [text for text in low if text not in found]
    name = cfg.get("nodegroups", group_uuid)["name"]
    ipolicy.refuse(f"Instance allocation to group {group_uuid} ({name}) violates policy", found)


def check_grown_disk(lu: Any, instance: dict[str, Any], index: int, target_size: int,
                     ignore: bool) -> None:
    """Ganeti's check of grow-disk: the instance's disk sizes with disk ``index`` at
    ``target_size`` against its group's policy (``ignore``: only a warning)."""
    cfg = lu.cfg
    disks = [dict(disk, size=target_size) if number == index else disk
             for number, disk in enumerate(cfg.instance_disks(instance))]
    policy = group_policy(cfg, node_group(cfg, instance["primary_node"]))
    found = ipolicy.spec_violations(policy, None, None, [int(d["size"]) for d in disks], None,
                                    None, [str(d["dev_type"]) for d in disks])
    ipolicy.refuse(f"Growing disk {index} violates policy", found, ignore, lu.log)
