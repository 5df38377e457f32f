"""Live figures of nodes for queries and LU checks: in-process on the master, over SSH
(``python -m gnt.nodes.agent``) on other nodes, several nodes at once."""

from __future__ import annotations

import json
from typing import Any

from gnt.config.store import ConfigStore
from gnt.nodes import agent, ssh
from gnt.nodes.nodevars import libvirt_uri, ssh_target


class NodeDown(Exception):
    """A node could not be asked (SSH, libvirt or the command failed)."""


def _ask(store: ConfigStore, node: dict[str, Any], action: str,
         path: str | None = None, search_path: list[str] | None = None) -> dict[str, Any]:
    cluster = store.cluster()
    storage = cluster["file_storage_dir"] if action in ("info", "verify") else None
    extra = [cluster["shared_file_storage_dir"]] if action == "verify" else []
    target = ssh_target(store, node)
    if target.local:
        try:
            if action == "exports":
                from gnt.core import settings
                return agent.list_exports(str(settings.paths().export_dir))
            if action == "export-info":
                return agent.export_info(str(path))
            if action == "info":
                return agent.live_info(libvirt_uri(node), storage)
            if action == "verify":
                return agent.verify_info([str(storage)] + extra)
            if action == "os-diagnose":
                return agent.os_diagnose(list(search_path or []))
            from gnt.core.collection import load_module_util
            return dict(load_module_util("libvirt_domain").list_domains(libvirt_uri(node)))
        except Exception as err:  # libvirt's error types
            raise NodeDown(f"{node['name']}: {err}") from err
    result = ssh.run(target, agent.command_line(action, libvirt_uri(node), storage, extra,
                                                path, search_path), timeout=30)
    if not result.ok:
        raise NodeDown(f"{node['name']}: {result.reason()}")
    try:
        return dict(json.loads(result.stdout))
    except ValueError as err:
        raise NodeDown(f"{node['name']}: bad answer: {result.stdout[:200]!r}") from err


def live_info(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any] | None:
    """Memory, CPUs, disk space and domains of ``node``; None if offline or not answering."""
    if node["offline"]:
        return None
    try:
        return _ask(store, node, "info")
    except NodeDown:
        return None


def live_info_or_error(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`live_info`, but :class:`NodeDown` says why a node did not answer."""
    if node["offline"]:
        raise NodeDown(f"{node['name']} is offline")
    return _ask(store, node, "info")


def domains(store: ConfigStore, node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Domains on ``node`` (name -> state, memory_mib, ...); :class:`NodeDown` if unreachable."""
    return _ask(store, node, "domains")


def live_info_many(store: ConfigStore, nodes: list[dict[str, Any]]
                   ) -> dict[str, dict[str, Any] | None]:
    """node uuid -> :func:`live_info`, asked in parallel."""
    by_uuid = {node["uuid"]: node for node in nodes}
    return ssh.map_parallel(by_uuid, lambda uuid: live_info(store, by_uuid[uuid]))


def domains_many(store: ConfigStore, nodes: list[dict[str, Any]]
                 ) -> dict[str, dict[str, dict[str, Any]] | None]:
    """node uuid -> its domains, or None when offline or not answering (in parallel)."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> dict[str, dict[str, Any]] | None:
        node = by_uuid[uuid]
        if node["offline"]:
            return None
        try:
            return domains(store, node)
        except NodeDown:
            return None
    return ssh.map_parallel(by_uuid, one)


def verify_info_many(store: ConfigStore, nodes: list[dict[str, Any]]
                     ) -> dict[str, dict[str, Any] | str]:
    """node uuid -> what verify checks on it (:func:`gnt.nodes.agent.verify_info`), or the error
    text when the node did not answer."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> dict[str, Any] | str:
        try:
            return _ask(store, by_uuid[uuid], "verify")
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def exports_many(store: ConfigStore, nodes: list[dict[str, Any]]
                 ) -> dict[str, dict[str, Any] | str]:
    """node uuid -> its exports (name -> {"complete"}), or the error text if it did not
    answer."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> dict[str, Any] | str:
        try:
            return _ask(store, by_uuid[uuid], "exports")
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def export_info(store: ConfigStore, node: dict[str, Any], path: str) -> dict[str, Any]:
    """What the export directory ``path`` on ``node`` holds (:func:`gnt.nodes.agent.export_info`);
    :class:`NodeDown` if the node cannot be asked."""
    if node["offline"]:
        raise NodeDown(f"{node['name']} is offline")
    return _ask(store, node, "export-info", path)


def os_diagnose(store: ConfigStore, node: dict[str, Any],
                search_path: list[str]) -> list[dict[str, Any]]:
    """Every OS definition ``node`` itself sees in ``search_path``
    (:func:`gnt.nodes.agent.os_diagnose`); :class:`NodeDown` if the node cannot be asked."""
    if node["offline"]:
        raise NodeDown(f"{node['name']} is offline")
    return list(_ask(store, node, "os-diagnose", search_path=search_path)["oses"])
