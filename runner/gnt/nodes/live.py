"""Live state of instances, read from the nodes' hypervisors directly (no playbook run)."""

from __future__ import annotations

from typing import Any

from gnt.config.store import ConfigStore
from gnt.nodes import rpc, ssh

NodeDown = rpc.NodeDown


def node_domains(store: ConfigStore, node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Domains on ``node``: name -> {state, memory_mib, maxmem_mib, vcpus, id}."""
    return rpc.domains(store, node)


def node_state(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any]:
    """The live figures of ``node`` with its domains (``domains``) and free memory
    (``mfree``): what a start asks (does the instance run, is there memory for it) in one
    node call, one SSH round trip on a node other than the master."""
    return rpc.live_info_or_error(store, node)


def domains_by_node(store: ConfigStore, node_uuids: set[str]
                    ) -> dict[str, dict[str, dict[str, Any]] | None]:
    """node uuid -> its domains, or None when the node is offline or did not answer (all nodes
    asked at once)."""
    def one(uuid: str) -> dict[str, dict[str, Any]] | None:
        node = store.get("nodes", uuid)
        if node["offline"]:
            return None
        try:
            return node_domains(store, node)
        except NodeDown:
            return None
    return ssh.map_parallel(sorted(node_uuids), one)


def instance_status(instance: dict[str, Any], node: dict[str, Any],
                    domains: dict[str, dict[str, Any]] | None) -> str:
    """Ganeti's combined ``status`` field from admin state and what the node reports."""
    if instance["admin_state"] == "offline":
        return "ADMIN_offline"
    if node["offline"]:
        return "ERROR_nodeoffline"
    if domains is None:
        return "ERROR_nodedown"
    dom = domains.get(instance["name"])
    running = dom is not None and dom["state"] in ("running", "paused", "blocked")
    if running:
        return "running" if instance["admin_state"] == "up" else "ERROR_up"
    if instance["admin_state"] == "up":
        return "ERROR_down"
    if instance.get("admin_state_source") == "user":
        return "USER_down"
    return "ADMIN_down"
