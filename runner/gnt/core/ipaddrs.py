"""IP address and network parsing shared by the opcodes (validation before queueing) and the
address pool of networks (:mod:`gnt.config.ippool`): one place decides what is a valid IPv4 /
IPv6 address or network, and says so in one wording."""

from __future__ import annotations

from typing import Any

import netaddr


class InvalidAddress(ValueError):
    """Not a valid address or network of the kind asked for; the text names the value."""


def parse_ipv4_network(value: Any) -> netaddr.IPNetwork:
    """Parse ``value`` as an IPv4 network in CIDR form (host bits must be zero)."""
    if not isinstance(value, str):
        raise InvalidAddress(f"Invalid IPv4 network {value!r}: not a string")
    try:
        net = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidAddress(f"Invalid IPv4 network '{value}'") from None
    if net.version != 4:
        raise InvalidAddress(f"Invalid IPv4 network '{value}': not an IPv4 network")
    if net.ip != net.network:
        raise InvalidAddress(f"Invalid IPv4 network '{value}': host bits are set"
                             f" (the network is {net.cidr})")
    return net


def parse_ipv4_address(value: Any) -> netaddr.IPAddress:
    """Parse ``value`` as one IPv4 address (dotted quad)."""
    if not isinstance(value, str):
        raise InvalidAddress(f"Invalid IPv4 address {value!r}: not a string")
    try:
        addr = netaddr.IPAddress(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidAddress(f"Invalid IPv4 address '{value}'") from None
    if addr.version != 4:
        raise InvalidAddress(f"Invalid IPv4 address '{value}': not an IPv4 address")
    return addr


def parse_ipv6_network(value: Any) -> netaddr.IPNetwork:
    """Parse ``value`` as an IPv6 network in CIDR form."""
    try:
        net = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidAddress(f"Invalid IPv6 network '{value}'") from None
    if net.version != 6:
        raise InvalidAddress(f"Invalid IPv6 network '{value}': not an IPv6 network")
    return net


def parse_ipv6_address(value: Any) -> netaddr.IPAddress:
    """Parse ``value`` as one IPv6 address."""
    try:
        addr = netaddr.IPAddress(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidAddress(f"Invalid IPv6 address '{value}'") from None
    if addr.version != 6:
        raise InvalidAddress(f"Invalid IPv6 address '{value}': not an IPv6 address")
    return addr


def is_ipv4_address(value: Any) -> bool:
    """Whether ``value`` is one IPv4 address (dotted quad)."""
    try:
        parse_ipv4_address(value)
    except InvalidAddress:
        return False
    return True
