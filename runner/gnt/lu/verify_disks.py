"""``gnt-cluster verify-disks`` and ``repair-disk-sizes``. Verify-disks: which instances whose
disks should be active have disks that are not (to be activated by the command) or missing (to
be replaced or recreated), and which nodes could not be asked, as Ganeti's group disk
verification answers.

What counts, per instance whose disks are marked active (Ganeti's ``disks_active`` flag: a
start or activate-disks set it), on its online nodes: each logical volume (a plain disk,
the data and meta-data volumes of a drbd disk on both nodes) must exist (else *missing*) and be
active; each drbd end must be configured on its node, with its local disk and connected to its
peer (else the instance's disks need activation).
"""

from __future__ import annotations

import copy
from typing import Any

from gnt.config import objects
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import rpc
from gnt.nodes.nodevars import drbd_vars
from gnt.opcodes import params


def instance_volumes(cfg: Any, instance: dict[str, Any]) -> list[tuple[str, str]]:
    """``(node UUID, "vg/lv")`` of every logical volume of ``instance``."""
    found = []
    for disk in cfg.instance_disks(instance):
        if disk["dev_type"] == params.DT_PLAIN:
            found.append((instance["primary_node"], "/".join(disk["logical_id"][:2])))
        elif disk["dev_type"] == params.DT_DRBD8:
            for node in disk.get("nodes") or []:
                for child in disk.get("children") or []:
                    found.append((node, "/".join(child["logical_id"][:2])))
    return found


@register
class LUClusterVerifyDisks(LogicalUnit):
    """Answers ``[bad_nodes, instances, missing]``: node name -> error, the names of the
    instances whose disks need activation, instance name -> ``[[node, "vg/lv"], ...]``."""

    OP_ID = "OP_CLUSTER_VERIFY_DISKS"
    SHARED_LEVELS = frozenset({LEVEL_INSTANCE, LEVEL_NODE})

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_INSTANCE: ALL, LEVEL_NODE: ALL}

    def check_prereq(self) -> None:
        group = self.op.get("group_name")
        self.group_uuid = self.cfg.lookup("nodegroups", group)["uuid"] if group else None

    def _instances(self) -> list[dict[str, Any]]:
        """Instances whose disks are marked active, with LVM or DRBD disks, in the group (if
        given)."""
        found = []
        for inst in self.cfg.all("instances"):
            if not objects.disks_active(inst) or inst["disk_template"] not in (
                    params.DT_PLAIN, params.DT_DRBD8):
                continue
            if self.group_uuid is not None and \
                    self.cfg.get("nodes", inst["primary_node"])["group"] != self.group_uuid:
                continue
            found.append(inst)
        return sorted(found, key=lambda inst: inst["name"])

    def exec(self) -> Any:
        cfg = self.cfg
        instances = self._instances()
        wanted = {node for inst in instances for node, _vol in instance_volumes(cfg, inst)}
        nodes = {uuid: cfg.get("nodes", uuid) for uuid in wanted}
        bad: dict[str, str] = {}
        volumes: dict[str, dict[str, Any]] = {}
        drbd: dict[str, dict[int, dict[str, Any]]] = {}
        any_drbd = any(inst["disk_template"] == params.DT_DRBD8 for inst in instances)
        for uuid, node in sorted(nodes.items(), key=lambda item: item[1]["name"]):
            if node["offline"]:
                continue
            vgs = sorted({vol.split("/")[0] for inst in instances
                          for where, vol in instance_volumes(cfg, inst) if where == uuid})
            try:
                volumes[uuid] = rpc.lv_list(cfg, node, vgs)
                drbd[uuid] = rpc.drbd_status(cfg, node) if any_drbd else {}
            except rpc.NodeDown as err:
                bad[node["name"]] = str(err)
        to_activate: list[str] = []
        missing: dict[str, list[list[str]]] = {}
        for inst in instances:
            needs = False
            for uuid, vol in instance_volumes(cfg, inst):
                node = nodes[uuid]
                if node["offline"]:
                    continue
                if node["name"] in bad:
                    missing.setdefault(inst["name"], []).append([node["name"], vol])
                    continue
                info = volumes[uuid].get(vol)
                if info is None:
                    missing.setdefault(inst["name"], []).append([node["name"], vol])
                elif not info.get("active"):
                    needs = True
            needs = needs or self._drbd_inactive(inst, nodes, drbd, bad)
            if needs:
                to_activate.append(inst["name"])
        return [bad, to_activate, missing]

    def _drbd_inactive(self, inst: dict[str, Any], nodes: dict[str, dict[str, Any]],
                       drbd: dict[str, dict[int, dict[str, Any]]], bad: dict[str, str]) -> bool:
        """Whether an end of a drbd instance is not configured, lacks its disk or is not
        connected (on online, answering nodes)."""
        if inst["disk_template"] != params.DT_DRBD8:
            return False
        for uuid in {inst["primary_node"], *self.cfg.instance_secondaries(inst)}:
            node = nodes.get(uuid) or self.cfg.get("nodes", uuid)
            if node["offline"] or node["name"] in bad:
                continue
            for end in drbd_vars(self.cfg, inst, uuid):
                status = drbd.get(uuid, {}).get(end["minor"])
                if status is None or status.get("disk") == "Diskless" \
                        or status.get("connection") in ("StandAlone", "Unconfigured"):
                    return True
        return False


@register
class LUClusterRepairDiskSizes(LogicalUnit):
    """``gnt-cluster repair-disk-sizes [INSTANCE...]``: each LVM disk's recorded size set to
    its volume's size on the primary node (a drbd disk: its data volume), as Ganeti corrects
    sizes after manual changes; answers ``[[instance, disk index, "size", new MiB], ...]``."""

    OP_ID = "OP_CLUSTER_REPAIR_DISK_SIZES"
    SHARED_LEVELS = frozenset({LEVEL_NODE})

    def expand_names(self) -> None:
        names = self.op["instances"]
        self.wanted = [self.cfg.lookup("instances", name) for name in names] if names \
            else self.cfg.all("instances")

    def declare_locks(self) -> dict[str, list[str] | str]:
        if self.op["instances"]:
            return {LEVEL_INSTANCE: [str(inst["uuid"]) for inst in self.wanted],
                    LEVEL_NODE: sorted({str(inst["primary_node"]) for inst in self.wanted})}
        return {LEVEL_INSTANCE: ALL, LEVEL_NODE: ALL}

    def exec(self) -> Any:
        cfg = self.cfg
        changed: list[list[Any]] = []
        by_node: dict[str, list[dict[str, Any]]] = {}
        for inst in sorted(self.wanted, key=lambda i: i["name"]):
            inst = cfg.get("instances", inst["uuid"])
            by_node.setdefault(inst["primary_node"], []).append(inst)
        for node_uuid, instances in by_node.items():
            node = cfg.get("nodes", node_uuid)
            lvm = [(inst, index, disk) for inst in instances
                   for index, disk in enumerate(cfg.instance_disks(inst))
                   if disk["dev_type"] in (params.DT_PLAIN, params.DT_DRBD8)]
            if not lvm or node["offline"]:
                continue
            vgs = sorted({_data_volume(disk)[0] for _inst, _index, disk in lvm})
            try:
                volumes = rpc.lv_list(cfg, node, vgs)
            except rpc.NodeDown as err:
                self.log(f"  - WARNING: Failure in the volume list call to node"
                         f" {node['name']} ({err}), ignoring")
                continue
            for inst, index, disk in lvm:
                info = volumes.get("/".join(_data_volume(disk)))
                if info is None:
                    self.log(f"  - WARNING: Disk {index} of instance {inst['name']} did not"
                             " return size information, ignoring")
                    continue
                size = int(info["size_mib"])
                if size != int(disk["size"]):
                    self.log(f"Disk {index} of instance {inst['name']} has mismatched size,"
                             f" correcting: recorded {disk['size']}, actual {size}")
                    self._record(disk, size)
                    changed.append([inst["name"], index, "size", size])
        return changed

    def _record(self, disk: dict[str, Any], size: int) -> None:
        """The new size in the config (a drbd disk's data volume too)."""
        fixed = copy.deepcopy(self.cfg.data["disks"][disk["uuid"]])
        fixed["size"] = size
        if fixed["dev_type"] == params.DT_DRBD8:
            fixed["children"][0]["size"] = size
        self.cfg.replace_many({"disks": [fixed]})


def _data_volume(disk: dict[str, Any]) -> tuple[str, str]:
    """(vg, lv) of a plain disk, or of a drbd disk's data volume."""
    data = disk["children"][0] if disk["dev_type"] == params.DT_DRBD8 else disk
    return str(data["logical_id"][0]), str(data["logical_id"][1])
