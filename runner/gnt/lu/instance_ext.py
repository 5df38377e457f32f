"""The ``ext`` disk template on the coordinator side: disks checked and planned at instance
add, and the plays that attach or detach an instance's ExtStorage volumes on a node.

As Ganeti, an ext disk's ``logical_id`` is ``[provider, volume name]`` with the volume named
``<unique id>.ext.disk<N>``; its ``params`` hold ``provider`` and the ExtStorage parameters
(every key of the ``--disk`` dict that is not a standard disk key), which the node primitive
``ext_volume`` hands to the provider's scripts as ``EXTP_<NAME>`` environment variables only.
The storage is external: any node can attach a volume, so ext instances fail over and migrate
to any node (as sharedfile).
"""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import ext_search_path, ext_volume
from gnt.opcodes import params


def ext_disk_params(index: int, disk: dict[str, Any], template: str | None) -> dict[str, Any]:
    """The ``provider`` and ExtStorage parameters of disk ``index`` (empty for other
    templates); OpPrereqError when a provider is missing for ext or given for another
    template, or a parameter name cannot be an environment variable."""
    provider = disk.get("provider")
    if template != params.DT_EXT:
        if provider:
            raise OpPrereqError(f"The 'provider' option is only valid for the ext disk"
                                f" template, not {template} (disk {index})", ECODE_INVAL)
        return {}
    if not provider:
        raise OpPrereqError(f"Missing provider for template 'ext' (disk {index}:"
                            " provider=NAME)", ECODE_INVAL)
    if not _valid_provider(str(provider)):
        raise OpPrereqError(f"Invalid ExtStorage provider name '{provider}' (disk {index})",
                            ECODE_INVAL)
    ext: dict[str, str] = {}
    for key, value in disk.items():
        if key in params.IDISK_PARAMS:
            continue
        if not params.EXT_PARAM_RE.match(str(key)):
            raise OpPrereqError(f"Invalid ExtStorage parameter name '{key}' for disk {index}:"
                                " letters, digits and '_', starting with a letter",
                                ECODE_INVAL)
        ext[str(key)] = str(value)
    return {"provider": str(provider), "ext_params": ext}


def _valid_provider(name: str) -> bool:
    """A provider is a directory name: no path separators, not hidden, not empty."""
    return bool(name) and "/" not in name and not name.startswith(".") and "\0" not in name \
        and len(name) <= 128


def ext_device(disk: dict[str, Any], index: int) -> dict[str, Any]:
    """The config fields of a new ext disk: ``dev_type``, ``logical_id`` (provider, volume
    name) and ``params`` (provider and ExtStorage parameters)."""
    from gnt.config.objects import new_uuid

    return {"dev_type": params.DT_EXT, "size": disk["size"],
            "logical_id": [disk["provider"], f"{new_uuid()}.ext.disk{index}"],
            "params": {"provider": disk["provider"], **disk.get("ext_params", {})}}


def ext_volumes(store: Any, instance: dict[str, Any]) -> list[dict[str, Any]]:
    """Each ext disk of ``instance`` as the ``ext_volume`` module wants it (name, provider,
    params, size, uuid, cname)."""
    return [ext_volume(disk, instance["name"], index)
            for index, disk in enumerate(store.instance_disks(instance))
            if disk.get("dev_type") == params.DT_EXT]


def is_ext(instance: dict[str, Any]) -> bool:
    """True for an instance of the ext template."""
    return instance.get("disk_template") == params.DT_EXT


def attach_play(store: Any, instance: dict[str, Any], node: dict[str, Any],
                attached: bool) -> Play:
    """The ``instance_volumes`` play attaching (and linking) or detaching ``instance``'s ext
    volumes on ``node``."""
    return Play("instance_volumes",
                {node["name"]: {"gnt_volumes": [], "gnt_volumes_active": attached,
                                "gnt_ext_volumes": ext_volumes(store, instance),
                                "gnt_ext_search_path": ext_search_path(store)}},
                title="attach ext volumes" if attached else "detach ext volumes")


def check_providers(store: Any, node: dict[str, Any], disks: list[dict[str, Any]]) -> None:
    """Each disk's provider is on ``node``'s search path and valid, and takes the disk's
    ExtStorage parameters (OpPrereqError naming the provider or parameter otherwise)."""
    try:
        found = {p["name"]: p for p in rpc.ext_diagnose(store, node, ext_search_path(store))}
    except rpc.NodeDown as err:
        raise OpPrereqError(f"Cannot list the ExtStorage providers of node {node['name']}:"
                            f" {err}", ECODE_ENVIRON) from err
    for index, disk in enumerate(disks):
        name = disk["provider"]
        provider = found.get(name)
        if provider is None:
            raise OpPrereqError(f"ExtStorage provider '{name}' (disk {index}) not found on"
                                f" node {node['name']} (search path:"
                                f" {':'.join(ext_search_path(store))})", ECODE_NOENT)
        if not provider["valid"]:
            raise OpPrereqError(f"ExtStorage provider '{name}' on node {node['name']} is not"
                                f" valid: {provider['error']}", ECODE_ENVIRON)
        known = {str(param[0]) for param in provider["parameters"]}
        unknown = sorted(set(disk.get("ext_params", {})) - known)
        if unknown:
            raise OpPrereqError(f"ExtStorage parameter(s) {', '.join(unknown)} (disk {index})"
                                f" not supported by provider '{name}' (supported:"
                                f" {', '.join(sorted(known)) or 'none'})", ECODE_INVAL)
