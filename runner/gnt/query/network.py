"""Query fields of networks (``gnt-network list``/``info``/``list-fields``, RAPI).

All fields come from the config (no live data). :mod:`gnt.query.engine` lists
:func:`network_fields` in its field table and takes its rows from :func:`rows`. An instance
uses a network when one of its NICs names the network's UUID (``nic["network"]``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from gnt.config.ippool import AddressPool, AddressPoolError
from gnt.config.store import ConfigStore
from gnt.query.field import Field, select_by_name


class NetworkRow:
    """One network with the node groups connected to it and the instances using it."""

    def __init__(self, net: dict[str, Any], groups: list[dict[str, Any]],
                 instances: list[dict[str, Any]]) -> None:
        self.net = net
        self.groups = sorted(groups, key=lambda g: g["name"])
        self.instances = sorted(instances, key=lambda i: i["name"])

    @cached_property
    def pool(self) -> AddressPool | None:
        """The network's address pool (None if its config data cannot make one)."""
        try:
            return AddressPool(self.net)
        except AddressPoolError:
            return None

    def group_list(self) -> list[list[str]]:
        """``[group name, NIC mode, NIC link, NIC vlan]`` per connected group ('-' if unset)."""
        result = []
        for group in self.groups:
            nicparams = group["networks"][self.net["uuid"]] or {}
            result.append([group["name"]] + ["-" if nicparams.get(key) is None
                                             else str(nicparams[key])
                                             for key in ("mode", "link", "vlan")])
        return result

    def from_pool(self, what: str) -> Any:
        """A pool figure (``free_count``, ``reserved_count``, ``map``), None without a pool."""
        pool = self.pool
        if pool is None:
            return None
        return getattr(pool, what)()

    def external_reservations(self) -> str | None:
        pool = self.pool
        return None if pool is None else ", ".join(pool.external_reservations())


def network_fields() -> list[Field]:
    """The fields of ``gnt-network list`` (Ganeti's names, titles and kinds)."""
    return [
        Field("name", "Network", "text", lambda r: r.net["name"], doc="Name"),
        Field("network", "Subnet", "text", lambda r: r.net["network"], doc="IPv4 subnet"),
        Field("gateway", "Gateway", "other", lambda r: r.net.get("gateway"),
              doc="IPv4 gateway"),
        Field("network6", "IPv6Subnet", "other", lambda r: r.net.get("network6"),
              doc="IPv6 subnet"),
        Field("gateway6", "IPv6Gateway", "other", lambda r: r.net.get("gateway6"),
              doc="IPv6 gateway"),
        Field("mac_prefix", "MacPrefix", "other", lambda r: r.net.get("mac_prefix"),
              doc="MAC address prefix"),
        Field("free_count", "FreeCount", "number", lambda r: r.from_pool("free_count"),
              doc="Number of available addresses"),
        Field("map", "Map", "text", lambda r: r.from_pool("map"), doc="Actual mapping"),
        Field("reserved_count", "ReservedCount", "number",
              lambda r: r.from_pool("reserved_count"), doc="Number of reserved addresses"),
        Field("group_list", "GroupList", "other", lambda r: r.group_list(),
              doc="List of nodegroups (group name, NIC mode, NIC link)"),
        Field("group_cnt", "NodeGroups", "number", lambda r: len(r.groups),
              doc="Number of nodegroups"),
        Field("inst_list", "InstanceList", "other", lambda r: [i["name"] for i in r.instances],
              doc="List of instances"),
        Field("inst_cnt", "Instances", "number", lambda r: len(r.instances),
              doc="Number of instances"),
        Field("external_reservations", "ExternalReservations", "text",
              lambda r: r.external_reservations(), doc="External reservations"),
        Field("ctime", "CTime", "timestamp", lambda r: r.net["ctime"],
              doc="Creation timestamp"),
        Field("mtime", "MTime", "timestamp", lambda r: r.net["mtime"],
              doc="Modification timestamp"),
        Field("uuid", "UUID", "text", lambda r: r.net["uuid"], doc="Network UUID"),
        Field("serial_no", "SerialNo", "number", lambda r: r.net["serial_no"],
              doc="Network object serial number, incremented on each modification"),
        Field("tags", "Tags", "other", lambda r: list(r.net.get("tags") or []), doc="Tags"),
    ]


def rows(store: ConfigStore, names: list[str]) -> list[NetworkRow]:
    """One :class:`NetworkRow` per selected network (unknown names: error naming them)."""
    networks = select_by_name(store.all("networks"), names, "network")
    groups = store.all("nodegroups")
    instances = store.all("instances")
    result = []
    for net in networks:
        uuid = net["uuid"]
        result.append(NetworkRow(
            net, [g for g in groups if uuid in (g.get("networks") or {})],
            [i for i in instances if any(nic.get("network") == uuid for nic in i["nics"])]))
    return result
