"""Live state of instances, read from the nodes' hypervisors directly (no playbook run)."""

from __future__ import annotations

from typing import Any

from ._collection import load_module_util
from .config.store import ConfigStore
from .nodevars import libvirt_uri


class NodeDown(Exception):
    """A node's hypervisor could not be asked."""


def node_domains(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Domains on ``node``: name -> {state, memory_mib, maxmem_mib, vcpus, id}."""
    libvirt_domain = load_module_util("libvirt_domain")
    try:
        return dict(libvirt_domain.list_domains(libvirt_uri(node)))
    except Exception as err:  # libvirt raises its own error types
        raise NodeDown(f"{node['name']}: {err}") from err


def domains_by_node(store: ConfigStore, node_uuids: set[str]
                    ) -> dict[str, dict[str, dict[str, Any]] | None]:
    """node uuid -> its domains, or None when the node is offline or did not answer."""
    result: dict[str, dict[str, dict[str, Any]] | None] = {}
    for uuid in node_uuids:
        node = store.get("nodes", uuid)
        if node["offline"]:
            result[uuid] = None
            continue
        try:
            result[uuid] = node_domains(node)
        except NodeDown:
            result[uuid] = None
    return result


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
