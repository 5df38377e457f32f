"""Parameter defaults, types and inheritance (cluster -> instance): the one place for them.

Hypervisor (``-H``), backend (``-B``) and NIC (``--net``/``--nic-parameters``) parameters are
validated here, filled from the cluster level here, and nowhere else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from gnt.core.collection import load_module_util
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.units import UnitError, parse_size_mib
from gnt.opcodes import ipolicy as _ipolicy

_hvtable = load_module_util("hvparams")

HT_KVM = "kvm"
HYPERVISORS = (HT_KVM,)

DT_DISKLESS = _ipolicy.DT_DISKLESS   # the policy module's (it checks diskless instances)
DT_FILE = "file"
DT_SHARED_FILE = "sharedfile"
DT_PLAIN = "plain"
DT_DRBD8 = "drbd"
DT_EXT = "ext"
# Templates this version can create instances with.
DISK_TEMPLATES = (DT_FILE, DT_SHARED_FILE, DT_DISKLESS, DT_PLAIN, DT_DRBD8, DT_EXT)
# The disk keys that are not ExtStorage parameters (Ganeti's IDISK_PARAMS), and what the name
# of an ExtStorage parameter may be (it becomes the environment variable EXTP_<NAME>).
IDISK_PARAMS = ("size", "mode", "name", "vg", "metavg", "adopt", "spindles", "provider",
                "uuid", "access")
EXT_PARAM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Templates Ganeti knows; accepted in --enabled-disk-templates but refused at instance add.
KNOWN_DISK_TEMPLATES = (DT_DISKLESS, DT_FILE, DT_SHARED_FILE, DT_PLAIN, DT_DRBD8, DT_EXT,
                        "blockdev", "rbd", "gluster")

# Disk access modes, from the collection's table (shared with the node's domain XML).
DISK_MODES: tuple[str, ...] = tuple(_hvtable.DISK_MODES)
DISK_MODE_DEFAULT: str = _hvtable.DISK_MODE_RW

NIC_MODE_BRIDGED = "bridged"
NIC_MODE_ROUTED = "routed"
NIC_MODE_OVS = "openvswitch"
NIC_MODES = (NIC_MODE_BRIDGED, NIC_MODE_ROUTED, NIC_MODE_OVS)
DEFAULT_BRIDGE = "gnt-br0"


def _bool(value: Any) -> bool:
    """Ganeti's boolean spellings: ``true``/``false`` in any case (``key``/``no_key`` on the
    command line become those), an empty string is false; other strings (``1``, ``yes``)
    are refused. Non-strings (JSON from RAPI) count by their truth."""
    if isinstance(value, str):
        text = value.lower()
        if text == "true":
            return True
        if text in ("false", ""):
            return False
        raise ValueError(f"'{value}' is not a valid boolean (use true or false)")
    return bool(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _size(value: Any) -> int:
    try:
        return parse_size_mib(value)
    except UnitError as err:
        raise ValueError(str(err)) from err


def _positive_int(value: Any) -> int:
    """An integer of at least 1 (vcpus)."""
    number = _int(value)
    if number < 1:
        raise ValueError(f"{value!r} is less than 1")
    return number


def _memory(value: Any) -> int:
    """A memory size in MiB of at least 1."""
    mib = _size(value)
    if mib < 1:
        raise ValueError(f"{value!r} is less than 1 MiB")
    return mib


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value)
        if text not in choices:
            shown = ", ".join(choice or "'' (empty)" for choice in choices)
            raise ValueError(f"{value!r} is not one of {shown}")
        return text
    return check


def _int_at_least(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = _int(value)
        if number < minimum:
            raise ValueError(f"{value!r} is less than {minimum}")
        return number
    return check


def _hv_converter(name: str, kind: str, choices: Any) -> Callable[[Any], Any]:
    """The converter of one entry of the collection's hvparam table."""
    if kind == _hvtable.KIND_CHOICE:
        return _choice(*choices)
    if kind == _hvtable.KIND_BOOL:
        return _bool
    if kind == _hvtable.KIND_INT:
        return _int_at_least(_hvtable.INT_MINIMUM.get(name, 0))
    return _str


# name -> (type converter, default), built from plugins/module_utils/hvparams.py (one table
# for the coordinator and the node).
HVPARAMS_KVM: dict[str, tuple[Callable[[Any], Any], Any]] = {
    name: (_hv_converter(name, kind, choices), default)
    for name, (kind, default, choices, _effect) in _hvtable.KVM_HVPARAMS.items()
}
HVPARAMS: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {HT_KVM: HVPARAMS_KVM}

BEPARAMS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "maxmem": (_memory, 128),
    "minmem": (_memory, 128),
    "vcpus": (_positive_int, 1),
    "auto_balance": (_bool, True),
    "always_failover": (_bool, False),
    "spindle_use": (_int, 1),
}
# "memory" sets maxmem and minmem together (Ganeti's shorthand).
BE_MEMORY_ALIAS = "memory"

NICPARAMS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "mode": (_choice(*NIC_MODES), NIC_MODE_BRIDGED),
    "link": (_str, DEFAULT_BRIDGE),
    "vlan": (_str, ""),
}

NDPARAMS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "oob_program": (_str, ""),
    "spindle_count": (_int, 1),
    "exclusive_storage": (_bool, False),
    "ssh_port": (_int, 22),
    # How a node's libvirtd reaches another node's for live migration (peer to peer);
    # {address} and {name} are the target's. The lab uses qemu+tcp://{address}/system.
    "migration_uri": (_str, "qemu+ssh://root@{address}/system"),
}


DEFAULT_VG = "xenvg"


def _vg_name(value: Any) -> str:
    """A volume group name (LVM's rules, as ``--vg-name``)."""
    from gnt.opcodes.storage import check_vg_name

    try:
        return check_vg_name(_str(value))
    except OpPrereqError as err:
        raise ValueError(str(err)) from err


_STRIPES = (_int_at_least(1), 1)
_ACCESS = (_choice("kernelspace", "userspace"), "kernelspace")
# Disk parameters (-D template:key=val): Ganeti's names, types and defaults per template. Which
# ones act on our nodes and which are stored only: docs/storage.md, "Disk parameters".
DISKPARAMS: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {
    DT_DISKLESS: {}, DT_FILE: {}, DT_SHARED_FILE: {}, "blockdev": {},
    DT_PLAIN: {"stripes": _STRIPES},
    DT_DRBD8: {
        "resync-rate": (_int_at_least(1), 60 * 1024), "data-stripes": _STRIPES,
        "meta-stripes": _STRIPES, "disk-barriers": (_str, "n"), "meta-barriers": (_bool, False),
        "metavg": (_vg_name, DEFAULT_VG), "disk-custom": (_str, ""), "net-custom": (_str, ""),
        "protocol": (_choice("A", "B", "C"), "C"), "dynamic-resync": (_bool, False),
        "c-plan-ahead": (_int_at_least(0), 20), "c-fill-target": (_int_at_least(0), 0),
        "c-delay-target": (_int_at_least(0), 1), "c-max-rate": (_int_at_least(0), 60 * 1024),
        "c-min-rate": (_int_at_least(0), 4 * 1024),
    },
    DT_EXT: {"access": _ACCESS},
    "rbd": {"pool": (_str, "rbd"), "access": _ACCESS, "user-id": (_str, "")},
    "gluster": {"access": _ACCESS, "host": (_str, "127.0.0.1"), "volume": (_str, "gv0"),
                "port": (_int_at_least(0), 24007)},
}

# The drbd disk parameters that pace a resync, carried to the drbd_device module (its
# ``sync_params``, keys with ``_``) and applied after each attach (docs/storage.md).
DRBD_SYNC_PARAMS = ("dynamic-resync", "resync-rate", "c-plan-ahead", "c-fill-target",
                    "c-delay-target", "c-max-rate", "c-min-rate")


def check_diskparams(values: Mapping[str, Any], allow_default: bool = False
                     ) -> dict[str, dict[str, Any]]:
    """Validate ``{template: {param: value}}`` disk parameters (``default`` drops an
    override when ``allow_default``)."""
    result: dict[str, dict[str, Any]] = {}
    for template, own in values.items():
        if template not in DISKPARAMS:
            raise OpPrereqError(f"Unknown disk template '{template}' in disk parameters"
                                f" (valid: {', '.join(DISKPARAMS)})", ECODE_INVAL)
        if not isinstance(own, Mapping):
            raise OpPrereqError(f"Disk parameters of template '{template}' must be a dict,"
                                f" not {own!r}", ECODE_INVAL)
        result[template] = _convert(f"disk ({template})", DISKPARAMS[template], own,
                                    allow_default)
    return result


def merge_diskparams(base: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]]
                     ) -> dict[str, dict[str, Any]]:
    """Apply checked per-template changes to stored per-template overrides (see
    :func:`merge_overrides`); a template left without overrides is dropped."""
    result = {template: dict(own) for template, own in base.items()}
    for template, values in changes.items():
        result[template] = merge_overrides(result.get(template, {}), values)
        if not result[template]:
            del result[template]
    return result


def filled_diskparams(cluster: Mapping[str, Any], group: Mapping[str, Any] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Every template's disk parameters in force: defaults < cluster < node group. The
    default drbd ``metavg`` is the cluster's volume group (Ganeti sets it so at init)."""
    own_cluster = cluster.get("diskparams") or {}
    own_group = (group or {}).get("diskparams") or {}
    filled = {template: fill(fill(defaults(spec), own_cluster.get(template) or {}),
                             own_group.get(template) or {})
              for template, spec in DISKPARAMS.items()}
    if not any("metavg" in (own.get(DT_DRBD8) or {}) for own in (own_cluster, own_group)):
        filled[DT_DRBD8]["metavg"] = cluster.get("volume_group_name") or DEFAULT_VG
    return filled


def check_drbd_pacing(cluster: Mapping[str, Any], group: Mapping[str, Any] | None = None
                      ) -> None:
    """Refuse drbd disk parameters in force (cluster, or ``group``) that the nodes' drbd_device
    module would refuse on every attach: ``dynamic-resync`` on with ``c-plan-ahead`` 0, which
    turns DRBD's dynamic resync controller off."""
    drbd = filled_diskparams(cluster, group)[DT_DRBD8]
    if drbd["dynamic-resync"] and int(drbd["c-plan-ahead"]) == 0:
        where = f"node group '{group.get('name')}'" if group else "the cluster"
        raise OpPrereqError(f"Invalid drbd disk parameters for {where}: dynamic-resync=True"
                            " with c-plan-ahead=0 turns DRBD's dynamic resync controller off;"
                            " set c-plan-ahead above 0, or dynamic-resync=False to pace"
                            " resyncs at the fixed resync-rate", ECODE_INVAL)


def own_diskparam(cluster: Mapping[str, Any], group: Mapping[str, Any] | None,
                  template: str, key: str) -> Any:
    """A disk parameter set on the group or else the cluster (None if neither set it)."""
    for level in (group or {}, cluster):
        own = (level.get("diskparams") or {}).get(template) or {}
        if key in own:
            return own[key]
    return None


def _positive_float(value: Any) -> float:
    """A number above 0 (the ipolicy ratios)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if math.isnan(number) or number <= 0:
        raise ValueError(f"{value!r} is not above 0")
    return number


def _template_list(value: Any) -> list[str]:
    """Disk template names, as a list or a comma-separated string; Ganeti's known ones only."""
    names = value.split(",") if isinstance(value, str) else list(value)
    for name in names:
        if name not in KNOWN_DISK_TEMPLATES:
            raise ValueError(f"unknown disk template {name!r}"
                             f" (known: {', '.join(KNOWN_DISK_TEMPLATES)})")
    return sorted(set(names))


# The instance policy's plain parameters (gnt-cluster/gnt-group --ipolicy-*). The default of
# disk-templates is the cluster's enabled templates (None here). The ispec bounds (minmax) and
# standard values (std) are checked, inherited and enforced by gnt.opcodes.ipolicy.
IPOLICY_VCPU_RATIO = "vcpu-ratio"
IPOLICY_SPINDLE_RATIO = "spindle-ratio"
IPOLICY_DISK_TEMPLATES = _ipolicy.DISK_TEMPLATES
IPOLICY: dict[str, tuple[Callable[[Any], Any], Any]] = {
    IPOLICY_VCPU_RATIO: (_positive_float, 4.0),
    IPOLICY_SPINDLE_RATIO: (_positive_float, 32.0),
    IPOLICY_DISK_TEMPLATES: (_template_list, None),
}


def _convert(kind: str, spec: Mapping[str, tuple[Callable[[Any], Any], Any]],
             values: Mapping[str, Any], allow_default: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in spec:
            raise OpPrereqError(
                f"Unknown {kind} parameter '{key}' (valid: {', '.join(sorted(spec))})", ECODE_INVAL)
        if allow_default and raw in ("default", None):
            result[key] = None  # None means: drop the override, inherit again
            continue
        try:
            result[key] = spec[key][0](raw)
        except (ValueError, TypeError) as err:
            raise OpPrereqError(f"Invalid value for {kind} parameter '{key}': {err}",
                                ECODE_INVAL) from err
    return result


def check_hvparams(hypervisor: str, values: Mapping[str, Any], allow_default: bool = False) -> dict:
    """Validate and convert hypervisor parameters of ``hypervisor``."""
    if hypervisor not in HVPARAMS:
        raise OpPrereqError(f"Unknown hypervisor '{hypervisor}' (valid: {', '.join(HVPARAMS)})",
                            ECODE_INVAL)
    return _convert(f"hypervisor ({hypervisor})", HVPARAMS[hypervisor], values, allow_default)


def check_beparams(values: Mapping[str, Any], allow_default: bool = False) -> dict:
    """Validate backend parameters; ``memory=X`` expands to maxmem=minmem=X."""
    values = dict(values)
    if BE_MEMORY_ALIAS in values:
        memory = values.pop(BE_MEMORY_ALIAS)
        values.setdefault("maxmem", memory)
        values.setdefault("minmem", memory)
    result = _convert("backend", BEPARAMS, values, allow_default)
    if result.get("minmem") is not None and result.get("maxmem") is not None \
            and result["minmem"] > result["maxmem"]:
        raise OpPrereqError(
            f"Minimum memory ({result['minmem']}M) is larger than maximum memory"
            f" ({result['maxmem']}M)", ECODE_INVAL)
    return result


def check_nicparams(values: Mapping[str, Any], allow_default: bool = False) -> dict:
    """Validate NIC parameters (mode, link, vlan)."""
    return _convert("NIC", NICPARAMS, values, allow_default)


def check_ndparams(values: Mapping[str, Any], allow_default: bool = False) -> dict:
    """Validate node parameters."""
    return _convert("node", NDPARAMS, values, allow_default)


def check_ipolicy(values: Mapping[str, Any], allow_default: bool = False,
                  group: bool = False) -> dict:
    """Validate instance policy parameters: the ratios, disk templates, the bounds
    (``minmax``) and, on the cluster only, the standard values (``std``). ``default`` (or None)
    drops a group's own value when ``allow_default``; the cluster's bounds cannot be unset."""
    values = dict(values)
    unknown = sorted(set(values) - set(IPOLICY) - {_ipolicy.MINMAX, _ipolicy.STD})
    if unknown:
        valid = ", ".join(sorted([*IPOLICY, _ipolicy.MINMAX, _ipolicy.STD]))
        raise OpPrereqError(f"Unknown instance policy parameter '{unknown[0]}'"
                            f" (valid: {valid})", ECODE_INVAL)
    result: dict[str, Any] = {}
    if _ipolicy.STD in values:
        if group:
            raise OpPrereqError(f"{_ipolicy.STD} cannot appear in group instance specs",
                                ECODE_INVAL)
        std = values.pop(_ipolicy.STD)
        if not std:
            raise OpPrereqError(f"Can't unset ipolicy attribute '{_ipolicy.STD}' on the"
                                " cluster", ECODE_INVAL)
        result[_ipolicy.STD] = _ipolicy.check_std(std)
    if _ipolicy.MINMAX in values:
        bounds = values.pop(_ipolicy.MINMAX)
        if bounds in ("default", None, ["default"]):
            if not allow_default:
                raise OpPrereqError(f"Can't unset ipolicy attribute '{_ipolicy.MINMAX}'"
                                    " on the cluster", ECODE_INVAL)
            result[_ipolicy.MINMAX] = None
        else:
            result[_ipolicy.MINMAX] = _ipolicy.check_minmax(bounds)
    result.update(_convert("instance policy", IPOLICY, values, allow_default))
    return result


def effective_ipolicy(cluster: Mapping[str, Any],
                      group: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ratios and disk templates in force: built-in defaults (disk templates: the enabled
    ones), then the cluster's own values, then the group's."""
    policy = defaults(IPOLICY)
    policy[IPOLICY_DISK_TEMPLATES] = sorted(cluster.get("enabled_disk_templates")
                                            or DISK_TEMPLATES)
    for own in (cluster.get("ipolicy") or {}, (group or {}).get("ipolicy") or {}):
        policy.update({key: value for key, value in own.items() if key in IPOLICY})
    return policy


def full_ipolicy(cluster: Mapping[str, Any],
                 group: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole instance policy as Ganeti shows and sends it: ispec bounds (``minmax``),
    standard values (``std``) and :func:`effective_ipolicy`."""
    policy = _ipolicy.fill(cluster.get("ipolicy"), (group or {}).get("ipolicy"))
    policy.update(effective_ipolicy(cluster, group))
    return policy


def check_ipolicy_templates(policy: Mapping[str, Any], enabled: list[str]) -> None:
    """Refuse an instance policy that allows disk templates the cluster has not enabled."""
    allowed = policy.get(IPOLICY_DISK_TEMPLATES)
    extra = sorted(set(allowed or ()) - set(enabled))
    if extra:
        raise OpPrereqError("The following disk templates are allowed by the ipolicy, but not"
                            f" enabled on the cluster: {', '.join(extra)}", ECODE_INVAL)


def defaults(spec: Mapping[str, tuple[Callable[[Any], Any], Any]]) -> dict[str, Any]:
    """The built-in default values of a parameter table."""
    return {key: default for key, (_conv, default) in spec.items()}


def merge_overrides(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to an override dict; a ``None`` value removes the override."""
    result = dict(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def fill(cluster_level: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Inherit: the object's own overrides on top of the cluster's values."""
    result = dict(cluster_level)
    result.update(own)
    return result


def filled_hvparams(cluster: Mapping[str, Any], instance: Mapping[str, Any]) -> dict[str, Any]:
    """An instance's effective hypervisor parameters."""
    hv = instance["hypervisor"]
    return fill(fill(defaults(HVPARAMS[hv]), cluster["hvparams"].get(hv, {})),
                instance.get("hvparams", {}))


def filled_beparams(cluster: Mapping[str, Any], instance: Mapping[str, Any]) -> dict[str, Any]:
    """An instance's effective backend parameters."""
    return fill(fill(defaults(BEPARAMS), cluster["beparams"]), instance.get("beparams", {}))


def filled_nicparams(cluster: Mapping[str, Any], nic: Mapping[str, Any]) -> dict[str, Any]:
    """A NIC's effective parameters."""
    return fill(fill(defaults(NICPARAMS), cluster["nicparams"]), nic.get("nicparams", {}))


def filled_ndparams(cluster: Mapping[str, Any], node: Mapping[str, Any],
                    group: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A node's effective node parameters: defaults < cluster < node group < node."""
    filled = fill(defaults(NDPARAMS), cluster.get("ndparams", {}))
    if group:
        filled = fill(filled, group.get("ndparams", {}))
    return fill(filled, node.get("ndparams", {}))


def split_escaped(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` with Ganeti's escaping: ``\\,`` is a literal comma,
    ``\\\\`` a literal backslash, and a backslash before any other character stands for that
    character (a trailing lone backslash stays)."""
    items: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, None)
            current.append("\\" if following is None else following)
        elif char == sep:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def parse_keyval(text: str, what: str) -> dict[str, str]:
    """Parse ``key=value,key2=value2`` (a bare ``key`` means true, ``no_key`` false,
    ``-key`` default); ``\\,`` puts a comma into a value, as in Ganeti."""
    result: dict[str, str] = {}
    if not text:
        return result
    for item in split_escaped(text):
        if not item:
            continue
        if "=" in item:
            key, value = item.split("=", 1)
        elif item.startswith("no_"):
            key, value = item[3:], "false"
        elif item.startswith("-"):
            key, value = item[1:], "default"
        else:
            key, value = item, "true"
        key = key.strip()
        if not key:
            raise OpPrereqError(f"Invalid {what} '{text}': empty key", ECODE_INVAL)
        if key in result:
            raise OpPrereqError(f"Duplicate key '{key}' in {what} '{text}'", ECODE_INVAL)
        result[key] = value
    return result


_MAC_PREFIX_RE = re.compile(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")


def check_mac_prefix(value: str) -> str:
    """A MAC prefix of three hexadecimal octets (``aa:00:00``), lower-cased."""
    prefix = str(value).strip().lower()
    if not _MAC_PREFIX_RE.match(prefix):
        raise OpPrereqError(f"Invalid MAC address prefix '{value}': expected three"
                            " hexadecimal octets separated by colons, e.g. aa:00:00",
                            ECODE_INVAL)
    return prefix


# Ganeti's compression names, in its order: the node's table (compressions.COMPRESSION_TOOLS).
COMPRESSIONS: tuple[str, ...] = tuple(load_module_util("compressions").COMPRESSION_TOOLS)


def check_compression(value: str, where: str = "compression") -> str:
    """Return ``value`` if it is one of :data:`COMPRESSIONS`, else raise naming it."""
    if value not in COMPRESSIONS:
        raise OpPrereqError(f"{where}: unknown compression '{value}'"
                            f" (valid: {', '.join(COMPRESSIONS)})", ECODE_INVAL)
    return value
