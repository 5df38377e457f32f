"""Storage units and logical volumes of nodes: ``gnt-node list-storage`` (OP_NODE_QUERY_STORAGE)
and ``gnt-node volumes`` (OP_NODE_QUERYVOLS), asked of the nodes live, as Ganeti does.

Results are rows in the order of ``output_fields`` (Ganeti's: node, type, name, size, used,
free, allocatable; node, phys, vg, name, size, instance); nodes by name, units by name. A
node that does not answer is left out with a warning in the job log.
"""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import rpc
from gnt.nodes.storagecalls import STORAGE_FIELDS
from gnt.opcodes import storage

VOLUME_FIELDS = ("node", "phys", "vg", "name", "size", "instance")


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
        cluster = self.cfg.cluster()
        enabled = cluster["enabled_disk_templates"]
        given = self.op["storage_type"]
        if given:
            if not any(t in enabled for t in storage.STORAGE_TYPE_TEMPLATES[given]):
                raise OpPrereqError(
                    f"Storage type '{given}' is not enabled. Please enable it by enabling the"
                    f" disk template(s) {', '.join(storage.STORAGE_TYPE_TEMPLATES[given])}",
                    ECODE_STATE)
            self.storage_type = given
            return
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
