"""Opcode parameter types and the cluster, instance, OS, tag and test opcode definitions.

Parameter names follow Ganeti's opcodes (and so its RAPI bodies): ``instance_name``,
``os_type``, ``pnode``, ``disk_template``, ``disks``, ``nics``, ``beparams`` ...
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any, NamedTuple

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes.params import (
    COMPRESSIONS,
    check_beparams,
    check_diskparams,
    check_hvparams,
    check_ipolicy,
    check_mac_prefix,
    check_ndparams,
    check_nicparams,
)
from gnt.opcodes.verify_codes import t_verify_codes, t_verify_skip_checks

Check = Callable[[Any], bool]


def t_str(v: Any) -> bool:
    return isinstance(v, str)


def t_name(v: Any) -> bool:
    """A name: non-empty, without whitespace or control characters."""
    return isinstance(v, str) and bool(v) and not any(
        char.isspace() or unicodedata.category(char)[0] == "C" for char in v)


t_name.__name__ = "a name without whitespace or control characters"

# Ganeti's host name rule for instance and node names: letters, digits, '.', '-' and '_',
# at most 255 characters, no empty label ('..' or a leading '.').
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


def t_hostname(v: Any) -> bool:
    """A name valid as a host name (instances and nodes are named like hosts)."""
    return isinstance(v, str) and bool(_HOSTNAME_RE.match(v)) and ".." not in v \
        and not v.startswith(".")


t_hostname.__name__ = ("a host name: letters, digits, '.', '-' and '_' only, not starting"
                       " with '.'")


def t_params_of(check: Callable[..., Any], allow_default: bool = False) -> Check:
    """A parameter dict valid for ``check`` (e.g. :func:`gnt.opcodes.params.check_beparams`); the
    check's own error, which names the key and the value, is raised as is."""
    def checked(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        check(v, allow_default=allow_default)
        return True
    checked.__name__ = "a parameter dict"
    return checked


def t_ipolicy(group: bool = False, allow_default: bool = False) -> Check:
    """An instance policy dict valid for :func:`gnt.opcodes.params.check_ipolicy` (a node
    group's: no ``std``; ``allow_default``: ``default`` drops a group's own value)."""
    def checked(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        check_ipolicy(v, allow_default=allow_default, group=group)
        return True
    checked.__name__ = "an instance policy dict"
    return checked


def t_hvparams_by_hv(v: Any) -> bool:
    """``{hypervisor: {param: value}}`` with known hypervisors and valid values."""
    if not isinstance(v, dict) or not all(isinstance(item, dict) for item in v.values()):
        return False
    for hypervisor, values in v.items():
        check_hvparams(hypervisor, values, allow_default=True)
    return True


t_hvparams_by_hv.__name__ = "a dict of hypervisor parameter dicts by hypervisor"


def t_diskparams(v: Any) -> bool:
    """``{template: {param: value}}`` with known templates, parameters and valid values."""
    if not isinstance(v, dict):
        return False
    check_diskparams(v, allow_default=True)
    return True


t_diskparams.__name__ = "a dict of disk parameter dicts by disk template"


def t_mac_prefix(v: Any) -> bool:
    """None or a MAC prefix of three hexadecimal octets (``aa:00:00``)."""
    if v is None:
        return True
    if not isinstance(v, str):
        return False
    check_mac_prefix(v)
    return True


def t_maybe_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def t_bool(v: Any) -> bool:
    return isinstance(v, bool)


def t_maybe_bool(v: Any) -> bool:
    return v is None or isinstance(v, bool)


def t_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def t_maybe_int(v: Any) -> bool:
    return v is None or t_int(v)


def t_nonneg(v: Any) -> bool:
    return (t_int(v) or isinstance(v, float)) and v >= 0


def t_dict(v: Any) -> bool:
    return isinstance(v, dict)


def t_list(v: Any) -> bool:
    return isinstance(v, list)


def t_maybe_list(v: Any) -> bool:
    return v is None or isinstance(v, list)


def t_list_of_dicts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(item, dict) for item in v)


def t_maybe_list_of_dicts(v: Any) -> bool:
    return v is None or t_list_of_dicts(v)


def t_set_params_mods(v: Any) -> bool:
    """Ganeti's NIC/disk modifications: ``[action, identifier, params]`` items, or the
    older ``[action-or-index, params]`` ones."""
    return isinstance(v, list) and all(
        isinstance(item, (list, tuple)) and len(item) in (2, 3) and isinstance(item[-1], dict)
        for item in v)


def t_list_of_str(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(item, str) for item in v)


def t_one_of(*choices: Any) -> Check:
    def check(v: Any) -> bool:
        return v in choices
    check.__name__ = f"one of {', '.join(map(str, choices))}"
    setattr(check, "choices", choices)   # noqa: B010 - read by the RAPI's OpenAPI schema
    return check


class P(NamedTuple):
    """One opcode parameter: name, type check, default (``REQUIRED`` if none)."""

    name: str
    check: Check
    default: Any = None
    required: bool = False


def R(name: str, check: Check) -> P:  # noqa: N802 - reads like the table it builds
    """A required parameter."""
    return P(name, check, required=True)


class OpDef:
    """An opcode: its id, parameters and which parameter names it in job summaries.

    A plain class, not a dataclass: every ``gnt-*`` command that submits a job imports the
    definitions, and ``dataclasses`` (with ``inspect``) would add 5 ms to its start.
    ``by_name`` (every parameter, the common ones too) is filled by the registry.
    """

    __slots__ = ("op_id", "params", "summary", "doc", "by_name")

    def __init__(self, op_id: str, params: tuple[P, ...], summary: str | None = None,
                 doc: str = "") -> None:
        self.op_id = op_id
        self.params = params
        self.summary = summary
        self.doc = doc
        self.by_name: dict[str, P] = {}

    def __repr__(self) -> str:
        return f"OpDef({self.op_id!r}, {len(self.params)} parameters)"


_BE, _BE_CHANGES = t_params_of(check_beparams), t_params_of(check_beparams, allow_default=True)
NIC_CHANGES: Check = t_params_of(check_nicparams, allow_default=True)
ND_CHANGES: Check = t_params_of(check_ndparams, allow_default=True)
COMMON = (P("dry_run", t_bool, False), P("debug_level", t_int, 0),
          P("priority", t_int, 0), P("comment", t_maybe_str, None),
          P("reason", t_list, None))
TAG_KINDS = ("cluster", "node", "instance", "nodegroup", "network")
REBOOT_TYPES = ("soft", "hard", "full")

DEFS: list[OpDef] = [
    OpDef("OP_TEST_DELAY", (R("duration", t_nonneg), P("on_master", t_bool, True),
                            P("on_nodes", t_list_of_str, []), P("repeat", t_int, 0),
                            P("no_locks", t_bool, True)),
          doc="Sleep for a while (testing the queue)."),
    OpDef("OP_CLUSTER_DESTROY", (), doc="Destroy the cluster (only the master node left)."),
    OpDef("OP_CLUSTER_VERIFY", (P("skip_checks", t_verify_skip_checks, []),
                                P("error_codes", t_bool, False), P("verbose", t_bool, False),
                                P("ignore_errors", t_verify_codes, []),
                                P("group_name", t_name, None),
                                P("debug_simulate_errors", t_bool, False),
                                P("verify_clutter", t_bool, False)),
          doc="Verify the configuration and the nodes (or one node group's)."),
    OpDef("OP_CLUSTER_SET_PARAMS", (
        P("hvparams", t_hvparams_by_hv, None), P("beparams", _BE_CHANGES, None),
        P("nicparams", NIC_CHANGES, None),
        P("ndparams", ND_CHANGES, None), P("osparams", t_dict, None),
        P("candidate_pool_size", t_maybe_int, None),
        P("enabled_hypervisors", t_list_of_str, None),
        P("enabled_disk_templates", t_list_of_str, None),
        P("default_iallocator", t_maybe_str, None), P("mac_prefix", t_mac_prefix, None),
        P("maintain_node_health", t_maybe_bool, None), P("ipolicy", t_ipolicy(), None),
        P("vg_name", t_maybe_str, None), P("drbd_helper", t_maybe_str, None),
        P("reserved_lvs", t_list_of_str, None), P("diskparams", t_diskparams, None)),
        doc="Change cluster parameters."),
    OpDef("OP_TAGS_SET", (R("kind", t_one_of(*TAG_KINDS)), P("name", t_maybe_str, None),
                          R("tags", t_list_of_str)), summary="name"),
    OpDef("OP_TAGS_DEL", (R("kind", t_one_of(*TAG_KINDS)), P("name", t_maybe_str, None),
                          R("tags", t_list_of_str)), summary="name"),
    OpDef("OP_TAGS_GET", (R("kind", t_one_of(*TAG_KINDS)), P("name", t_maybe_str, None)),
          summary="name"),
    OpDef("OP_OS_DIAGNOSE", (P("output_fields", t_list_of_str, []), P("names", t_list_of_str, [])),
          doc="Find the OS definitions on the nodes."),
    OpDef("OP_INSTANCE_CREATE", (
        R("instance_name", t_hostname),
        P("mode", t_one_of("create", "import", "remote-import"), "create"),
        P("disk_template", t_maybe_str, None), P("disks", t_list_of_dicts, []),
        P("nics", t_maybe_list_of_dicts, None), P("os_type", t_maybe_str, None),
        P("pnode", t_maybe_str, None), P("snode", t_maybe_str, None),
        P("iallocator", t_maybe_str, None), P("start", t_bool, True),
        P("no_install", t_bool, False), P("wait_for_sync", t_bool, True),
        P("ip_check", t_bool, True), P("name_check", t_bool, True),
        P("hypervisor", t_maybe_str, None), P("hvparams", t_dict, {}),
        P("beparams", _BE, {}), P("osparams", t_dict, {}), P("tags", t_list_of_str, []),
        P("file_storage_dir", t_maybe_str, None), P("file_driver", t_maybe_str, None),
        P("force_variant", t_bool, False), P("src_node", t_maybe_str, None),
        P("src_path", t_maybe_str, None), P("identify_defaults", t_bool, False),
        P("opportunistic_locking", t_bool, False), P("conflicts_check", t_bool, True),
        # remote-import (move-instance): what the source cluster's prepare-export answered
        P("source_handshake", t_maybe_list, None), P("source_x509_ca", t_maybe_str, None),
        P("source_instance_name", t_maybe_str, None), P("source_shutdown_timeout", t_int, 120),
        P("compress", t_one_of(*COMPRESSIONS), "none"),
        P("ignore_ipolicy", t_bool, False)), summary="instance_name"),
    OpDef("OP_INSTANCE_MULTI_ALLOC", (P("instances", t_list_of_dicts, []),
                                      P("iallocator", t_maybe_str, None),
                                      P("opportunistic_locking", t_bool, False)),
          doc="Place several new instances in one allocator run and create each."),
    OpDef("OP_INSTANCE_REMOVE", (R("instance_name", t_name), P("ignore_failures", t_bool, False),
                                 P("shutdown_timeout", t_int, 120)), summary="instance_name"),
    OpDef("OP_INSTANCE_STARTUP", (R("instance_name", t_name), P("force", t_bool, False),
                                  P("ignore_offline_nodes", t_bool, False),
                                  P("hvparams", t_dict, {}), P("beparams", t_dict, {}),
                                  P("no_remember", t_bool, False),
                                  P("startup_paused", t_bool, False)),
          summary="instance_name"),
    OpDef("OP_INSTANCE_SHUTDOWN", (R("instance_name", t_name), P("timeout", t_int, 120),
                                   P("force", t_bool, False),
                                   P("ignore_offline_nodes", t_bool, False),
                                   P("no_remember", t_bool, False)),
          summary="instance_name"),
    OpDef("OP_INSTANCE_REBOOT", (R("instance_name", t_name),
                                 P("reboot_type", t_one_of(*REBOOT_TYPES), "full"),
                                 P("shutdown_timeout", t_int, 120),
                                 P("ignore_secondaries", t_bool, False)),
          summary="instance_name"),
    OpDef("OP_INSTANCE_REINSTALL", (R("instance_name", t_name), P("os_type", t_maybe_str, None),
                                    P("force_variant", t_bool, False),
                                    P("osparams", t_dict, None)),
          summary="instance_name"),
    OpDef("OP_INSTANCE_RENAME", (R("instance_name", t_name), R("new_name", t_hostname),
                                 P("ip_check", t_bool, False), P("name_check", t_bool, True)),
          summary="instance_name"),
    OpDef("OP_INSTANCE_SET_PARAMS", (
        R("instance_name", t_name), P("beparams", _BE_CHANGES, {}), P("hvparams", t_dict, {}),
        P("osparams", t_dict, {}), P("os_name", t_maybe_str, None),
        P("offline", t_maybe_bool, None), P("runtime_mem", t_maybe_int, None),
        P("force", t_bool, False), P("force_variant", t_bool, False),
        P("disk_template", t_maybe_str, None), P("remote_node", t_maybe_str, None),
        P("wait_for_sync", t_bool, True), P("nics", t_set_params_mods, []),
        P("disks", t_set_params_mods, []),
        P("conflicts_check", t_bool, True), P("hotplug", t_bool, False),
        P("hotplug_if_possible", t_bool, False), P("ignore_ipolicy", t_bool, False)),
        summary="instance_name"),
    OpDef("OP_INSTANCE_QUERY_DATA", (P("instances", t_list_of_str, []), P("static", t_bool, False),
                                     P("use_locking", t_bool, False))),
]
_TAG_RE = re.compile(r"^[\w.+*/:@-]+$", re.ASCII)
MAX_TAG_LEN = 128
MAX_TAGS_PER_OBJ = 4096


def check_tag(tag: str) -> None:
    """Ganeti's tag rules: 1-128 chars from ``A-Za-z0-9_.+*/:@-``."""
    if not isinstance(tag, str) or not tag:
        raise OpPrereqError(f"Invalid tag {tag!r}: tags must be non-empty strings", ECODE_INVAL)
    if len(tag) > MAX_TAG_LEN:
        raise OpPrereqError(f"Tag too long (>{MAX_TAG_LEN} characters): '{tag}'", ECODE_INVAL)
    if not _TAG_RE.match(tag):
        raise OpPrereqError(f"Invalid characters in tag '{tag}' (allowed: letters, digits and"
                            " . + * / : @ - _)", ECODE_INVAL)
