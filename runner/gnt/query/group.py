"""Query fields of node groups (``gnt-group list``/``info``/``list-fields``).

All fields come from the config (no live data). :mod:`gnt.query.engine` lists
:func:`group_fields` in its field table and takes its rows from :func:`rows`.
"""

from __future__ import annotations

from typing import Any

from gnt.config.store import ConfigStore
from gnt.opcodes import params
from gnt.opcodes.group import ALLOC_PREFERRED
from gnt.query.field import Field, select_by_name


class GroupRow:
    """One node group with its nodes and their primary instances."""

    def __init__(self, store: ConfigStore, group: dict[str, Any],
                 nodes: list[dict[str, Any]], instances: list[dict[str, Any]]) -> None:
        self.store, self.group = store, group
        self.nodes = sorted(nodes, key=lambda n: n["name"])
        self.instances = sorted(instances, key=lambda i: i["name"])
        self.cluster = store.cluster()

    def ndparams(self) -> dict[str, Any]:
        """Effective node parameters: built-in defaults < cluster < group."""
        return params.fill(params.fill(params.defaults(params.NDPARAMS),
                                       self.cluster.get("ndparams", {})),
                           self.group.get("ndparams", {}))

    def diskparams(self) -> dict[str, Any]:
        return params.filled_diskparams(self.cluster, self.group)

    def ipolicy(self) -> dict[str, Any]:
        return params.full_ipolicy(self.cluster, self.group)


def group_fields() -> list[Field]:
    """The fields of ``gnt-group list``."""
    return [
        Field("name", "Group", "text", lambda r: r.group["name"], doc="Group name"),
        Field("uuid", "UUID", "text", lambda r: r.group["uuid"], doc="Group UUID"),
        Field("alloc_policy", "AllocPolicy", "text",
              lambda r: r.group.get("alloc_policy") or ALLOC_PREFERRED,
              doc="Allocation policy for group"),
        Field("node_cnt", "Nodes", "number", lambda r: len(r.nodes),
              doc="Number of nodes"),
        Field("node_list", "NodeList", "list", lambda r: [n["name"] for n in r.nodes],
              doc="List of nodes"),
        Field("pinst_cnt", "Instances", "number", lambda r: len(r.instances),
              doc="Number of primary instances"),
        Field("pinst_list", "InstanceList", "list", lambda r: [i["name"] for i in r.instances],
              doc="List of primary instances"),
        Field("ndparams", "NDParams", "other", lambda r: r.ndparams(),
              doc="Node parameters (merged with the cluster's)"),
        Field("custom_ndparams", "CustomNDParams", "other",
              lambda r: dict(r.group.get("ndparams", {})),
              doc="Custom node parameters (this group's own)"),
        Field("diskparams", "DiskParameters", "other", lambda r: r.diskparams(),
              doc="Disk parameters (merged)"),
        Field("custom_diskparams", "CustomDiskParameters", "other",
              lambda r: dict(r.group.get("diskparams", {})), doc="Custom disk parameters"),
        Field("ipolicy", "InstancePolicy", "other", lambda r: r.ipolicy(),
              doc="Instance policy limitations (merged)"),
        Field("custom_ipolicy", "CustomInstancePolicy", "other",
              lambda r: dict(r.group.get("ipolicy", {})), doc="Custom instance policy"),
        Field("networks", "Networks", "list", lambda r: sorted(r.group.get("networks", {})),
              doc="Networks connected to the group"),
        Field("tags", "Tags", "list", lambda r: list(r.group["tags"]), doc="Tags"),
        Field("ctime", "CTime", "timestamp", lambda r: r.group["ctime"],
              doc="Creation timestamp"),
        Field("mtime", "MTime", "timestamp", lambda r: r.group["mtime"],
              doc="Modification timestamp"),
        Field("serial_no", "SerialNo", "number", lambda r: r.group["serial_no"],
              doc="Group object serial number, incremented on each modification"),
    ]


def rows(store: ConfigStore, names: list[str]) -> list[GroupRow]:
    """One :class:`GroupRow` per selected group (unknown names: error naming them)."""
    groups = select_by_name(store.all("nodegroups"), names, "node group")
    nodes = store.all("nodes")
    instances = store.all("instances")
    result = []
    for group in groups:
        members = [n for n in nodes if n["group"] == group["uuid"]]
        uuids = {n["uuid"] for n in members}
        result.append(GroupRow(store, group, members,
                               [i for i in instances if i["primary_node"] in uuids]))
    return result
