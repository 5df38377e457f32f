"""IP address and network parsing shared by the opcodes (validation before queueing) and the
address pool of networks (:mod:`gnt.config.ippool`): one place decides what is a valid IPv4 /
IPv6 address or network, and says so in one wording."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first parsing: every gnt-* command loads the opcodes
    import netaddr


class InvalidAddress(ValueError):
    """Not a valid address or network of the kind asked for; the text names the value."""


def _parse(value: Any, version: int, kind: str) -> Any:
    """netaddr's IPNetwork (``kind`` "network") or IPAddress of ``value`` if it is a string
    giving an IPv``version`` ``kind``; else :class:`InvalidAddress` naming the value."""
    import netaddr

    what = f"IPv{version} {kind}"
    if not isinstance(value, str):
        raise InvalidAddress(f"Invalid {what} {value!r}: not a string")
    make = netaddr.IPNetwork if kind == "network" else netaddr.IPAddress
    try:
        parsed = make(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidAddress(f"Invalid {what} '{value}'") from None
    if parsed.version != version:
        raise InvalidAddress(f"Invalid {what} '{value}': not an {what}")
    return parsed


def parse_ipv4_network(value: Any) -> netaddr.IPNetwork:
    """Parse ``value`` as an IPv4 network in CIDR form (host bits must be zero)."""
    net = _parse(value, 4, "network")
    if net.ip != net.network:
        raise InvalidAddress(f"Invalid IPv4 network '{value}': host bits are set"
                             f" (the network is {net.cidr})")
    return net


def parse_ipv4_address(value: Any) -> netaddr.IPAddress:
    """Parse ``value`` as one IPv4 address (dotted quad)."""
    return _parse(value, 4, "address")


def parse_ipv6_network(value: Any) -> netaddr.IPNetwork:
    """Parse ``value`` as an IPv6 network in CIDR form."""
    return _parse(value, 6, "network")


def parse_ipv6_address(value: Any) -> netaddr.IPAddress:
    """Parse ``value`` as one IPv6 address."""
    return _parse(value, 6, "address")


def is_ipv4_address(value: Any) -> bool:
    """Whether ``value`` is one IPv4 address (dotted quad)."""
    try:
        parse_ipv4_address(value)
    except InvalidAddress:
        return False
    return True
