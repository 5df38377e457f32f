"""Parsing of Ganeti's option values: ``key=val,..``, ``ident:key=val,..``, sizes, time specs,
disks, NICs and ``--node pnode[:snode]``.

Values are only split here; validation and conversion use :mod:`gnt.opcodes.params` and
:mod:`gnt.core.units` (the one place for parameter types and sizes), imported when needed.
"""

from __future__ import annotations

import sys
from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes import ipolicy
from gnt.opcodes.params import (
    DISK_MODE_DEFAULT,
    DISK_MODES,
    EXT_PARAM_RE,
    IPOLICY_DISK_TEMPLATES,
    IPOLICY_SPINDLE_RATIO,
    IPOLICY_VCPU_RATIO,
)


def keyval(text: str, what: str) -> dict[str, str]:
    """``key=val,key2=val2`` as a dict of strings (``no_key`` false, ``-key`` default)."""
    from gnt.opcodes.params import parse_keyval

    return parse_keyval(text, what)


def ident_keyval(text: str, what: str) -> tuple[str, dict[str, str]]:
    """``ident:key=val,...`` (or a bare ``ident``) as ``(ident, {key: val})``."""
    if ":" not in text:
        return text, {}
    ident, rest = text.split(":", 1)
    return ident, keyval(rest, what)


def parse_size(value: Any, what: str) -> int:
    """A size in MiB; a bad value is a prerequisite error naming it."""
    from gnt.core.units import UnitError, parse_size_mib

    try:
        return int(parse_size_mib(value))
    except UnitError as err:
        raise OpPrereqError(f"Invalid {what}: {err}", ECODE_INVAL) from err


def parse_int(value: Any, what: str) -> int:
    """An integer; a bad value is a prerequisite error naming it."""
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise OpPrereqError(f"Invalid {what} '{value}': not an integer", ECODE_INVAL) from err


def parse_timespec(value: str) -> int:
    """Ganeti's time spec: seconds, or a number with suffix s, m, h, d or w."""
    value = str(value).strip()
    if not value:
        raise OpPrereqError("Empty time specification passed", ECODE_INVAL)
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    factor = 1
    number = value
    if value[-1] in scale:
        factor = scale[value[-1]]
        number = value[:-1]
        if not number:
            raise OpPrereqError("Invalid time specification (only suffix passed)",
                                ECODE_INVAL)
    try:
        return int(number) * factor
    except ValueError as err:
        raise OpPrereqError(f"Invalid time specification '{value}'", ECODE_INVAL) from err


def split_node(value: str | None) -> tuple[str | None, str | None]:
    """``pnode[:snode]`` as a pair."""
    if value and ":" in value:
        pnode, snode = value.split(":", 1)
        return pnode or None, snode or None
    return value or None, None


def _index(ident: str, what: str) -> int:
    try:
        idx = int(ident)
    except ValueError as err:
        raise OpPrereqError(f"Invalid {what} index passed: '{ident}'", ECODE_INVAL) from err
    if idx < 0:
        raise OpPrereqError(f"Invalid {what} index passed: '{ident}'", ECODE_INVAL)
    return idx


DISK_KEYS = ("size", "mode", "name", "vg", "metavg", "adopt", "spindles", "provider")
NIC_KEYS = ("mac", "ip", "mode", "link", "vlan", "network", "name")


def parse_disks(specs: list[str] | None, os_size: str | None,
                disk_template: str | None) -> list[dict[str, Any]]:
    """``--disk N:size=VAL[,mode=ro|rw]`` (repeatable) or ``-s SIZE`` as opcode disks."""
    specs = specs or []
    if disk_template == "diskless":
        if specs or os_size is not None:
            raise OpPrereqError("Diskless instance but disk information passed", ECODE_INVAL)
        return []
    if specs and os_size is not None:
        raise OpPrereqError("Please use either the '--disk' or '-s' option", ECODE_INVAL)
    if os_size is not None:
        specs = [f"0:size={os_size}"]
    if not specs:
        raise OpPrereqError("No disk information specified", ECODE_INVAL)
    parsed = [ident_keyval(spec, "disk parameters") for spec in specs]
    indexed = [(_index(ident, "disk"), params) for ident, params in parsed]
    count = max(idx for idx, _unused in indexed) + 1
    disks: list[dict[str, Any] | None] = [None] * count
    for idx, params in indexed:
        unknown = sorted(set(params) - set(DISK_KEYS))
        if disk_template == "ext":
            # Ganeti: every other key of an ext disk is an ExtStorage parameter (EXTP_<NAME>)
            if "provider" not in params:
                raise OpPrereqError(f"Missing provider for disk {idx}: ext disks need"
                                    " provider=NAME", ECODE_INVAL)
            unknown = [key for key in unknown if not EXT_PARAM_RE.match(key)]
        if unknown:
            raise OpPrereqError(f"Unknown disk parameter(s) for disk {idx}: "
                                f"{', '.join(unknown)} (valid: {', '.join(DISK_KEYS)})",
                                ECODE_INVAL)
        disk: dict[str, Any] = dict(params)
        if "size" in disk:
            if "adopt" in disk:
                raise OpPrereqError(f"Only one of 'size' and 'adopt' allowed (disk {idx})",
                                    ECODE_INVAL)
            disk["size"] = parse_size(disk["size"], f"disk size for disk {idx}")
        elif "adopt" in disk:
            disk["size"] = 0
        else:
            raise OpPrereqError(f"Missing size or adoption source for disk {idx}", ECODE_INVAL)
        disk.setdefault("mode", DISK_MODE_DEFAULT)
        if disk["mode"] not in DISK_MODES:
            raise OpPrereqError(f"Invalid disk access mode '{disk['mode']}' for disk {idx}"
                                f" (use {' or '.join(DISK_MODES)})", ECODE_INVAL)
        if "spindles" in disk:
            disk["spindles"] = parse_int(disk["spindles"], f"spindles for disk {idx}")
        disks[idx] = disk
    missing = [str(idx) for idx, disk in enumerate(disks) if disk is None]
    if missing:
        raise OpPrereqError(f"Missing disk specification for disk(s) {', '.join(missing)}",
                            ECODE_INVAL)
    return [disk for disk in disks if disk is not None]


def parse_nics(specs: list[str] | None, no_nics: bool) -> list[dict[str, Any]]:
    """``--net N:key=val,...`` (repeatable) as opcode NICs; default one NIC, ``--no-nics``
    none."""
    if no_nics:
        if specs:
            raise OpPrereqError("Please use either '--net' or '--no-nics'", ECODE_INVAL)
        return []
    if not specs:
        return [{}]
    from gnt.opcodes.params import check_nicparams

    indexed = []
    for spec in specs:
        ident, params = ident_keyval(spec, "NIC parameters")
        indexed.append((_index(ident, "NIC"), params))
    nics: list[dict[str, Any]] = [{} for _unused in range(max(i for i, _unused in indexed) + 1)]
    for idx, params in indexed:
        unknown = sorted(set(params) - set(NIC_KEYS))
        if unknown:
            raise OpPrereqError(f"Unknown NIC parameter(s) for nic {idx}: {', '.join(unknown)}"
                                f" (valid: {', '.join(NIC_KEYS)})", ECODE_INVAL)
        nic: dict[str, Any] = dict(params)
        link_params: dict[str, Any] = {k: nic[k] for k in ("mode", "link", "vlan") if k in nic}
        nic.update(check_nicparams(link_params))
        nics[idx] = nic
    return nics


def parse_container_mods(specs: list[str], kind: str,
                         keys: tuple[str, ...] | None = None) -> list[list[Any]]:
    """``modify --net``/``--disk`` values as Ganeti's ``[action, identifier, params]`` items:
    ``add[:opts]``, ``remove``, ``ID:add[,opts]``, ``ID:remove``, ``ID:modify[,opts]`` and the
    older ``N:opts`` (a change of item N). ``keys``: the parameters allowed (None: any, the
    disk's ExtStorage parameters are checked by the master)."""
    mods: list[list[Any]] = []
    for spec in specs:
        ident, params = ident_keyval(spec, f"{kind} parameters")
        action = ""
        if ident in ("add", "remove"):
            action, ident = ident, "-1"
        else:
            given = [name for name in ("add", "remove", "modify") if name in params]
            if len(given) > 1:
                raise OpPrereqError(f"Cannot {' and '.join(given)} at the same time"
                                    f" ('{spec}')", ECODE_INVAL)
            action = given[0] if given else "modify"
            params.pop(action, None)
        if action == "remove" and params:
            raise OpPrereqError("Not accepting parameters on removal", ECODE_INVAL)
        unknown = sorted(set(params) - set(keys)) if keys is not None else []
        if unknown:
            raise OpPrereqError(f"Unknown {kind} parameter(s) in '{spec}':"
                                f" {', '.join(unknown)} (valid: {', '.join(keys or ())})",
                                ECODE_INVAL)
        try:
            identifier: Any = int(ident)
        except ValueError:
            identifier = ident
        mods.append([action, identifier, dict(params)])
    return mods


def parse_nic_mods(specs: list[str]) -> list[list[Any]]:
    """``modify --net`` values (see :func:`parse_container_mods`)."""
    return parse_container_mods(specs, "NIC", NIC_KEYS)


def parse_disk_mods(specs: list[str]) -> list[list[Any]]:
    """``modify --disk`` values (see :func:`parse_container_mods`); a size is given in MiB
    (units allowed), as at instance add."""
    for spec in specs:
        ident, params = ident_keyval(spec, "disk parameters")
        for action in ("attach", "detach"):
            if ident == action or action in params:
                raise OpPrereqError(f"Disk modification '{action}' is not supported in this"
                                    " release (only add, remove and modify)", ECODE_INVAL)
    mods = parse_container_mods(specs, "disk")
    for _action, _ident, params in mods:
        if "size" in params:
            params["size"] = parse_size(params["size"], "disk size")
    return mods


def read_tags(tags: list[str], source: str | None) -> list[str]:
    """Tags from the command line plus one per line from ``--from FILE`` (``-`` = stdin)."""
    result = list(tags)
    if source is None:
        return result
    try:
        if source == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(source, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
    except OSError as err:
        raise OpPrereqError(f"Cannot read tags from '{source}': {err.strerror}",
                            ECODE_INVAL) from err
    result.extend(line.strip() for line in lines if line.strip())
    return result


def hv_params(hypervisor: str, values: dict[str, str], allow_default: bool = False) -> dict:
    """Validate and convert ``-H`` values of ``hypervisor``."""
    from gnt.opcodes.params import check_hvparams

    return check_hvparams(hypervisor, values, allow_default=allow_default)


def be_params(values: dict[str, str], allow_default: bool = False) -> dict:
    """Validate and convert ``-B`` values (``memory`` sets maxmem and minmem)."""
    from gnt.opcodes.params import check_beparams

    return check_beparams(values, allow_default=allow_default)


def nic_params(values: dict[str, str], allow_default: bool = False) -> dict:
    """Validate and convert ``-N`` values."""
    from gnt.opcodes.params import check_nicparams

    return check_nicparams(values, allow_default=allow_default)


# --ipolicy-* option -> instance policy key (gnt-cluster init/modify, gnt-group add/modify).
IPOLICY_OPTIONS = (("--ipolicy-disk-templates", "ipolicy_disk_templates", IPOLICY_DISK_TEMPLATES,
                    "TEMPLATE,...", "Disk templates the instance policy allows"),
                   ("--ipolicy-vcpu-ratio", "ipolicy_vcpu_ratio", IPOLICY_VCPU_RATIO, "RATIO",
                    "Maximum ratio of virtual to physical CPUs"),
                   ("--ipolicy-spindle-ratio", "ipolicy_spindle_ratio", IPOLICY_SPINDLE_RATIO,
                    "RATIO", "Maximum ratio of instances to spindles"))


# The ispec options (Ganeti's syntax): bounds min:KEY=VAL,.../max:KEY=VAL,...[//min:...], the
# standard values KEY=VAL,... (cluster only: Ganeti's gnt-group has no --ipolicy-std-specs).
IPOLICY_BOUNDS = "--ipolicy-bounds-specs"
IPOLICY_STD = "--ipolicy-std-specs"
# Ganeti's deprecated per-parameter specs, min=V,max=V,std=V each (gnt-cluster init only, as in
# Ganeti 3.0): option -> spec parameter.
SPLIT_SPECS = (("--specs-cpu-count", ipolicy.CPU_COUNT), ("--specs-disk-count", ipolicy.DISK_COUNT),
               ("--specs-disk-size", ipolicy.DISK_SIZE), ("--specs-mem-size", ipolicy.MEM_SIZE),
               ("--specs-nic-count", ipolicy.NIC_COUNT))


def _split_dest(flag: str) -> str:
    """``--specs-cpu-count`` -> ``ispecs_cpu_count`` (Ganeti's option dests)."""
    return "i" + flag[2:].replace("-", "_")


def add_ipolicy_options(parser: Any, group: bool = False, split: bool = False) -> None:
    """The instance policy options Ganeti's cluster (``group``: node group) commands take;
    ``split``: also the deprecated ``--specs-*`` (gnt-cluster init)."""
    for flag, dest, _key, metavar, text in IPOLICY_OPTIONS:
        parser.add_argument(flag, dest=dest, default=None, metavar=metavar, help=text)
    parser.add_argument(IPOLICY_BOUNDS, dest="ipolicy_bounds_specs", default=None,
                        metavar="min:KEY=VAL,.../max:KEY=VAL,...[//...]",
                        help="Complete instance specs limits (keys: cpu-count, disk-count,"
                        " disk-size, memory-size, nic-count, spindle-use)"
                        + ("; 'default' drops the group's own" if group else ""))
    if not group:
        parser.add_argument(IPOLICY_STD, dest="ipolicy_std_specs", default=None,
                            metavar="KEY=VAL,...", help="Complete standard instance specs")
    for flag, name in SPLIT_SPECS if split else ():
        parser.add_argument(flag, dest=_split_dest(flag), default=None,
                            metavar="min=V,max=V,std=V",
                            help=f"Deprecated: {name} bounds and standard value")


def parse_bounds_specs(text: str) -> Any:
    """``min:k=v,.../max:k=v,...//...`` as ``[{"min": {..}, "max": {..}}, ...]`` of strings
    (a bare ``default`` stays ``default``); values are checked by the policy check."""
    if text.strip() == "default":
        return "default"
    pairs = []
    for line in text.split("//"):
        pair: dict[str, dict[str, str]] = {}
        for elem in line.split("/"):
            if not elem:
                raise OpPrereqError(f"Empty section in option '{IPOLICY_BOUNDS}'", ECODE_INVAL)
            ident, values = ident_keyval(elem, f"{IPOLICY_BOUNDS} {elem.split(':')[0]}")
            if ident in pair:
                raise OpPrereqError(f"Duplicated parameter '{ident}' in parsing"
                                    f" {IPOLICY_BOUNDS}: {elem}", ECODE_INVAL)
            pair[ident] = values
        pairs.append(pair)
    return pairs


def ipolicy_from_args(args: Any, allow_default: bool, group: bool = False,
                      init: bool = False) -> dict[str, Any] | None:
    """The ``--ipolicy-*`` values given, validated (``default`` drops a group's own value
    when ``allow_default``), or None when none was given. At ``init`` the standard values
    must also fit the bounds (later changes are checked by the master against the whole
    policy); there the deprecated ``--specs-*`` give them instead of ``--ipolicy-*-specs``."""
    from gnt.opcodes.params import check_ipolicy

    given: dict[str, Any] = {key: getattr(args, dest) for _flag, dest, key, _m, _t
                             in IPOLICY_OPTIONS if getattr(args, dest, None) is not None}
    if not allow_default:
        for key, value in given.items():
            if value == "default":
                raise OpPrereqError(f"Instance policy parameter '{key}': 'default' only"
                                    " resets a group's own value (give a value)", ECODE_INVAL)
    bounds = getattr(args, "ipolicy_bounds_specs", None)
    if bounds is not None:
        given[ipolicy.MINMAX] = parse_bounds_specs(bounds)
    std = getattr(args, "ipolicy_std_specs", None)
    if std is not None:
        given[ipolicy.STD] = keyval(std, "standard instance specs")
    split = {name: keyval(getattr(args, _split_dest(flag)), f"{flag} specs")
             for flag, name in SPLIT_SPECS if getattr(args, _split_dest(flag), None)}
    if split:
        if bounds is not None or std is not None:
            raise OpPrereqError("A --specs-xxx option cannot be specified together with any"
                                " --ipolicy-xxx-specs option", ECODE_INVAL)
        given.update(ipolicy.from_split_specs(split))
    if not given:
        return None
    result = check_ipolicy(given, allow_default=allow_default, group=group)
    if init:
        ipolicy.check_std_in_bounds(ipolicy.fill(result))
    return result
