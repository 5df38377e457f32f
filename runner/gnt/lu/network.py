"""Logical units of networks (gnt-network): add, remove, modify, connect, disconnect.

Ganeti 3.0 has no network rename (OpNetworkRename came with 3.1), so neither do we.

Every network change is config-only (no Ansible run). Locks as Ganeti's: the ``network``
level by network UUID (a new network's name by :func:`name_lock`), exclusive for the network
changed; add with the conflicts check reads every node shared; connect/disconnect change the
node group (exclusive) and read its instances (shared) and, for connect's conflicts check, the
network (shared). Instance NICs name their network by UUID (``nic["network"]``).
"""

from __future__ import annotations

import copy
from typing import Any

from gnt.config.ippool import AddressPool, AddressPoolError
from gnt.config.objects import new_uuid
from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_EXISTS, ECODE_INVAL, ECODE_NOENT, ECODE_STATE, OpPrereqError
from gnt.core.locklevels import (
    ALL,
    LEVEL_INSTANCE,
    LEVEL_NETWORK,
    LEVEL_NODE,
    LEVEL_NODEGROUP,
    name_lock,
)
from gnt.lu.base import LogicalUnit, register
from gnt.lu.group import lookup_group
from gnt.opcodes import params
from gnt.opcodes.base import check_tag
from gnt.opcodes.network import VALUE_NONE


def find_network(cfg: ConfigStore, name: str) -> dict[str, Any] | None:
    """The network named ``name`` exactly (or with that UUID), or None."""
    networks = cfg.all("networks")
    for net in networks:
        if net["name"] == name:
            return net
    for net in networks:
        if net["uuid"] == name:
            return net
    return None


def lookup_network(cfg: ConfigStore, name: str) -> dict[str, Any]:
    """Like :func:`find_network`, but an unknown network is an error naming it."""
    net = find_network(cfg, name)
    if net is None:
        raise OpPrereqError(f"Network '{name}' not known", ECODE_NOENT)
    return net


def network_instances(cfg: ConfigStore, net_uuid: str) -> list[dict[str, Any]]:
    """The instances with a NIC in the network, sorted by name."""
    return sorted((inst for inst in cfg.all("instances")
                   if any(nic.get("network") == net_uuid for nic in inst["nics"])),
                  key=lambda inst: inst["name"])


def connected_groups(cfg: ConfigStore, net_uuid: str) -> list[dict[str, Any]]:
    """The node groups the network is connected to, sorted by name."""
    return sorted((group for group in cfg.all("nodegroups")
                   if net_uuid in (group.get("networks") or {})),
                  key=lambda group: group["name"])


def group_instances(cfg: ConfigStore, group_uuid: str) -> list[dict[str, Any]]:
    """Instances with their primary or a secondary node in the group, sorted by name."""
    members = {node["uuid"] for node in cfg.all("nodes") if node["group"] == group_uuid}
    return sorted((inst for inst in cfg.all("instances")
                   if inst["primary_node"] in members
                   or members & set(cfg.instance_secondaries(inst))),
                  key=lambda inst: inst["name"])


def _pool(net: dict[str, Any], what: str) -> AddressPool:
    try:
        return AddressPool(net)
    except AddressPoolError as err:
        raise OpPrereqError(f"{what}: {err}", ECODE_INVAL) from None


class _NetworkLU(LogicalUnit):
    """One existing network named by ``network_name``, locked exclusively by UUID."""

    def expand_names(self) -> None:
        self.net = lookup_network(self.cfg, self.op["network_name"])
        self.net_uuid = str(self.net["uuid"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NETWORK: [self.net_uuid]}

    def check_prereq(self) -> None:
        # Re-read under the lock: another job may have changed (or removed) it meanwhile.
        current = self.cfg.data["networks"].get(self.net_uuid)
        if current is None:
            raise OpPrereqError(f"Network '{self.op['network_name']}' was removed meanwhile",
                                ECODE_NOENT)
        self.net = current

    @property
    def name(self) -> str:
        return str(self.net["name"])


@register
class LUNetworkAdd(LogicalUnit):
    """Create a network and its address pool (network, broadcast and gateway reserved; with
    the conflicts check also the node and master IPs inside it)."""

    OP_ID = "OP_NETWORK_ADD"
    SHARED_LEVELS = frozenset({LEVEL_NODE})

    def check_arguments(self) -> None:
        self.name = str(self.op["network_name"])
        self.mac_prefix = (params.check_mac_prefix(self.op["mac_prefix"])
                           if self.op["mac_prefix"] else None)
        for tag in self.op["tags"]:
            check_tag(tag)
        self._new_net()  # the pool's own checks (size, gateway inside), before any lock

    def _new_net(self) -> tuple[dict[str, Any], AddressPool]:
        net: dict[str, Any] = {
            "uuid": "", "name": self.name, "network": self.op["network"],
            "gateway": self.op["gateway"], "network6": self.op["network6"],
            "gateway6": self.op["gateway6"], "mac_prefix": self.mac_prefix,
            "reservations": None, "ext_reservations": None,
            "tags": sorted(set(self.op["tags"]))}
        try:
            pool = AddressPool.initialize(net)
        except AddressPoolError as err:
            raise OpPrereqError(f"Cannot create IP address pool for network '{self.name}':"
                                f" {err}", ECODE_INVAL) from None
        return net, pool

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks: dict[str, list[str] | str] = {LEVEL_NETWORK: [name_lock(self.name)]}
        if self.op["conflicts_check"]:
            locks[LEVEL_NODE] = ALL
        return locks

    def check_prereq(self) -> None:
        existing = find_network(self.cfg, self.name)
        if existing is not None:
            raise OpPrereqError(f"Desired network name '{self.name}' already exists as a"
                                f" network (UUID: {existing['uuid']})", ECODE_EXISTS)
        self.new, pool = self._new_net()
        if self.op["conflicts_check"]:
            self._reserve_cluster_ips(pool)
        for ip in self.op["add_reserved_ips"] or []:
            try:
                pool.reserve(ip, external=True)
            except AddressPoolError as err:
                raise OpPrereqError(f"Cannot reserve IP address '{ip}': {err}",
                                    ECODE_INVAL) from None
        pool.save()

    def _reserve_cluster_ips(self, pool: AddressPool) -> None:
        """Reserve (externally) the node and cluster master IPs that fall inside the network."""
        for node in sorted(self.cfg.all("nodes"), key=lambda n: n["name"]):
            for ip in dict.fromkeys([node["primary_ip"], node["secondary_ip"]]):
                if not pool.contains(ip):
                    continue
                try:
                    pool.reserve(ip, external=True)
                    self.log(f"Reserved IP address of node '{node['name']}' ({ip})")
                except AddressPoolError as err:
                    self.log(f"WARNING: Cannot reserve IP address '{ip}' of node"
                             f" '{node['name']}': {err}")
        master_ip = self.cfg.cluster().get("master_ip")
        if master_ip and pool.contains(master_ip):
            try:
                pool.reserve(master_ip, external=True)
                self.log(f"Reserved cluster master IP address ({master_ip})")
            except AddressPoolError as err:
                self.log(f"WARNING: Cannot reserve cluster master IP address ({master_ip}):"
                         f" {err}")

    def exec(self) -> Any:
        net = dict(self.new, uuid=new_uuid())
        with self.cfg.lock:
            existing = find_network(self.cfg, self.name)
            if existing is not None:  # added by another path since: refuse, change nothing
                raise OpPrereqError(f"Desired network name '{self.name}' already exists as a"
                                    f" network (UUID: {existing['uuid']})", ECODE_EXISTS)
            self.cfg.add("networks", net)
        self.log(f"Added network {self.name} ({net['uuid']})")
        return None


@register
class LUNetworkRemove(_NetworkLU):
    """Remove a network: only when no node group is connected to it and no NIC uses it."""

    OP_ID = "OP_NETWORK_REMOVE"
    SHARED_LEVELS = frozenset({LEVEL_NODEGROUP})

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NETWORK: [self.net_uuid], LEVEL_NODEGROUP: ALL}

    def check_prereq(self) -> None:
        super().check_prereq()
        groups = [group["name"] for group in connected_groups(self.cfg, self.net_uuid)]
        if groups:
            raise OpPrereqError(f"Network '{self.name}' is still connected to node group(s)"
                                f" {', '.join(groups)}; disconnect it first", ECODE_STATE)
        users = [inst["name"] for inst in network_instances(self.cfg, self.net_uuid)]
        if users:
            raise OpPrereqError(f"Network '{self.name}' is in use by instance(s)"
                                f" {', '.join(users)}", ECODE_STATE)

    def exec(self) -> Any:
        with self.cfg.lock:
            self.check_prereq()  # connected or used by another path since: change nothing
            self.cfg.remove("networks", self.net_uuid)
        self.log(f"Removed network {self.name}")
        return None


def _unset(value: Any) -> Any:
    """A modify value: ``none`` unsets (None), anything else is kept."""
    return None if value == VALUE_NONE else value


@register
class LUNetworkSetParams(_NetworkLU):
    """Change a network's gateway, IPv6 subnet/gateway, MAC prefix and external reservations."""

    OP_ID = "OP_NETWORK_SET_PARAMS"

    def check_arguments(self) -> None:
        if self.op["gateway"] and (self.op["add_reserved_ips"]
                                   or self.op["remove_reserved_ips"]):
            raise OpPrereqError("Cannot modify gateway and reserved ips at once", ECODE_INVAL)
        prefix = _unset(self.op["mac_prefix"])
        self.mac_prefix = params.check_mac_prefix(prefix) if prefix else None

    def check_prereq(self) -> None:
        super().check_prereq()
        # Run the change on a copy: every error before the config is touched, warnings once.
        self.apply(copy.deepcopy(self.net), warn=True)

    def apply(self, net: dict[str, Any], warn: bool = False) -> None:
        """Make the requested changes to ``net`` (a network dict), its pool included."""
        what = f"Network '{net['name']}'"
        pool = _pool(net, what)
        if self.op["gateway"]:
            gateway = _unset(self.op["gateway"])
            if gateway is not None and pool.contains(gateway) and pool.is_reserved(gateway):
                raise OpPrereqError(f"Gateway IP address '{gateway}' is already reserved",
                                    ECODE_STATE)
            if gateway == net.get("gateway"):
                if warn:
                    self.log(f"WARNING: Gateway is already {gateway}")
            else:
                try:
                    if gateway is not None:
                        pool.reserve(gateway, external=True)
                    if net.get("gateway"):
                        pool.release(net["gateway"], external=True)
                except AddressPoolError as err:
                    raise OpPrereqError(f"{what}: cannot change the gateway to '{gateway}':"
                                        f" {err}", ECODE_INVAL) from None
                net["gateway"] = gateway
        for ip in self.op["add_reserved_ips"] or []:
            try:
                pool.reserve(ip, external=True)
            except AddressPoolError as err:
                if warn:
                    self.log(f"WARNING: Cannot reserve IP address {ip}: {err}")
        for ip in self.op["remove_reserved_ips"] or []:
            if ip == net.get("gateway"):
                if warn:
                    self.log("WARNING: Cannot unreserve Gateway's IP")
                continue
            try:
                pool.release(ip, external=True)
            except AddressPoolError as err:
                if warn:
                    self.log(f"WARNING: Cannot release IP address {ip}: {err}")
        if self.op["mac_prefix"]:
            net["mac_prefix"] = self.mac_prefix
        for field in ("network6", "gateway6"):
            if self.op[field]:
                net[field] = _unset(self.op[field])
        pool.save()
        _pool(net, what)  # the result must be a valid network (e.g. gateway6 in network6)

    def exec(self) -> Any:
        self.net = self.cfg.modify("networks", self.net_uuid, self.apply)
        return None


class _GroupConnectionLU(LogicalUnit):
    """A network and a node group: the group locked exclusively, its instances shared."""

    SHARED_LEVELS = frozenset({LEVEL_INSTANCE, LEVEL_NETWORK})

    def expand_names(self) -> None:
        self.net = lookup_network(self.cfg, self.op["network_name"])
        self.group = lookup_group(self.cfg, self.op["group_name"])
        self.instances = group_instances(self.cfg, self.group["uuid"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_INSTANCE: [str(inst["uuid"]) for inst in self.instances],
                LEVEL_NODEGROUP: [str(self.group["uuid"])]}

    def check_prereq(self) -> None:
        net = self.cfg.data["networks"].get(self.net["uuid"])
        group = self.cfg.data["nodegroups"].get(self.group["uuid"])
        if net is None or group is None:
            raise OpPrereqError(f"Network '{self.op['network_name']}' or node group"
                                f" '{self.op['group_name']}' was removed meanwhile",
                                ECODE_NOENT)
        self.net, self.group = net, group
        now = {inst["uuid"] for inst in group_instances(self.cfg, group["uuid"])}
        if now != {inst["uuid"] for inst in self.instances}:
            raise OpPrereqError(f"Instances in node group '{group['name']}' changed since"
                                " locks were acquired; please try again", ECODE_STATE)

    def conflicts(self, nic_matches: Any, action: str) -> None:
        """Refuse when an instance of the group has a NIC ``nic_matches`` accepts."""
        found = []
        for inst in self.instances:
            nics = [f"nic{idx}/{nic.get('ip')}"
                    for idx, nic in enumerate(self.cfg.get("instances", inst["uuid"])["nics"])
                    if nic_matches(nic)]
            if nics:
                found.append(f"{inst['name']}: {', '.join(nics)}")
        if found:
            self.log(f"WARNING: IP addresses from network '{self.net['name']}', which is about"
                     f" to {action} node group '{self.group['name']}', are in use:"
                     f" {', '.join(found)}")
            raise OpPrereqError(f"Conflicting IP addresses found in node group"
                                f" '{self.group['name']}' ({'; '.join(found)}); remove/modify"
                                " the corresponding network interfaces", ECODE_STATE)


@register
class LUNetworkConnect(_GroupConnectionLU):
    """Connect a network to a node group with its NIC parameters there."""

    OP_ID = "OP_NETWORK_CONNECT"

    def check_arguments(self) -> None:
        self.netparams = params.check_nicparams({"mode": self.op["network_mode"],
                                                 "link": self.op["network_link"],
                                                 "vlan": self.op["network_vlan"] or ""})

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        if self.op["conflicts_check"]:
            locks[LEVEL_NETWORK] = [str(self.net["uuid"])]
        else:
            locks[LEVEL_INSTANCE] = []
        return locks

    def check_prereq(self) -> None:
        if not self.op["conflicts_check"]:
            self.instances = []  # not locked, not looked at
            self._reread()
        else:
            super().check_prereq()
        self.connected = self.net["uuid"] in (self.group.get("networks") or {})
        if self.connected:
            self.log(f"WARNING: Network '{self.net['name']}' is already mapped to group"
                     f" '{self.group['name']}'")
        elif self.op["conflicts_check"]:
            pool = _pool(self.net, f"Network '{self.net['name']}'")
            self.conflicts(lambda nic: pool.contains(nic.get("ip") or ""), "connect to")

    def _reread(self) -> None:
        self.net = self.cfg.get("networks", self.net["uuid"])
        self.group = self.cfg.get("nodegroups", self.group["uuid"])

    def exec(self) -> Any:
        if self.connected:
            return None

        def connect(group: dict[str, Any]) -> None:
            group.setdefault("networks", {})[self.net["uuid"]] = dict(self.netparams)
        self.group = self.cfg.modify("nodegroups", self.group["uuid"], connect)
        self.log(f"Connected network {self.net['name']} to node group {self.group['name']}"
                 f" (mode {self.netparams['mode']}, link {self.netparams['link']})")
        return None


@register
class LUNetworkDisconnect(_GroupConnectionLU):
    """Disconnect a network from a node group: refused while a NIC of one of the group's
    instances is in the network."""

    OP_ID = "OP_NETWORK_DISCONNECT"

    def check_prereq(self) -> None:
        super().check_prereq()
        uuid = self.net["uuid"]
        self.connected = uuid in (self.group.get("networks") or {})
        if not self.connected:
            self.log(f"WARNING: Network '{self.net['name']}' is not mapped to group"
                     f" '{self.group['name']}'")
            return
        self.conflicts(lambda nic: nic.get("network") == uuid, "disconnect from")

    def exec(self) -> Any:
        if not self.connected:
            return None

        def disconnect(group: dict[str, Any]) -> None:
            group["networks"].pop(self.net["uuid"], None)
        self.group = self.cfg.modify("nodegroups", self.group["uuid"], disconnect)
        self.log(f"Disconnected network {self.net['name']} from node group"
                 f" {self.group['name']}")
        return None
