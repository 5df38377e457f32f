"""Validation of ``config.data`` on load: a clear error naming the bad key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnt.core.errors import ConfigError

TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "serial_no": int,
    "ctime": (int, float),
    "mtime": (int, float),
    "cluster": dict,
    "nodes": dict,
    "instances": dict,
    "nodegroups": dict,
    "networks": dict,
    "disks": dict,
}
COMMON: dict[str, type | tuple[type, ...]] = {
    "uuid": str, "serial_no": int, "ctime": (int, float), "mtime": (int, float),
}
OBJECTS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "cluster": {
        "cluster_name": str, "master_node": str, "master_ip": str, "master_netdev": str,
        "enabled_hypervisors": list, "enabled_disk_templates": list, "hvparams": dict,
        "beparams": dict, "nicparams": dict, "ndparams": dict, "osparams": dict, "tags": list,
        "candidate_pool_size": int, "file_storage_dir": str, "shared_file_storage_dir": str,
        "mac_prefix": str,
    },
    "nodes": {
        "name": str, "primary_ip": str, "secondary_ip": str, "master_candidate": bool,
        "offline": bool, "drained": bool, "master_capable": bool, "vm_capable": bool,
        "group": str, "ndparams": dict, "tags": list,
    },
    "instances": {
        "name": str, "primary_node": str, "os": str, "hypervisor": str, "hvparams": dict,
        "beparams": dict, "osparams": dict, "admin_state": str, "disk_template": str,
        "disks": list, "nics": list, "tags": list,
    },
    "disks": {"dev_type": str, "logical_id": list, "size": int, "mode": str, "iv_name": str},
    "nodegroups": {"name": str, "ndparams": dict, "tags": list},
    "networks": {"name": str, "network": str, "tags": list},
}
# Fields an older config.data may lack, with the value that stands for them then (readers use
# ``obj.get(field, default)``); checked as lists of strings when present.
OPTIONAL_LISTS: dict[str, dict[str, list[str]]] = {
    # the node's SSH host public keys ("keytype base64"), see gnt.nodes.knownhosts
    "nodes": {"ssh_host_keys": []},
}
# Fields of gnt-network's objects an older config.data may lack: a network's optional strings
# (None when unset; the two pool bitmaps, see gnt.config.ippool) and a node group's connections
# (``nodegroups/<uuid>/networks``: network uuid -> its nicparams mode/link/vlan).
OPTIONAL_STRINGS: dict[str, tuple[str, ...]] = {
    "networks": ("gateway", "network6", "gateway6", "mac_prefix", "reservations",
                 "ext_reservations"),
}
OPTIONAL_DICTS: dict[str, tuple[str, ...]] = {"nodegroups": ("networks",)}
# Booleans an older config.data may lack: an instance's ``disks_active`` (missing reads as its
# admin state being up, see gnt.config.objects.disks_active).
OPTIONAL_BOOLS: dict[str, tuple[str, ...]] = {"instances": ("disks_active",)}
ADMIN_STATES = ("up", "down", "offline")


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__


def _check_fields(where: str, obj: Any, fields: Mapping[str, type | tuple[type, ...]]) -> None:
    if not isinstance(obj, dict):
        raise ConfigError(f"config.data: '{where}' must be an object, found {type(obj).__name__}")
    for key, expected in fields.items():
        if key not in obj:
            raise ConfigError(f"config.data: '{where}/{key}' is missing")
        value = obj[key]
        if isinstance(value, bool) and expected in (int, (int, float)):
            raise ConfigError(f"config.data: '{where}/{key}' must be {_type_name(expected)}")
        if not isinstance(value, expected):
            raise ConfigError(
                f"config.data: '{where}/{key}' must be {_type_name(expected)},"
                f" found {type(value).__name__} {value!r:.60}")


def _check_optional_lists(where: str, obj: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key in fields:
        if key not in obj:
            continue
        value = obj[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"config.data: '{where}/{key}' must be a list of strings,"
                              f" found {value!r:.60}")


def _check_optional_types(where: str, obj: dict[str, Any], kind: str) -> None:
    for key in OPTIONAL_STRINGS.get(kind, ()):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ConfigError(f"config.data: '{where}/{key}' must be a string or null,"
                              f" found {obj[key]!r:.60}")
    for key in OPTIONAL_BOOLS.get(kind, ()):
        if key in obj and not isinstance(obj[key], bool):
            raise ConfigError(f"config.data: '{where}/{key}' must be a boolean,"
                              f" found {obj[key]!r:.60}")
    for key in OPTIONAL_DICTS.get(kind, ()):
        value = obj.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"config.data: '{where}/{key}' must be an object of objects,"
                              f" found {value!r:.60}")


# Job filter rules (``filters``, absent in older configs): Ganeti's fields, no serial/times.
FILTER_RULE: dict[str, type | tuple[type, ...]] = {
    "uuid": str, "watermark": int, "priority": int, "predicates": list,
    "action": (str, list), "reason_trail": list,
}


def _check_filters(data: dict[str, Any]) -> None:
    filters = data.get("filters", {})
    if not isinstance(filters, dict):
        raise ConfigError("config.data: 'filters' must be an object")
    for uuid, rule in filters.items():
        _check_fields(f"filters/{uuid}", rule, FILTER_RULE)
        if rule["uuid"] != uuid:
            raise ConfigError(f"config.data: 'filters/{uuid}/uuid' is {rule['uuid']!r},"
                              " not its key")


def validate(data: Any) -> None:
    """Raise :class:`ConfigError` naming the first bad key of ``data``."""
    _check_fields("", data, TOP_LEVEL)
    _check_filters(data)
    _check_fields("cluster", data["cluster"], {**COMMON, **OBJECTS["cluster"]})
    for kind in ("nodes", "instances", "disks", "nodegroups", "networks"):
        for uuid, obj in data[kind].items():
            where = f"{kind}/{uuid}"
            _check_fields(where, obj, {**COMMON, **OBJECTS[kind]})
            if obj["uuid"] != uuid:
                raise ConfigError(f"config.data: '{where}/uuid' is {obj['uuid']!r}, not its key")
            _check_optional_lists(where, obj, OPTIONAL_LISTS.get(kind, {}))
            _check_optional_types(where, obj, kind)
    nodes, disks, groups = data["nodes"], data["disks"], data["nodegroups"]
    if data["cluster"]["master_node"] not in nodes:
        raise ConfigError("config.data: 'cluster/master_node' names no node"
                          f" ({data['cluster']['master_node']!r})")
    for uuid, node in nodes.items():
        if node["group"] not in groups:
            raise ConfigError(f"config.data: 'nodes/{uuid}/group' names no node group"
                              f" ({node['group']!r})")
    for uuid, inst in data["instances"].items():
        where = f"instances/{uuid}"
        if inst["primary_node"] not in nodes:
            raise ConfigError(f"config.data: '{where}/primary_node' names no node"
                              f" ({inst['primary_node']!r})")
        if inst["admin_state"] not in ADMIN_STATES:
            raise ConfigError(f"config.data: '{where}/admin_state' is {inst['admin_state']!r},"
                              f" not one of {', '.join(ADMIN_STATES)}")
        for disk_uuid in inst["disks"]:
            if disk_uuid not in disks:
                raise ConfigError(f"config.data: '{where}/disks' names no disk ({disk_uuid!r})")
        for idx, nic in enumerate(inst["nics"]):
            _check_fields(f"{where}/nics/{idx}", nic, {"uuid": str, "mac": str, "nicparams": dict})
