"""Opcode definitions for networks (gnt-network).

Parameter names follow Ganeti's network opcodes (and so its RAPI bodies): ``network_name``,
``network``, ``gateway``, ``network6``, ``gateway6``, ``mac_prefix``, ``add_reserved_ips``,
``remove_reserved_ips``, ``conflicts_check``, ``group_name``, ``network_mode``,
``network_link``, ``network_vlan``, ``force``. Ganeti 3.0 has no OP_NETWORK_RENAME (3.1 added
it), so it is not defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gnt.core import ipaddrs
from gnt.opcodes import base as _op
from gnt.opcodes.params import NIC_MODES

# The value that unsets an optional network field in OP_NETWORK_SET_PARAMS (Ganeti's "none").
VALUE_NONE = "none"

P, R = _op.P, _op.R
_NAME = _op.t_name


def _parses(parse: Callable[[Any], Any], description: str, unset: bool = False) -> _op.Check:
    """None (or with ``unset`` the word ``none``) or a value ``parse`` accepts."""
    def check(v: Any) -> bool:
        if v is None or (unset and v == VALUE_NONE):
            return True
        try:
            parse(v)
        except ipaddrs.InvalidAddress:
            return False
        return True
    check.__name__ = description + (f" or '{VALUE_NONE}'" if unset else "")
    return check


def t_ipv4_address_list(v: Any) -> bool:
    """None or a list of IPv4 addresses."""
    return v is None or (isinstance(v, list) and all(ipaddrs.is_ipv4_address(ip) for ip in v))


t_ipv4_address_list.__name__ = "a list of IPv4 addresses"


def t_mac_prefix_or_none(v: Any) -> bool:
    """A MAC prefix, or ``none`` to unset it."""
    return v == VALUE_NONE or _op.t_mac_prefix(v)


t_mac_prefix_or_none.__name__ = f"a MAC prefix of three octets (aa:00:00) or '{VALUE_NONE}'"

_NET4 = _parses(ipaddrs.parse_ipv4_network, "an IPv4 network in CIDR form (198.18.5.0/24)")
_ADDR4 = _parses(ipaddrs.parse_ipv4_address, "an IPv4 address")
_NET6 = _parses(ipaddrs.parse_ipv6_network, "an IPv6 network in CIDR form")
_ADDR6 = _parses(ipaddrs.parse_ipv6_address, "an IPv6 address")


DEFS: list[_op.OpDef] = [
    _op.OpDef("OP_NETWORK_ADD", (
        R("network_name", _NAME), R("network", _NET4),
        P("gateway", _ADDR4, None), P("network6", _NET6, None), P("gateway6", _ADDR6, None),
        P("mac_prefix", _op.t_mac_prefix, None),
        P("add_reserved_ips", t_ipv4_address_list, None),
        P("conflicts_check", _op.t_bool, True), P("tags", _op.t_list_of_str, [])),
        summary="network_name", doc="Add an IP network (with its address pool)."),
    _op.OpDef("OP_NETWORK_REMOVE", (R("network_name", _NAME), P("force", _op.t_bool, False)),
              summary="network_name",
              doc="Remove a network connected to no node group and used by no instance."),
    _op.OpDef("OP_NETWORK_SET_PARAMS", (
        R("network_name", _NAME),
        P("gateway", _parses(ipaddrs.parse_ipv4_address, "an IPv4 address", unset=True), None),
        P("network6", _parses(ipaddrs.parse_ipv6_network, "an IPv6 network in CIDR form",
                              unset=True), None),
        P("gateway6", _parses(ipaddrs.parse_ipv6_address, "an IPv6 address", unset=True), None),
        P("mac_prefix", t_mac_prefix_or_none, None),
        P("add_reserved_ips", t_ipv4_address_list, None),
        P("remove_reserved_ips", t_ipv4_address_list, None)),
        summary="network_name", doc="Change a network's gateway, IPv6 data, MAC prefix or"
        " external reservations."),
    _op.OpDef("OP_NETWORK_CONNECT", (
        R("group_name", _NAME), R("network_name", _NAME),
        R("network_mode", _op.t_one_of(*NIC_MODES)), R("network_link", _NAME),
        P("network_vlan", _op.t_str, ""), P("conflicts_check", _op.t_bool, True)),
        summary="network_name",
        doc="Connect a network to a node group with the NIC mode, link and vlan it has there."),
    _op.OpDef("OP_NETWORK_DISCONNECT", (R("group_name", _NAME), R("network_name", _NAME)),
              summary="network_name", doc="Disconnect a network from a node group."),
]
