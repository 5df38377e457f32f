"""The LVM and DRBD part of ``gnt-cluster verify``, as Ganeti checks them: the cluster's volume
group on every VM-capable node, each instance volume present on its node, volumes of the
cluster's volume group that no instance uses (unless ``--reserved-lvs`` matches them), DRBD
minors active where an instance whose disks should be active needs them and not in use where
the config has none, the DRBD usermode helper of nodes with devices in use (the role sets it
before it brings a device up, so another helper on a node without devices is no finding), and
degraded DRBD disks of instances whose disks should be active.

:func:`what_to_ask` says which volume groups each node is asked about (and whether about DRBD);
:func:`storage_findings` turns the nodes' answers (:func:`gnt.nodes.storagecalls.verify_storage`)
into findings. Both are pure, so the rules are tested without nodes.

"Should be active" is the instance's ``disks_active`` flag, as in Ganeti (a start or
``activate-disks`` sets it, a shutdown or ``deactivate-disks`` clears it): the minors of an
instance whose disks are not marked active are neither required nor reported when active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gnt.config import drbdmap, objects
from gnt.lu.verify_disks import instance_volumes
from gnt.opcodes import params
from gnt.opcodes import verify_codes as cv
from gnt.opcodes.verify_codes import VerifyCode

# Ganeti's names of a DRBD end's local disk state (LDS_NAMES), by our drbd_status value
LOCAL_DISK_NAMES = {"ok": "ok", "sync": "syncing", "faulty": "faulty", "unknown": "unknown"}
ACCEPTED_LOCAL_DISK = ("ok", "sync")     # a degraded disk in these states is only a warning


@dataclass(frozen=True)
class Finding:
    """One line of the verify report: ``level`` ERROR or WARNING with Ganeti's error
    ``code`` (which says the kind of item) about item ``name``."""

    level: str
    code: VerifyCode
    name: str
    message: str


def lvm_enabled(cluster: dict[str, Any]) -> bool:
    """Whether verify checks LVM: a volume group is set and plain or drbd is enabled."""
    templates = set(cluster.get("enabled_disk_templates") or [])
    return bool(cluster.get("volume_group_name")) and bool(
        templates & {params.DT_PLAIN, params.DT_DRBD8})


def drbd_enabled(cluster: dict[str, Any]) -> bool:
    """Whether verify checks DRBD (the drbd template is enabled)."""
    return params.DT_DRBD8 in (cluster.get("enabled_disk_templates") or [])


def what_to_ask(cfg: Any, nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Node UUID -> ``{"vgs": [...], "drbd": bool}`` for the verify node call: VM-capable nodes
    are asked about the cluster's volume group (when LVM is enabled) and every volume group an
    instance volume on them lives in, and about DRBD when drbd is enabled."""
    cluster = cfg.cluster()
    lvm, drbd = lvm_enabled(cluster), drbd_enabled(cluster)
    by_node: dict[str, set[str]] = {}
    for inst in cfg.all("instances"):
        for node_uuid, volume in instance_volumes(cfg, inst):
            by_node.setdefault(node_uuid, set()).add(volume.split("/")[0])
    asks = {}
    for node in nodes:
        vgs = set(by_node.get(node["uuid"], set()))
        if lvm and node["vm_capable"]:
            vgs.add(cluster["volume_group_name"])
        asks[node["uuid"]] = {"vgs": sorted(vgs), "drbd": drbd and bool(node["vm_capable"])}
    return asks


def reserved_matcher(patterns: list[str]) -> re.Pattern[str] | None:
    """One regular expression matching a whole ``vg/lv`` name against any of ``patterns``
    (the cluster's ``reserved_lvs``), or None when there are none."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def storage_findings(cfg: Any, nodes: list[dict[str, Any]],
                     infos: dict[str, dict[str, Any] | str]) -> list[Finding]:
    """Every LVM and DRBD finding, from the nodes' verify answers (``infos``: node UUID -> the
    answer, or the error text of a node that did not answer; those are reported elsewhere)."""
    cluster = cfg.cluster()
    findings: list[Finding] = []
    healthy_lvm = _check_volume_groups(cluster, nodes, infos, findings)
    _check_instance_volumes(cfg, healthy_lvm, findings)
    _check_orphan_volumes(cfg, cluster, healthy_lvm, findings)
    if drbd_enabled(cluster):
        _check_drbd(cfg, cluster, nodes, infos, findings)
    return findings


def _check_volume_groups(cluster: dict[str, Any], nodes: list[dict[str, Any]],
                         infos: dict[str, dict[str, Any] | str],
                         findings: list[Finding]) -> dict[str, tuple[dict[str, Any], dict[str, bool]]]:
    """Report LVM problems per node; answer the nodes whose volumes can be judged: node UUID
    -> (node, ``"vg/lv"`` -> active)."""
    vg = cluster.get("volume_group_name") if lvm_enabled(cluster) else None
    healthy = {}
    for node in nodes:
        info = infos.get(node["uuid"])
        if node["offline"] or not isinstance(info, dict) or "lvs" not in info and \
                "lvm_error" not in info:
            continue
        if "lvm_error" in info:
            findings.append(Finding("ERROR", cv.ENODELVM, node["name"],
                                    f"LVM problem on node: {info['lvm_error']}"))
            continue
        if vg and node["vm_capable"] and vg not in info.get("vgs_found", []):
            findings.append(Finding("ERROR", cv.ENODELVM, node["name"],
                                    f"volume group '{vg}' missing"))
            continue
        healthy[node["uuid"]] = (node, dict(info["lvs"]))
    return healthy


def _check_instance_volumes(cfg: Any,
                            healthy: dict[str, tuple[dict[str, Any], dict[str, bool]]],
                            findings: list[Finding]) -> None:
    for inst in sorted(cfg.all("instances"), key=lambda i: i["name"]):
        for node_uuid, volume in instance_volumes(cfg, inst):
            if node_uuid in healthy and volume not in healthy[node_uuid][1]:
                findings.append(Finding("ERROR", cv.EINSTANCEMISSINGDISK, inst["name"],
                                        f"volume {volume} missing on node"
                                        f" {healthy[node_uuid][0]['name']}"))


def _check_orphan_volumes(cfg: Any, cluster: dict[str, Any],
                          healthy: dict[str, tuple[dict[str, Any], dict[str, bool]]],
                          findings: list[Finding]) -> None:
    if not lvm_enabled(cluster):
        return
    vg = cluster["volume_group_name"]
    used: dict[str, set[str]] = {}
    for inst in cfg.all("instances"):
        for node_uuid, volume in instance_volumes(cfg, inst):
            used.setdefault(node_uuid, set()).add(volume)
    reserved = reserved_matcher(list(cluster.get("reserved_lvs") or []))
    for node_uuid, (node, lvs) in sorted(healthy.items(), key=lambda item: item[1][0]["name"]):
        for volume in sorted(lvs):
            if volume.split("/")[0] != vg or volume in used.get(node_uuid, set()):
                continue
            if reserved is not None and reserved.fullmatch(volume):
                continue
            findings.append(Finding("WARNING", cv.ENODEORPHANLV, node["name"],
                                    f"volume {volume} is unknown"))


def _check_drbd(cfg: Any, cluster: dict[str, Any], nodes: list[dict[str, Any]],
                infos: dict[str, dict[str, Any] | str], findings: list[Finding]) -> None:
    minors = drbdmap.minor_map(cfg.data)
    owner = {disk_uuid: inst for inst in cfg.all("instances") for disk_uuid in inst["disks"]}
    helper = cluster.get("drbd_usermode_helper")
    for node in nodes:
        info = infos.get(node["uuid"])
        if node["offline"] or not isinstance(info, dict) or "drbd_minors" not in info:
            continue
        live = {int(minor): status for minor, status in info["drbd_minors"].items()
                if status.get("configured", True)}
        # the role sets the cluster's helper before it brings a device up, so a loaded module
        # with another helper (drbd-utils' default) matters only while devices are in use
        if helper and live and info.get("drbd_helper") not in (None, helper):
            findings.append(Finding("ERROR", cv.ENODEDRBDHELPER, node["name"],
                                    f"wrong drbd usermode helper: {info['drbd_helper']}"))
        expected = minors.get(node["uuid"], {})
        for minor, disk_uuid in sorted(expected.items()):
            inst = owner.get(disk_uuid)
            attached = f"(attached in instance '{inst['name']}')" if inst else "(detached)"
            if inst is not None and objects.disks_active(inst) and minor not in live:
                findings.append(Finding("ERROR", cv.ENODEDRBD, node["name"],
                                        f"drbd minor {minor} of disk {disk_uuid} {attached}"
                                        " is not active"))
        for minor in sorted(set(live) - set(expected)):
            findings.append(Finding("ERROR", cv.ENODEDRBD, node["name"],
                                    f"unallocated drbd minor {minor} is in use"))
        _check_degraded(cfg, node, expected, owner, live, findings)


def _check_degraded(cfg: Any, node: dict[str, Any], expected: dict[int, str],
                    owner: dict[str, dict[str, Any]], live: dict[int, dict[str, Any]],
                    findings: list[Finding]) -> None:
    """Degraded ends of instances whose disks are marked active: a warning while the local disk is fine or
    resyncing (the peer's side is the problem, or it catches up), else an error."""
    for minor, disk_uuid in sorted(expected.items()):
        inst, status = owner.get(disk_uuid), live.get(minor)
        if inst is None or not objects.disks_active(inst) or status is None \
                or not status.get("degraded"):
            continue
        index = inst["disks"].index(disk_uuid)
        local = str(status.get("local_disk", "unknown"))
        findings.append(Finding(
            "WARNING" if local in ACCEPTED_LOCAL_DISK else "ERROR", cv.EINSTANCEFAULTYDISK,
            inst["name"],
            f"disk/{index} on {node['name']} is degraded; local disk state is"
            f" '{LOCAL_DISK_NAMES.get(local, local)}'"))
