"""Read-only questions to a node that LUs ask before changing anything (OS lookup, memory).

On the master node they are answered in-process through the collection's module_utils (fast,
no playbook); other nodes answer themselves over SSH (:mod:`gnt.nodes.rpc`), so an OS check or
an OS list is what that node has, not what the master has.
"""

from __future__ import annotations

from typing import Any

from gnt.config.store import ConfigStore
from gnt.core.collection import load_module_util
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, ECODE_NORES, OpPrereqError
from gnt.nodes import rpc
from gnt.nodes.nodevars import node_vars
from gnt.nodes.rpc import live_info as node_live_info


def _is_master(store: ConfigStore, node: dict[str, Any]) -> bool:
    return node["uuid"] == store.cluster()["master_node"]


def os_diagnose(store: ConfigStore, node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every OS definition ``node`` sees, with validity (see ``os_interface.diagnose``);
    :class:`gnt.nodes.rpc.NodeDown` if the node cannot be asked."""
    return rpc.os_diagnose(store, node, node_vars(store, node)["os_search_path"])


def check_os(store: ConfigStore, node: dict[str, Any], os_name: str,
             osparams: dict[str, Any]) -> dict[str, Any]:
    """The OS definition ``os_name`` (``name+variant``) on ``node`` as that node has it,
    checked; else an error naming the node."""
    osi = load_module_util("os_interface")
    name, variant = osi.split_os_name(os_name)
    if not name or "/" in name or name.startswith("."):
        raise OpPrereqError(f"Invalid OS name '{os_name}'", ECODE_INVAL)
    try:
        found = {osdef["name"]: osdef for osdef in os_diagnose(store, node)}
    except rpc.NodeDown as err:
        raise OpPrereqError(f"Cannot check OS '{os_name}' on node {node['name']}: {err}",
                            ECODE_ENVIRON) from err
    osdef = found.get(name)
    if osdef is None:
        raise OpPrereqError(f"OS '{os_name}' not known on node {node['name']}: not found in"
                            " its OS search path (gnt-os list shows the valid ones)",
                            ECODE_INVAL)
    if not osdef["valid"]:
        raise OpPrereqError(f"OS '{os_name}' is not valid on node {node['name']}:"
                            f" {osdef['error']}", ECODE_ENVIRON)
    try:
        osi.check_variant_and_params(osdef, variant, osparams)
    except osi.OSDefinitionError as err:
        raise OpPrereqError(str(err), ECODE_INVAL) from err
    return dict(osdef)


def free_memory(store: ConfigStore, node: dict[str, Any]) -> int:
    """Free memory (MiB) of the node's hypervisor; an error if it cannot be asked."""
    info = node_live_info(store, node)
    if info is None or info.get("mfree") is None:
        raise OpPrereqError(f"Cannot get free memory of node {node['name']}: its hypervisor"
                            " did not answer", ECODE_ENVIRON)
    return int(info["mfree"])


def start_memory(store: ConfigStore, node: dict[str, Any], minmem: int, maxmem: int,
                 instance_name: str) -> int:
    """Memory to start an instance with: maxmem if free, else all free memory down to minmem."""
    return memory_to_start(node, free_memory(store, node), minmem, maxmem, instance_name)


def memory_to_start(node: dict[str, Any], free: int | None, minmem: int, maxmem: int,
                    instance_name: str) -> int:
    """:func:`start_memory` given the node's free memory (MiB; None: not known)."""
    if free is None:
        raise OpPrereqError(f"Cannot get free memory of node {node['name']}: its hypervisor"
                            " did not answer", ECODE_ENVIRON)
    free = int(free)
    if free >= maxmem:
        return maxmem
    if free >= minmem:
        return free
    raise OpPrereqError(f"Not enough memory on node {node['name']} to start instance"
                        f" {instance_name}: needed at least {minmem} MiB (minmem), free"
                        f" {free} MiB", ECODE_NORES)
