"""The instance policy's ispecs: bounds (``minmax``) and standard values (``std``), their
validation, inheritance (built-in < cluster < node group) and the check of an instance's
specs against them, as Ganeti computes them (cmdlib ComputeIPolicySpecViolation and friends).

The plain policy parameters (ratios, disk templates) live in :mod:`gnt.opcodes.params`; this
module imports nothing else of ``gnt.opcodes`` so that ``params`` can use it.

A policy here is a dict with ``minmax`` (a list of ``{"min": spec, "max": spec}`` pairs; an
instance complies when it fits one pair), ``std`` (used for capacity figures, not checked
against instances) and ``disk-templates``. A spec maps every name of :data:`ISPECS` to an int.
Ganeti's built-in bounds (memory 128 MiB .. 32 GiB, disk 1 GiB .. 1 TiB) would refuse the small
lab and test instances; our built-in bounds are permissive sanity bounds instead.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.units import UnitError, parse_size_mib

MEM_SIZE = "memory-size"
CPU_COUNT = "cpu-count"
DISK_COUNT = "disk-count"
DISK_SIZE = "disk-size"
NIC_COUNT = "nic-count"
SPINDLE_USE = "spindle-use"
# Every spec parameter (Ganeti's ISPECS_PARAMETERS); the sizes take units ("512M", "2G").
ISPECS = (CPU_COUNT, DISK_COUNT, DISK_SIZE, MEM_SIZE, NIC_COUNT, SPINDLE_USE)
_SIZES = (MEM_SIZE, DISK_SIZE)

MINMAX = "minmax"
STD = "std"
MIN = "min"
MAX = "max"
DISK_TEMPLATES = "disk-templates"
DT_DISKLESS = "diskless"

# Built-in bounds and standard values (permissive; see the module docstring).
DEFAULT_MIN = {MEM_SIZE: 1, CPU_COUNT: 1, DISK_COUNT: 0, DISK_SIZE: 0, NIC_COUNT: 0,
               SPINDLE_USE: 0}
DEFAULT_MAX = {MEM_SIZE: 4 * 1024 * 1024, CPU_COUNT: 256, DISK_COUNT: 16,
               DISK_SIZE: 16 * 1024 * 1024, NIC_COUNT: 8, SPINDLE_USE: 12}
DEFAULT_STD = {MEM_SIZE: 128, CPU_COUNT: 1, DISK_COUNT: 1, DISK_SIZE: 1024, NIC_COUNT: 1,
               SPINDLE_USE: 1}


def _bad(message: str) -> OpPrereqError:
    return OpPrereqError(message, ECODE_INVAL)


def _spec_value(name: str, value: Any, where: str) -> int:
    """One spec value as an int (sizes may carry a unit)."""
    if isinstance(value, bool):
        raise _bad(f"Invalid value {value!r} for {name} in {where} instance specs")
    try:
        if name in _SIZES and isinstance(value, str):
            number = int(parse_size_mib(value))
        else:
            number = int(value)
    except (UnitError, ValueError, TypeError) as err:
        raise _bad(f"Invalid value {value!r} for {name} in {where} instance specs: {err}"
                   ) from err
    if number < 0:
        raise _bad(f"Invalid value {value!r} for {name} in {where} instance specs:"
                   " must not be negative")
    return number


def check_spec(values: Any, where: str, complete: bool) -> dict[str, int]:
    """One instance spec (``min``, ``max`` or ``std``): known names, int values; a bound
    (``complete``) must give every parameter, as in Ganeti."""
    if not isinstance(values, Mapping):
        raise _bad(f"Invalid {where} instance specs {values!r}: not a dictionary")
    unknown = sorted(set(values) - set(ISPECS))
    if unknown:
        raise _bad(f"Unknown instance spec parameter(s) {', '.join(map(str, unknown))} in"
                   f" {where} (valid: {', '.join(ISPECS)})")
    missing = [name for name in ISPECS if name not in values]
    if complete and missing:
        raise _bad(f"Missing parameters in ipolicy spec {where}: {', '.join(missing)}")
    return {name: _spec_value(name, values[name], where) for name in ISPECS if name in values}


def check_minmax(value: Any) -> list[dict[str, dict[str, int]]]:
    """The bounds: a non-empty list of complete ``min``/``max`` pairs, min <= max for each
    parameter."""
    if not isinstance(value, (list, tuple)) or not value:
        raise _bad(f"Invalid instance policy bounds {value!r}: a non-empty list of min/max"
                   " pairs is needed")
    result = []
    for pair in value:
        if not isinstance(pair, Mapping):
            raise _bad(f"Invalid min/max pair {pair!r}: not a dictionary")
        for key in pair:
            if key not in (MIN, MAX):
                raise _bad(f"Invalid key in bounds instance specifications: {key}")
        missing = [key for key in (MIN, MAX) if key not in pair]
        if missing:
            raise _bad(f"Missing instance specification: {', '.join(missing)}")
        low = check_spec(pair[MIN], MIN, complete=True)
        high = check_spec(pair[MAX], MAX, complete=True)
        for name in ISPECS:
            if low[name] > high[name]:
                raise _bad("Invalid instance policy: Invalid specification of min/max values"
                           f" for {name}: {low[name]}/{high[name]}")
        result.append({MIN: low, MAX: high})
    return result


def check_std(value: Any) -> dict[str, int]:
    """Standard values: any subset of the parameters (the rest inherited)."""
    return check_spec(value, STD, complete=False)


def from_split_specs(split: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Ganeti's deprecated per-parameter specs (``{spec name: {"min": v, "max": v, "std": v}}``,
    gnt-cluster init's ``--specs-*`` options) as bounds and standard values: one min/max pair
    whose values not given are the built-in bounds, and the standard values given (Ganeti's
    _InitISpecsFromSplitOpts with fill_all; the rest of std is inherited)."""
    by_key: dict[str, dict[str, Any]] = {MIN: {}, MAX: {}, STD: {}}
    for name, values in split.items():
        for key, value in values.items():
            if key not in by_key:
                raise _bad(f"Unknown parameter '{key}' in the {name} specs (valid: min, max,"
                           " std)")
            by_key[key][name] = value
    low = {**DEFAULT_MIN, **check_spec(by_key[MIN], MIN, complete=False)}
    high = {**DEFAULT_MAX, **check_spec(by_key[MAX], MAX, complete=False)}
    return {MINMAX: check_minmax([{MIN: low, MAX: high}]), STD: check_std(by_key[STD])}


def check_std_in_bounds(policy: Mapping[str, Any]) -> None:
    """Refuse a (filled) policy whose standard values fit none of its min/max pairs."""
    std = policy[STD]
    for pair in policy[MINMAX]:
        if all(pair[MIN][name] <= std.get(name, pair[MIN][name]) <= pair[MAX][name]
               for name in ISPECS):
            return
    shown = ", ".join(f"{name}={std[name]}" for name in ISPECS if name in std)
    raise _bad(f"Invalid instance policy: Invalid std specifications ({shown} is outside"
               " every min/max pair)")


def fill(cluster_own: Mapping[str, Any] | None,
         group_own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``minmax`` and ``std`` in force: the group's bounds, else the cluster's, else the
    built-in ones (a bounds list is replaced whole, as Ganeti's FillIPolicy does); the standard
    values are the built-in ones updated with the cluster's (and a group's, had it any)."""
    minmax: Any = [{MIN: dict(DEFAULT_MIN), MAX: dict(DEFAULT_MAX)}]
    std = dict(DEFAULT_STD)
    for own in (cluster_own or {}, group_own or {}):
        if own.get(MINMAX):
            minmax = copy.deepcopy(own[MINMAX])
        std.update(own.get(STD) or {})
    return {MINMAX: minmax, STD: std}


def _range(name: str, qualifier: str, pair: Mapping[str, Mapping[str, int]],
           value: int | None) -> str | None:
    """Ganeti's message when ``value`` lies outside the pair's range (None: not checked)."""
    if value is None:
        return None
    low = pair[MIN].get(name, value)
    high = pair[MAX].get(name, value)
    if low <= value <= high:
        return None
    label = f"{name}/{qualifier}" if qualifier else name
    return f"{label} value {value} is not in range [{low}, {high}]"


def spec_violations(policy: Mapping[str, Any], memory: int | None, cpus: int | None,
                    disk_sizes: Sequence[int], nic_count: int | None,
                    spindle_use: int | None, disk_templates: Iterable[str]) -> list[str]:
    """What in these specs the policy refuses (empty: they comply). ``None`` values are not
    checked; ``disk_templates`` holds one template per disk. Like Ganeti, the disk count is
    not checked for a diskless instance (the diskless template must be allowed instead) and
    the min/max pair with the fewest violations is the one reported."""
    allowed = list(policy.get(DISK_TEMPLATES) or [])
    found: list[str] = []
    tests: list[tuple[str, str, int | None]] = [
        (MEM_SIZE, "", memory), (CPU_COUNT, "", cpus), (NIC_COUNT, "", nic_count),
        (SPINDLE_USE, "", spindle_use)]
    tests += [(DISK_SIZE, str(index), size) for index, size in enumerate(disk_sizes)]
    if disk_sizes:
        tests.append((DISK_COUNT, "", len(disk_sizes)))
    elif DT_DISKLESS not in allowed:
        found.append(f"Disk template {DT_DISKLESS} is not allowed (allowed templates"
                     f" {', '.join(allowed)})")
    forbidden = sorted(set(disk_templates) - set(allowed))
    if forbidden:
        found.append(f"Disk template {', '.join(forbidden)} is not allowed (allowed templates:"
                     f" {', '.join(allowed)})")
    best: list[str] | None = None
    for pair in policy[MINMAX]:
        errors = [err for err in (_range(name, qual, pair, value) for name, qual, value in tests)
                  if err]
        if best is None or len(errors) < len(best):
            best = errors
    return found + (best or [])


def instance_violations(policy: Mapping[str, Any], beparams: Mapping[str, Any],
                        disks: Sequence[Mapping[str, Any]], nic_count: int) -> list[str]:
    """What of an instance (its filled backend parameters, its disk objects and NIC count)
    the policy refuses; the memory checked is ``maxmem`` (Ganeti's
    ComputeIPolicyInstanceViolation)."""
    return spec_violations(policy, _maybe_int(beparams.get("maxmem")),
                           _maybe_int(beparams.get("vcpus")),
                           [int(disk["size"]) for disk in disks], nic_count,
                           _maybe_int(beparams.get("spindle_use")),
                           [str(disk["dev_type"]) for disk in disks])


def _maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)


def refuse(message: str, violations: list[str], ignore: bool = False,
           warn: Any = None) -> None:
    """Raise ``message: violations`` (ECODE_INVAL), or with ``ignore`` only warn through
    ``warn`` (a callable taking the text); nothing when there is no violation."""
    if not violations:
        return
    text = f"{message}: {', '.join(violations)}"
    if ignore:
        if warn is not None:
            warn(f"WARNING: {text}")
        return
    raise _bad(text)
