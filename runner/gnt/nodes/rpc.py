"""Questions to nodes (the calls declared once in :data:`gnt.nodes.agent.CALLS`): answered
in-process on the master, over SSH on other nodes (in a fork of the warm interpreter of the
node's Python, :func:`gnt.nodes.agent.warm_request`; with ``GNT_MODULE_INTERPRETER=fresh``,
``python -m gnt.nodes.agent CALL``), several nodes at once. Logical units ask nodes only
through here."""

from __future__ import annotations

import json
from typing import Any

from gnt.config.store import ConfigStore
from gnt.core import settings
from gnt.nodes import agent, relay, ssh
from gnt.nodes.nodevars import libvirt_uri, ssh_target


class NodeDown(Exception):
    """A node could not be asked (SSH, libvirt or the command failed)."""


class NodeUnreachable(NodeDown):
    """SSH itself failed: the node cannot be reached or does not accept the master's key."""


class BadAnswer(NodeDown):
    """The node's agent answered something that is not the JSON document asked for."""


class AgentMissing(NodeDown):
    """The node answered, but has no gnt installation at the master's interpreter path."""


def call_target(target: ssh.Target, name: str, **kwargs: Any) -> Any:
    """Ask node call ``name`` (:data:`gnt.nodes.agent.CALLS`) of ``target``; the decoded answer.

    Raises :class:`NodeDown` (or a subclass saying why) naming the node.
    """
    call = agent.CALLS[name]
    if target.local:
        try:
            return call.local(**kwargs)
        except Exception as err:  # libvirt's and the OS's error types
            raise NodeDown(f"{target.name}: {err}") from err
    if settings.module_interpreter() == "fresh":
        result = ssh.run(target, agent.command_line(name, **kwargs), timeout=call.timeout)
    else:
        command, script = agent.warm_request(name, **kwargs)
        result = relay.run(target, command, script, call.timeout)
    if ssh.unreachable(result):
        raise NodeUnreachable(f"{target.name}: {result.reason()}")
    if result.rc == 127:
        raise AgentMissing(f"{target.name}: {result.reason()}")
    if not result.ok:
        raise NodeDown(f"{target.name}: {result.reason()}")
    try:
        return json.loads(result.stdout)
    except ValueError as err:
        raise BadAnswer(f"{target.name}: bad answer: {result.stdout[:200]!r}") from err


def _ask(store: ConfigStore, node: dict[str, Any], name: str, **kwargs: Any) -> Any:
    """:func:`call_target` for a node of the config (its SSH address and port)."""
    return call_target(ssh_target(store, node), name, **kwargs)


def _ask_online(store: ConfigStore, node: dict[str, Any], name: str, **kwargs: Any) -> Any:
    """:func:`_ask`, but :class:`NodeDown` at once for a node marked offline."""
    if node["offline"]:
        raise NodeDown(f"{node['name']} is offline")
    return _ask(store, node, name, **kwargs)


def live_info(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any] | None:
    """Memory, CPUs, disk space and domains of ``node``; None if offline or not answering."""
    if node["offline"]:
        return None
    try:
        return live_info_or_error(store, node)
    except NodeDown:
        return None


def live_info_or_error(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`live_info`, but :class:`NodeDown` says why a node did not answer."""
    if node["offline"]:
        raise NodeDown(f"{node['name']} is offline")
    return dict(_ask(store, node, "info", uri=libvirt_uri(node),
                     storage_dir=store.cluster()["file_storage_dir"]))


def domains(store: ConfigStore, node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Domains on ``node`` (name -> state, memory_mib, ...); :class:`NodeDown` if unreachable."""
    return dict(_ask(store, node, "domains", uri=libvirt_uri(node)))


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


def verify_info_many(store: ConfigStore, nodes: list[dict[str, Any]],
                     asks: dict[str, dict[str, Any]] | None = None
                     ) -> dict[str, dict[str, Any] | str]:
    """node uuid -> what verify checks on it (:func:`gnt.nodes.agent.verify_info`), or the error
    text when the node did not answer. ``asks``: node uuid -> ``{"vgs": [...], "drbd": bool}``,
    the volume groups and whether DRBD to report on as well (none when absent)."""
    by_uuid = {node["uuid"]: node for node in nodes}
    cluster = store.cluster()
    dirs = [cluster["file_storage_dir"], cluster["shared_file_storage_dir"]]

    def one(uuid: str) -> dict[str, Any] | str:
        ask = (asks or {}).get(uuid, {})
        try:
            return dict(_ask(store, by_uuid[uuid], "verify", storage_dirs=dirs,
                             vgs=list(ask.get("vgs") or []),
                             drbd="yes" if ask.get("drbd") else ""))
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def ssh_clutter_many(store: ConfigStore, nodes: list[dict[str, Any]], node_names: list[str]
                     ) -> dict[str, dict[str, list[int]] | str]:
    """node uuid -> ``user@host`` -> line numbers, for the owners named in ``node_names`` with
    more than one key in root's ``authorized_keys`` there
    (:func:`gnt.nodes.sshclutter.multiple_keys`), or the error text of a node that did not
    answer."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> dict[str, list[int]] | str:
        try:
            answer = _ask(store, by_uuid[uuid], "ssh-clutter", node_names=node_names)
        except NodeDown as err:
            return str(err)
        return {str(owner): [int(n) for n in lines] for owner, lines in dict(answer).items()}
    return ssh.map_parallel(by_uuid, one)


def exports_many(store: ConfigStore, nodes: list[dict[str, Any]]
                 ) -> dict[str, dict[str, Any] | str]:
    """node uuid -> its exports (name -> {"complete"}), or the error text if it did not
    answer."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> dict[str, Any] | str:
        try:
            return dict(_ask(store, by_uuid[uuid], "exports"))
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def export_info(store: ConfigStore, node: dict[str, Any], path: str) -> dict[str, Any]:
    """What the export directory ``path`` on ``node`` holds (:func:`gnt.nodes.agent.export_info`);
    :class:`NodeDown` if the node cannot be asked."""
    return dict(_ask_online(store, node, "export-info", path=path))


def os_diagnose(store: ConfigStore, node: dict[str, Any],
                search_path: list[str]) -> list[dict[str, Any]]:
    """Every OS definition ``node`` itself sees in ``search_path``
    (:func:`gnt.nodes.agent.os_diagnose`); :class:`NodeDown` if the node cannot be asked."""
    return list(_ask_online(store, node, "os-diagnose", search_path=search_path)["oses"])


def ext_diagnose(store: ConfigStore, node: dict[str, Any],
                 search_path: list[str]) -> list[dict[str, Any]]:
    """Every ExtStorage provider ``node`` sees in ``search_path``
    (:func:`gnt.nodes.agent.ext_diagnose`); :class:`NodeDown` if the node cannot be asked."""
    return list(_ask_online(store, node, "ext-diagnose",
                            search_path=search_path)["providers"])


def join_check(name: str, address: str, port: int, storage_dir: str) -> dict[str, Any]:
    """What node ``name`` (not in the config yet) answers before it joins
    (:func:`gnt.nodes.agent.join_check`): its live figures and any cluster configuration it
    already has. Raises :class:`NodeDown`."""
    target = ssh.Target(name, address, False, port)
    return dict(call_target(target, "join-check", storage_dir=storage_dir))


def x509_create(store: ConfigStore, node: dict[str, Any], validity: int) -> tuple[str, str]:
    """A new per-move X509 key on ``node`` (kept there): its name and certificate PEM."""
    name, pem = _ask(store, node, "x509-create", validity=str(validity))
    return str(name), str(pem)


def x509_remove(store: ConfigStore, node: dict[str, Any], name: str) -> bool:
    """Delete the per-move X509 key ``name`` on ``node``; False if it had none."""
    return bool(_ask(store, node, "x509-remove", key_name=name))


def vg_info(store: ConfigStore, node: dict[str, Any], vg: str) -> dict[str, Any]:
    """``vg_total``/``vg_free`` (MiB) of volume group ``vg`` on ``node``, or ``vg_error``."""
    return dict(_ask(store, node, "vg-info", vg=vg))


def lv_list(store: ConfigStore, node: dict[str, Any], vgs: list[str]) -> dict[str, Any]:
    """``vg/lv`` -> ``{size_mib, active, open}`` of the LVs of ``vgs`` on ``node``."""
    return dict(_ask(store, node, "lv-list", vgs=vgs))


def drbd_status(store: ConfigStore, node: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Minor -> live status (``/proc/drbd``) of the DRBD devices configured on ``node``."""
    return {int(minor): info for minor, info in _ask(store, node, "drbd-status").items()}


def storage_many(store: ConfigStore, nodes: list[dict[str, Any]], storage_type: str,
                 path: str | None) -> dict[str, list[dict[str, Any]] | str]:
    """node uuid -> its storage units of ``storage_type`` (or why it did not answer)."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> list[dict[str, Any]] | str:
        try:
            return list(_ask(store, by_uuid[uuid], "storage-list", storage_type=storage_type,
                             path=path))
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def volumes_many(store: ConfigStore, nodes: list[dict[str, Any]]
                 ) -> dict[str, list[dict[str, Any]] | str]:
    """node uuid -> its logical volumes (or why it did not answer)."""
    by_uuid = {node["uuid"]: node for node in nodes}

    def one(uuid: str) -> list[dict[str, Any]] | str:
        try:
            return list(_ask(store, by_uuid[uuid], "volumes"))
        except NodeDown as err:
            return str(err)
    return ssh.map_parallel(by_uuid, one)


def powercycle(store: ConfigStore, node: dict[str, Any]) -> str:
    """Have ``node`` reboot itself hard in a few seconds (:mod:`gnt.nodes.powercycle`): its
    answer ("Reboot scheduled in 5 seconds"). :class:`NodeDown` for an offline node, one that
    cannot be asked, or one that runs on the master's kernel."""
    from gnt.nodes.powercycle import boot_id

    is_master = node["uuid"] == store.cluster()["master_node"]
    return str(_ask_online(store, node, "powercycle", master_boot_id=boot_id(),
                           is_master="yes" if is_master else "no"))
