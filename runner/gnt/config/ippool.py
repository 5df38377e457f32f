"""The IPv4 address pool of a network (gnt-network), kept in the config network dict.

A network's pool is two bitmaps of the same length, one character per address of the network
(``'0'`` free, ``'1'`` reserved), stored as strings in the config network dict:

``reservations``
    addresses held by instance NICs;
``ext_reservations``
    addresses reserved outside Ganeti: the network and broadcast addresses, the gateway and what
    the operator reserved with ``--add-reserved-ips``.

As in Ganeti, only IPv4 networks between a /16 and a /30 have a pool; IPv6 data (``network6``,
``gateway6``) is checked for form only and otherwise just carried along.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import netaddr

from gnt.core import ipaddrs

# Prefix lengths a pool may have (Ganeti: the smallest network is a /30, the biggest a /16).
MIN_PREFIXLEN = 16
MAX_PREFIXLEN = 30

_FREE = 0
_RESERVED = 1


class AddressPoolError(ValueError):
    """A pool operation or a network's addresses are not acceptable; the text says why."""


def _parsed(parse: Callable[[Any], Any], value: Any) -> Any:
    try:
        return parse(value)
    except ipaddrs.InvalidAddress as err:
        raise AddressPoolError(str(err)) from None


def _bitmap(text: Any, size: int, field: str, name: str) -> bytearray:
    if not text:
        return bytearray(size)
    if not isinstance(text, str) or len(text) != size or set(text) - {"0", "1"}:
        raise AddressPoolError(f"Network '{name}': '{field}' must be {size} characters of"
                               " '0' and '1'")
    return bytearray(_RESERVED if char == "1" else _FREE for char in text)


class AddressPool:
    """The address pool of one config network dict; :meth:`save` writes it back."""

    def __init__(self, net: dict) -> None:
        self.net = net
        self.network = _parsed(ipaddrs.parse_ipv4_network, net.get("network"))
        size = self.network.size
        if self.network.prefixlen < MIN_PREFIXLEN:
            raise AddressPoolError(
                f"A network with {size} addresses ({self.network}) is too big;"
                f" the biggest network supported is a /{MIN_PREFIXLEN}")
        if self.network.prefixlen > MAX_PREFIXLEN:
            raise AddressPoolError(
                f"A network with {size} address(es) ({self.network}) is too small;"
                f" the smallest network supported is a /{MAX_PREFIXLEN}")
        self.gateway: netaddr.IPAddress | None = None
        if net.get("gateway"):
            self.gateway = _parsed(ipaddrs.parse_ipv4_address, net["gateway"])
            if self.gateway not in self.network:
                raise AddressPoolError(
                    f"Gateway {self.gateway} is not inside the network {self.network}")
        self.network6: netaddr.IPNetwork | None = None
        self.gateway6: netaddr.IPAddress | None = None
        if net.get("network6"):
            self.network6 = _parsed(ipaddrs.parse_ipv6_network, net["network6"])
        if net.get("gateway6"):
            self.gateway6 = _parsed(ipaddrs.parse_ipv6_address, net["gateway6"])
            if (self.network6 is not None and self.gateway6 not in self.network6
                    and not self.gateway6.is_link_local()):
                raise AddressPoolError(
                    f"IPv6 gateway {self.gateway6} is not inside the network {self.network6}")
        label = str(net.get("name") or self.network)
        self._inst = _bitmap(net.get("reservations"), size, "reservations", label)
        self._ext = _bitmap(net.get("ext_reservations"), size, "ext_reservations", label)

    @classmethod
    def initialize(cls, net: dict) -> AddressPool:
        """A fresh pool for ``net``: network, broadcast and gateway addresses reserved externally.

        The bitmaps already in ``net`` are discarded; the new ones are written back.
        """
        net["reservations"] = None
        net["ext_reservations"] = None
        pool = cls(net)
        pool.reserve(str(pool.network.network), external=True)
        pool.reserve(str(pool.network.broadcast), external=True)
        if pool.gateway is not None and not pool.is_reserved(str(pool.gateway), external=True):
            pool.reserve(str(pool.gateway), external=True)
        pool.save()
        return pool

    # --- addresses -----------------------------------------------------------------------

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` (an IPv4 address; anything else is not contained) is in the network."""
        if not ip:
            return False
        try:
            addr = netaddr.IPAddress(ip)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            return False
        return addr.version == 4 and addr in self.network

    def _index(self, ip: str) -> int:
        addr = _parsed(ipaddrs.parse_ipv4_address, ip)
        if addr not in self.network:
            raise AddressPoolError(f"IP {ip} is not inside the network {self.network}")
        return int(addr) - int(self.network.network)

    def _address(self, index: int) -> str:
        return str(netaddr.IPAddress(int(self.network.network) + index))

    def _bits(self, external: bool) -> bytearray:
        return self._ext if external else self._inst

    def is_reserved(self, ip: str, external: bool = False) -> bool:
        """Whether ``ip`` is reserved, externally or by an instance (``external``)."""
        return self._bits(external)[self._index(ip)] == _RESERVED

    def reserve(self, ip: str, external: bool = False) -> None:
        """Reserve ``ip`` (for an instance NIC, or externally)."""
        index = self._index(ip)
        bits = self._bits(external)
        if bits[index] == _RESERVED:
            if external:
                raise AddressPoolError(f"IP {ip} is already externally reserved")
            raise AddressPoolError(f"IP {ip} is already used by an instance")
        bits[index] = _RESERVED

    def release(self, ip: str, external: bool = False) -> None:
        """Release the reservation of ``ip`` (of an instance NIC, or external)."""
        index = self._index(ip)
        bits = self._bits(external)
        if bits[index] != _RESERVED:
            if external:
                raise AddressPoolError(f"IP {ip} is not externally reserved")
            raise AddressPoolError(f"IP {ip} is not used by an instance")
        bits[index] = _FREE

    def _all(self) -> list[int]:
        return [a | b for a, b in zip(self._inst, self._ext)]

    def generate_free(self) -> str:
        """The first address neither kind of reservation holds (not reserved by this call)."""
        for index, (inst, ext) in enumerate(zip(self._inst, self._ext)):
            if not inst and not ext:
                return self._address(index)
        raise AddressPoolError(f"Network {self.network} is full")

    def free_count(self) -> int:
        """How many addresses neither kind of reservation holds."""
        return self._all().count(_FREE)

    def reserved_count(self) -> int:
        """How many addresses either kind of reservation holds."""
        return self._all().count(_RESERVED)

    def map(self) -> str:
        """One character per address: ``X`` reserved (either kind), ``.`` free."""
        return "".join("X" if bit else "." for bit in self._all())

    def external_reservations(self) -> list[str]:
        """The externally reserved addresses, in address order."""
        return [self._address(i) for i, bit in enumerate(self._ext) if bit]

    def instance_reservations(self) -> list[str]:
        """The addresses held by instance NICs, in address order."""
        return [self._address(i) for i, bit in enumerate(self._inst) if bit]

    def save(self) -> None:
        """Write both bitmaps back into the network dict."""
        self.net["reservations"] = "".join("1" if bit else "0" for bit in self._inst)
        self.net["ext_reservations"] = "".join("1" if bit else "0" for bit in self._ext)
