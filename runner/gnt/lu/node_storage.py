"""Storage units and logical volumes of nodes: ``gnt-node list-storage`` (OP_NODE_QUERY_STORAGE)
and ``gnt-node volumes`` (OP_NODE_QUERYVOLS), asked of the nodes live, as Ganeti does; and
``modify-storage`` / ``repair-storage`` (OP_NODE_MODIFY_STORAGE, OP_REPAIR_NODE_STORAGE) through
the ``node_storage`` role.

Results are rows in the order of ``output_fields`` (Ganeti's: node, type, name, size, used,
free, allocatable; node, phys, vg, name, size, instance); nodes by name, units by name. A
node that does not answer is left out with a warning in the job log.
"""

from __future__ import annotations

from typing import Any

from gnt.config import objects
from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_INVAL,
    ECODE_STATE,
    OpExecError,
    OpPrereqError,
)
from gnt.core.locklevels import LEVEL_NODE
from gnt.lu import instance_drbd
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import drbd_vars, node_access
from gnt.nodes.storagecalls import STORAGE_FIELDS
from gnt.opcodes import storage

VOLUME_FIELDS = ("node", "phys", "vg", "name", "size", "instance")


def check_type_enabled(cluster: dict[str, Any], kind: str) -> None:
    """Ganeti's check that a storage type is enabled: by one of its disk templates (lvm-pv
    with lvm-vg's)."""
    templates = storage.STORAGE_TYPE_TEMPLATES[kind]
    if not any(template in cluster["enabled_disk_templates"] for template in templates):
        raise OpPrereqError(f"Storage type '{kind}' is not enabled. Please enable it by enabling"
                            f" the disk template(s) {', '.join(templates)}", ECODE_STATE)


def _check_fields(fields: list[str], valid: tuple[str, ...]) -> None:
    unknown = [field for field in fields if field not in valid]
    if unknown:
        raise OpPrereqError(f"Unknown output fields selected: {', '.join(unknown)}",
                            ECODE_INVAL)


class _NodesQuery(LogicalUnit):
    """The nodes asked: those named, else all; offline ones are skipped."""

    def expand_names(self) -> None:
        named = [self.cfg.lookup("nodes", name) for name in self.op["nodes"]]
        nodes = named or self.cfg.all("nodes")
        self.nodes = sorted(nodes, key=lambda node: node["name"])

    def online(self) -> list[dict[str, Any]]:
        """The nodes to ask (offline ones noted in the log)."""
        for node in self.nodes:
            if node["offline"]:
                self.log(f"WARNING: node {node['name']} is offline, skipped")
        return [node for node in self.nodes if not node["offline"]]

    def answers(self, replies: dict[str, Any]) -> list[tuple[dict[str, Any], list[Any]]]:
        """(node, its answer) for the nodes that answered, by name; the others in the log."""
        good = []
        for node in self.online():
            reply = replies.get(node["uuid"])
            if isinstance(reply, list):
                good.append((node, reply))
            else:
                self.log(f"WARNING: Failure while listing storage on node {node['name']},"
                         f" skipping: {reply}")
        return good


@register
class LUNodeQueryStorage(_NodesQuery):
    """Storage units of one type on the nodes."""

    OP_ID = "OP_NODE_QUERY_STORAGE"

    def check_arguments(self) -> None:
        _check_fields(self.op["output_fields"], STORAGE_FIELDS)

    def check_prereq(self) -> None:
        given = self.op["storage_type"]
        if given:
            check_type_enabled(self.cfg.cluster(), given)
            self.storage_type = given
            return
        enabled = self.cfg.cluster()["enabled_disk_templates"]
        default = storage.TEMPLATE_STORAGE_TYPE.get(enabled[0], enabled[0])
        if default not in storage.STORAGE_TYPES:
            raise OpPrereqError(
                f"Storage reporting for storage type '{default}' is not supported. Please use"
                " the --storage-type option to specify one of the supported storage types"
                f" ({', '.join(storage.STORAGE_TYPES)}) or set the default disk template to"
                " one that supports storage reporting.", ECODE_INVAL)
        self.storage_type = default

    def exec(self) -> Any:
        cluster = self.cfg.cluster()
        path = {"file": cluster["file_storage_dir"],
                "sharedfile": cluster["shared_file_storage_dir"]}.get(self.storage_type)
        replies = rpc.storage_many(self.cfg, self.online(), self.storage_type, path)
        rows = []
        for node, units in self.answers(replies):
            for unit in units:
                if self.op["name"] and unit["name"] != self.op["name"]:
                    continue
                full = {**unit, "node": node["name"], "type": self.storage_type}
                rows.append([full[field] for field in self.op["output_fields"]])
        return rows


@register
class LUNodeQueryvols(_NodesQuery):
    """Logical volumes on the nodes, with the instance each belongs to (``-`` for none)."""

    OP_ID = "OP_NODE_QUERYVOLS"

    def check_arguments(self) -> None:
        _check_fields(self.op["output_fields"], VOLUME_FIELDS)

    def exec(self) -> Any:
        owners = self._owners()
        replies = rpc.volumes_many(self.cfg, self.online())
        rows = []
        for node, volumes in self.answers(replies):
            for vol in volumes:
                owner = owners.get((node["uuid"], vol["vg"], vol["name"]), "-")
                full = {**vol, "node": node["name"], "instance": owner}
                rows.append([full[field] for field in self.op["output_fields"]])
        return rows

    def _owners(self) -> dict[tuple[str, str, str], str]:
        """(node uuid, vg, lv) -> instance name, for every LV the config knows."""
        owners = {}
        for inst in self.cfg.all("instances"):
            for disk in self.cfg.instance_disks(inst):
                volumes = [disk] if disk.get("dev_type") == "plain" else list(
                    disk.get("children") or [])
                for node in disk.get("nodes") or [inst["primary_node"]]:
                    for vol in volumes:
                        vg, name = vol["logical_id"][:2]
                        owners[(node, vg, name)] = inst["name"]
        return owners


class _StorageChange(LogicalUnit):
    """A change to one storage unit of one node (locked), run by the node_storage role."""

    def expand_names(self) -> None:
        self.node = self.cfg.lookup("nodes", self.op["node_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODE: [str(self.node["uuid"])]}

    def check_prereq(self) -> None:
        self.node = self.cfg.get("nodes", self.node["uuid"])
        if self.node["offline"]:
            raise OpPrereqError(f"Node {self.node['name']} is offline", ECODE_STATE)

    def run_role(self, spec: dict[str, Any], what: str) -> None:
        """Run node_storage with ``spec`` on the node; OpExecError naming ``what``."""
        name = self.node["name"]
        result = self.ctx.executor.run(
            [Play("node_storage", {name: {"gnt_node_storage": spec}}, title=what)],
            {name: node_access(self.cfg, self.node)}, self.feedback)
        if not result.ok:
            raise OpExecError(f"Cannot {what} on node {name}: {result.failure_summary()}")


@register
class LUNodeModifyStorage(_StorageChange):
    """``gnt-node modify-storage --allocatable=yes|no NODE lvm-pv PV``."""

    OP_ID = "OP_NODE_MODIFY_STORAGE"

    def check_arguments(self) -> None:
        kind, changes = self.op["storage_type"], self.op["changes"]
        modifiable = storage.MODIFIABLE_FIELDS.get(kind)
        if modifiable is None:
            raise OpPrereqError(f"Storage units of type '{kind}' can not be modified",
                                ECODE_INVAL)
        bad = sorted(set(changes) - set(modifiable))
        if bad:
            raise OpPrereqError(f"The following fields can not be modified for storage units"
                                f" of type '{kind}': {', '.join(bad)}", ECODE_INVAL)
        if not isinstance(changes.get("allocatable", False), bool):
            raise OpPrereqError(f"allocatable must be true or false, not"
                                f" {changes['allocatable']!r}", ECODE_INVAL)

    def exec(self) -> Any:
        spec = {"type": self.op["storage_type"], "name": self.op["name"], **self.op["changes"]}
        self.run_role(spec, f"modify storage unit {self.op['name']}")
        return None


@register
class LURepairNodeStorage(_StorageChange):
    """``gnt-node repair-storage [--ignore-consistency] NODE lvm-vg VG``: the volume group
    made consistent again (``vgreduce --removemissing``, as Ganeti with ``--force`` when
    volumes used the missing PVs: those volumes are lost with their PVs and removed)."""

    OP_ID = "OP_REPAIR_NODE_STORAGE"

    def check_arguments(self) -> None:
        kind = self.op["storage_type"]
        if kind not in storage.REPAIRABLE_TYPES:
            raise OpPrereqError(f"Storage units of type '{kind}' can not be repaired",
                                ECODE_INVAL)

    def check_prereq(self) -> None:
        super().check_prereq()
        check_type_enabled(self.cfg.cluster(), self.op["storage_type"])
        # As Ganeti: the instances of this node whose disks are active must have no faulty
        # disks on their other nodes (the repair may remove volumes here); with
        # --ignore-consistency that is a warning.
        for inst in self._instances():
            others = [node for node in instance_drbd.instance_nodes(self.cfg, inst)
                      if node["uuid"] != self.node["uuid"]]
            if not others or not objects.disks_active(inst):
                continue
            for other in others:
                try:
                    self._check_faulty(inst, other)
                except OpPrereqError as err:
                    if not self.op["ignore_consistency"]:
                        raise
                    self.log(f"WARNING: {err.args[0]}")

    def _instances(self) -> list[dict[str, Any]]:
        """The instances with disks on this node (primary or secondary), by name."""
        uuid = self.node["uuid"]
        return sorted((inst for inst in self.cfg.all("instances")
                       if inst["primary_node"] == uuid
                       or any(uuid in (disk.get("nodes") or [])
                              for disk in self.cfg.instance_disks(inst))),
                      key=lambda inst: inst["name"])

    def _check_faulty(self, inst: dict[str, Any], node: dict[str, Any]) -> None:
        """OpPrereqError when an end of ``inst`` on ``node`` has a faulty local disk (or the
        node cannot say)."""
        try:
            live = rpc.drbd_status(self.cfg, node)
        except rpc.NodeDown as err:
            raise OpPrereqError(f"Failed to get disk status from node {node['name']}: {err}",
                                ECODE_ENVIRON) from err
        if any((live.get(end["minor"]) or {}).get("local_disk") == "faulty"
               for end in drbd_vars(self.cfg, inst, node["uuid"])):
            raise OpPrereqError(f"Instance '{inst['name']}' has faulty disks on node"
                                f" '{node['name']}'", ECODE_STATE)

    def exec(self) -> Any:
        name, node = self.op["name"], self.node["name"]
        self.log(f"Repairing storage unit '{name}' on {node} ...")
        spec = {"type": self.op["storage_type"], "name": name, "repair": True}
        result = self.ctx.executor.run(
            [Play("node_storage", {node: {"gnt_node_storage": spec}},
                  title=f"repair storage unit {name}")],
            {node: node_access(self.cfg, self.node)}, self.feedback)
        if not result.ok:
            raise OpExecError(f"Failed to repair storage unit '{name}' on {node}:"
                              f" {result.failure_summary()}")
        return None
