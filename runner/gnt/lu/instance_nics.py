"""Instance NICs in networks (``network=NAME``, ``ip=pool``), shared by create and modify.

As Ganeti: a NIC in a network takes the link parameters the network has in the node group of
the instance's primary node (``gnt-network connect``), the network's MAC prefix, and its
address from the network's pool (``ip=pool``: the first free one) or an explicit address that
the pool must not have given to another NIC. Addresses are held for the job
(:class:`gnt.config.tempips.TemporaryIps`) from the checks until the config write that records
them in the pool (:func:`write_ip_changes`, inside the instance's own write).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from gnt.config.ippool import AddressPool, AddressPoolError
from gnt.core.errors import ECODE_INVAL, ECODE_NOTUNIQUE, ECODE_STATE, OpPrereqError

IP_POOL = "pool"
VALUE_NONE = "none"
LINK_KEYS = ("mode", "link")


def is_none(value: Any) -> bool:
    """A value given as ``none`` (any case) or not given."""
    return value is None or (isinstance(value, str) and value.lower() == VALUE_NONE)


def check_ip_syntax(ip: Any, network: Any, must_have_network: bool) -> str | None:
    """A NIC's ``ip`` as given: None, ``pool`` (needs a network where ``must_have_network``)
    or a valid address; Ganeti's messages otherwise."""
    if is_none(ip):
        return None
    text = str(ip)
    if text.lower() == IP_POOL:
        if must_have_network and is_none(network):
            raise OpPrereqError("If ip=pool, parameter network cannot be none", ECODE_INVAL)
        return IP_POOL
    try:
        ipaddress.ip_address(text)
    except ValueError as err:
        raise OpPrereqError(f"Invalid IP address '{text}'", ECODE_INVAL) from err
    return text


def check_no_link_with_network(params: dict[str, Any]) -> None:
    """A NIC in a network takes mode and link from the network's connection."""
    if not is_none(params.get("network")) and any(key in params for key in LINK_KEYS):
        raise OpPrereqError("If network is given, mode or link should not", ECODE_INVAL)


def lookup_network(cfg: Any, name_or_uuid: str) -> dict[str, Any]:
    """A network by name or UUID; not found is Ganeti's ECODE_NOENT message."""
    if name_or_uuid in cfg.data.get("networks", {}):
        return dict(cfg.get("networks", name_or_uuid))
    return dict(cfg.lookup("networks", name_or_uuid))


def network_name(cfg: Any, net_uuid: str | None) -> str | None:
    """The name of network ``net_uuid`` (None for None or a network that is gone)."""
    if not net_uuid:
        return None
    net = cfg.data.get("networks", {}).get(net_uuid)
    return str(net["name"]) if net else None


def group_netparams(cfg: Any, net_uuid: str, node_uuid: str) -> dict[str, Any] | None:
    """The link parameters of network ``net_uuid`` in the group of node ``node_uuid`` (None:
    not connected there)."""
    group = cfg.get("nodegroups", cfg.get("nodes", node_uuid)["group"])
    params = (group.get("networks") or {}).get(net_uuid)
    return None if params is None else dict(params)


def conflicting_network(cfg: Any, ip: str, node_uuid: str) -> str | None:
    """The network connected to the node's group whose range holds ``ip``, if any."""
    group = cfg.get("nodegroups", cfg.get("nodes", node_uuid)["group"])
    for net_uuid in sorted(group.get("networks") or {}):
        net = cfg.data.get("networks", {}).get(net_uuid)
        try:
            if net and AddressPool(net).contains(ip):
                return str(net["name"])
        except AddressPoolError:
            continue
    return None


@dataclass
class IpPlan:
    """Pool changes of one job: addresses to record as used or to give back."""

    reserve: list[tuple[str, str]] = field(default_factory=list)
    release: list[tuple[str, str]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.reserve or self.release)


class NicNetworks:
    """Places NICs in networks for one LU (its job holds the addresses it takes)."""

    def __init__(self, lu: Any, conflicts_check: bool) -> None:
        self.lu = lu
        self.cfg = lu.cfg
        self.conflicts_check = conflicts_check
        self.plan = IpPlan()

    def take_ip(self, index: int | None, net: dict[str, Any], ip: str) -> str:
        """``pool``: the first free address; else the given one, which must be free.
        ``index``: the NIC's, named in the error (None: a NIC modification, as Ganeti's)."""
        holder = self.cfg.temp_ips
        if ip == IP_POOL:
            try:
                chosen = holder.generate(self.lu.lock_owner, net)
            except AddressPoolError as err:
                which = "" if index is None else f" for NIC {index}"
                raise OpPrereqError(f"Unable to get a free IP{which} from the"
                                    f" address pool of network {net['name']}: {err}",
                                    ECODE_STATE) from err
            self.lu.log(f"Chose IP {chosen} from network {net['name']}")
            self.plan.reserve.append((net["uuid"], chosen))
            return chosen
        try:
            holder.reserve(self.lu.lock_owner, net, ip, self.conflicts_check)
        except AddressPoolError as err:
            raise OpPrereqError(f"IP address {ip} already in use or does not belong to"
                                f" network {net['name']} ({err})", ECODE_NOTUNIQUE) from err
        self.plan.reserve.append((net["uuid"], ip))
        return ip

    def release_ip(self, net_uuid: str | None, ip: str | None) -> None:
        """Give ``ip`` back to its network's pool when the change is written."""
        if net_uuid and ip:
            self.plan.release.append((net_uuid, ip))

    def check_free_ip(self, ip: str, node_uuid: str) -> None:
        """An address outside networks must not lie in a network of the node's group."""
        if not self.conflicts_check:
            return
        conflict = conflicting_network(self.cfg, ip, node_uuid)
        if conflict:
            raise OpPrereqError(f"The requested IP address ({ip}) belongs to network"
                                f" {conflict}, but the target NIC does not.", ECODE_STATE)

    def place_new_nic(self, index: int, nic: dict[str, Any], node_uuid: str) -> None:
        """A new NIC (instance create): ``nic["network"]`` (name or UUID) becomes the
        network's UUID, its parameters the group's, its ``pool`` IP an address."""
        wanted = nic.get("network")
        if is_none(wanted):
            nic["network"] = None
            if nic.get("ip") and nic["ip"] != IP_POOL:
                self.check_free_ip(nic["ip"], node_uuid)
            return
        net = lookup_network(self.cfg, str(wanted))
        nic["network"] = net["uuid"]
        node = self.cfg.get("nodes", node_uuid)
        netparams = group_netparams(self.cfg, net["uuid"], node_uuid)
        if netparams is None:
            raise OpPrereqError(f"No netparams found for network {net['name']}. Probably not"
                                f" connected to node's {node['name']} nodegroup",
                                ECODE_INVAL)
        self.lu.log(f"NIC/{index} inherits netparams {sorted(netparams.values())}")
        nic["nicparams"] = netparams
        if nic.get("ip"):
            nic["ip"] = self.take_ip(index, net, nic["ip"])

    def mac_prefix(self, net_uuid: str | None) -> str:
        """The MAC prefix for a NIC in ``net_uuid``: the network's, else the cluster's."""
        if net_uuid:
            prefix = self.cfg.get("networks", net_uuid).get("mac_prefix")
            if prefix:
                return str(prefix)
        return str(self.cfg.cluster()["mac_prefix"])


def write_ip_changes(cfg: Any, plan: IpPlan) -> None:
    """Record ``plan`` in the networks' pools; call inside the config transaction that writes
    the NICs. An address released that the pool does not hold is left alone (as Ganeti)."""
    by_net: dict[str, list[tuple[str, bool]]] = {}
    for net_uuid, ip in plan.release:
        by_net.setdefault(net_uuid, []).append((ip, False))
    for net_uuid, ip in plan.reserve:
        by_net.setdefault(net_uuid, []).append((ip, True))
    for net_uuid, changes in by_net.items():
        if net_uuid not in cfg.data.get("networks", {}):
            continue

        def change(net: dict[str, Any], changes: list[tuple[str, bool]] = changes) -> None:
            pool = AddressPool(net)
            for ip, reserve in changes:
                if reserve:
                    pool.reserve(ip)
                elif pool.contains(ip) and pool.is_reserved(ip):
                    pool.release(ip)
            pool.save()
        cfg.modify("networks", net_uuid, change)


def release_instance_ips(cfg: Any, instance: dict[str, Any]) -> None:
    """Give back the pool addresses of an instance's NICs (instance removal)."""
    plan = IpPlan(release=[(nic["network"], nic["ip"]) for nic in instance.get("nics", [])
                           if nic.get("network") and nic.get("ip")])
    if not plan.empty():
        write_ip_changes(cfg, plan)
