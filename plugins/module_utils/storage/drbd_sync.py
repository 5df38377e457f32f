# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""How a DRBD 8.4 device paces its resyncs: Ganeti's drbd sync disk parameters (dynamic-resync,
resync-rate and the dynamic controller's c-*), as one table, the ``drbdsetup disk-options``
argv that sets them and the values ``drbdsetup show --show-defaults`` reports.

Ganeti sets them right after attaching a device's local disk; :mod:`drbd` does the same, and
sets them again on an attached device whose values differ.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import dataclasses
import re
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import StorageError


@dataclasses.dataclass(frozen=True)
class SyncParam:
    """One drbd sync disk parameter: Ganeti's name (also drbdsetup's option and ``drbdsetup
    show`` key), its unit as drbdsetup takes it (``k`` KiB/s, ``s`` 512-byte sectors, empty
    for tenths of a second) and Ganeti's default."""

    name: str
    unit: str
    default: int

    @property
    def key(self) -> str:
        """The module option / role variable key (``c_plan_ahead``)."""
        return self.name.replace("-", "_")


# The drbd disk parameters that pace a resync, in the order drbdsetup gets them: the dynamic
# controller's (Ganeti's order), then the fixed rate. ``dynamic-resync`` chooses the set.
PLAN_AHEAD = SyncParam("c-plan-ahead", "", 20)
FILL_TARGET = SyncParam("c-fill-target", "s", 0)
DELAY_TARGET = SyncParam("c-delay-target", "", 1)
MAX_RATE = SyncParam("c-max-rate", "k", 61440)
MIN_RATE = SyncParam("c-min-rate", "k", 4096)
RESYNC_RATE = SyncParam("resync-rate", "k", 61440)
SYNC_PARAMS = (PLAN_AHEAD, FILL_TARGET, DELAY_TARGET, MAX_RATE, MIN_RATE, RESYNC_RATE)
DYNAMIC_RESYNC = "dynamic_resync"
_UNIT_RE = re.compile(r"^(\d+)([kKmMgGs]?)$")
_UNIT_BYTES = {"": None, "s": 512, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20,
               "g": 1 << 30, "G": 1 << 30}


@dataclasses.dataclass(frozen=True)
class DrbdSync:
    """How a device paces its resyncs (Ganeti's drbd sync disk parameters).

    With ``dynamic_resync`` DRBD's controller plans ``c_plan_ahead`` tenths of a second ahead
    between ``c_min_rate`` and ``c_max_rate`` KiB/s, as Ganeti sets it. Without it the rate is
    fixed at ``resync_rate`` KiB/s: Ganeti then passes only ``--resync-rate``, but DRBD 8.4.11
    starts every minor with its controller on (c-plan-ahead 20), which ignores that rate, so
    ``--c-plan-ahead 0`` goes with it to make the fixed rate the one in force.
    """

    dynamic_resync: bool = False
    resync_rate: int = RESYNC_RATE.default
    c_plan_ahead: int = PLAN_AHEAD.default
    c_fill_target: int = FILL_TARGET.default
    c_delay_target: int = DELAY_TARGET.default
    c_max_rate: int = MAX_RATE.default
    c_min_rate: int = MIN_RATE.default

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> DrbdSync:
        """From the module option / role variable (keys :attr:`SyncParam.key`; missing keys
        take Ganeti's defaults)."""
        values = {k: v for k, v in (values or {}).items() if v is not None}
        known = {p.key for p in SYNC_PARAMS} | {DYNAMIC_RESYNC}
        unknown = sorted(set(values) - known)
        if unknown:
            raise StorageError("unknown drbd sync parameter(s): %s" % ", ".join(unknown))
        return cls(**values)

    def value(self, param: SyncParam) -> int:
        return int(getattr(self, param.key))

    def validate(self, minor: int) -> None:
        for param in SYNC_PARAMS:
            number = getattr(self, param.key)
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise StorageError("drbd%d: invalid %s %r: expected a number >= 0"
                                   % (minor, param.name, number))
        if not isinstance(self.dynamic_resync, bool):
            raise StorageError("drbd%d: invalid dynamic-resync %r: expected a boolean"
                               % (minor, self.dynamic_resync))
        if self.dynamic_resync and self.c_plan_ahead == 0:
            raise StorageError("drbd%d: c-plan-ahead 0 turns DRBD's dynamic resync controller"
                               " off, which contradicts dynamic-resync; to pace resyncs at"
                               " the fixed resync-rate, set dynamic-resync to false"
                               % minor)
        if not self.dynamic_resync and self.resync_rate < 1:
            raise StorageError("drbd%d: resync-rate must be at least 1 KiB/s" % minor)

    def wanted(self) -> dict[str, int]:
        """The ``drbdsetup show`` disk values this pacing sets, in each parameter's unit."""
        if not self.dynamic_resync:
            return {PLAN_AHEAD.name: 0, RESYNC_RATE.name: self.resync_rate}
        return {p.name: self.value(p) for p in SYNC_PARAMS if p is not RESYNC_RATE}

    def options(self) -> list[str]:
        """:meth:`wanted` as drbdsetup options (``--c-plan-ahead 0 --resync-rate 61440k``):
        what ``disk-options`` sets on an attached disk and ``attach`` takes with the disk."""
        wanted = self.wanted()
        options: list[str] = []
        for param in SYNC_PARAMS:
            if param.name in wanted:
                options += ["--" + param.name, "%d%s" % (wanted[param.name], param.unit)]
        return options

    def argv(self, minor: int) -> list[str]:
        """``drbdsetup disk-options MINOR`` with :meth:`options`."""
        return ["drbdsetup", "disk-options", str(minor)] + self.options()


def sync_values(shown: dict[str, str]) -> dict[str, int | None]:
    """The sync parameters of ``drbdsetup show --show-defaults``'s disk section (raw
    ``key: value`` text such as ``102400k``; drbdsetup prints the unit it likes, ``1M`` or
    ``1024k``) in each parameter's unit; None when not shown or not understood."""
    values: dict[str, int | None] = {}
    for param in SYNC_PARAMS:
        text = (shown.get(param.name) or "").split(None, 1)
        match = _UNIT_RE.match(text[0]) if text else None
        if match is None:
            values[param.name] = None
            continue
        number, unit = int(match.group(1)), match.group(2)
        if param.unit == "" or unit == "":
            values[param.name] = number if unit == "" else None
        else:
            values[param.name] = number * _UNIT_BYTES[unit] // _UNIT_BYTES[param.unit]
    return values
