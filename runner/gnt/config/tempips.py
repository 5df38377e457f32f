"""Addresses that running jobs took from network pools but have not written yet.

Ganeti's temporary reservations: a job that gives a NIC an address (``ip=pool`` or an explicit
one) holds it here from its prerequisite checks until its opcode ends; the address reaches the
network's pool in the config write that adds the NIC. Two jobs therefore never get the same
address, although neither holds the network lock while its disks are made.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from gnt.config.ippool import AddressPool, AddressPoolError


class TemporaryIps:
    """Held addresses by (network UUID, address), each with its owner (a job id)."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def held(self, net_uuid: str) -> set[str]:
        """The addresses of network ``net_uuid`` that jobs hold."""
        with self._lock:
            return {ip for (net, ip) in self._held if net == net_uuid}

    def reserve(self, owner: Any, net: dict[str, Any], address: str,
                check_external: bool) -> None:
        """Hold ``address`` of ``net`` for ``owner``; AddressPoolError when an instance (or
        another job) has it, or, with ``check_external``, when it is reserved externally."""
        pool = AddressPool(net)
        if not pool.contains(address):
            raise AddressPoolError(f"{address} is not in network {net['network']}")
        with self._lock:
            key = (str(net["uuid"]), address)
            if pool.is_reserved(address) or key in self._held:
                raise AddressPoolError("IP address already in use")
            if check_external and pool.is_reserved(address, external=True):
                raise AddressPoolError("IP is externally reserved")
            self._held[key] = owner

    def generate(self, owner: Any, net: dict[str, Any]) -> str:
        """Hold and return the first address of ``net`` that nothing uses or holds."""
        with self._lock:
            scratch = copy.deepcopy(net)
            pool = AddressPool(scratch)
            for (net_uuid, address) in self._held:
                if net_uuid == net["uuid"] and not pool.is_reserved(address):
                    pool.reserve(address)
            address = pool.generate_free()
            self._held[(str(net["uuid"]), address)] = owner
            return address

    def drop(self, owner: Any) -> None:
        """Forget what ``owner`` holds (its change was written, or it failed)."""
        with self._lock:
            for key in [key for key, held_by in self._held.items() if held_by == owner]:
                del self._held[key]
