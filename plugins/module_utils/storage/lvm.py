# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""LVM logical volumes (the ``plain`` template, and the data/meta volumes under ``drbd``).

Driven through the lvm2 tools: ``lvcreate``/``lvremove``/``lvrename``/``lvextend``/``lvchange``
for volumes, ``vgs``/``pvs``/``lvs`` reports for what exists, ``pvchange``/``vgreduce`` for
``gnt-node modify-storage``/``repair-storage``.

Reports use ``--noheadings --units m --nosuffix --separator '|' -o FIELDS``: one line per
object (for ``lvs`` one per segment, merged per volume), fields in the order of the tables
below, sizes in MiB (``m`` is binary in lvm2). Names can never contain ``|`` (see
:func:`validate_name`), so the split is exact; a line with another number of fields is an
error naming the command, never guessed at.

Every name and tag is checked before it reaches a command line: LVM's own character set, no
leading ``-`` (no option injection), no ``/`` (no path games), and none of LVM's reserved
names. Ganeti names its volumes ``<disk uuid>.disk<N>`` (plain) and ``<uuid>.disk<N>_data``/
``_meta`` (drbd); the coordinator chooses them, this module only checks them.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    CommandBackend,
    DeviceState,
    Runner,
    StorageBackend,
    StorageError,
    check_grow,
    positive_size,
)

NAME_RE = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")
RESERVED_NAMES = frozenset([".", "..", "snapshot", "pvmove"])
# LVM refuses LV names containing these: they name its internal sub-volumes.
RESERVED_SUBSTRINGS = ("_cdata", "_cmeta", "_corig", "_mlog", "_mimage", "_pmspare",
                       "_rimage", "_rmeta", "_tdata", "_tmeta", "_vorigin", "_vdata")
TAG_RE = re.compile(r"^[A-Za-z0-9_+.=!:&#/][A-Za-z0-9_+.=!:&#/-]{0,1023}$")
PV_RE = re.compile(r"^/dev/[A-Za-z0-9_+.:/-]+$")
REPORT_OPTIONS = ("--noheadings", "--units", "m", "--nosuffix", "--separator", "|")


def validate_name(kind: str, name: Any) -> str:
    """``name`` when it is a safe LVM name of ``kind`` ("volume group", "logical volume")."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StorageError("invalid %s name %r: use 1-127 of A-Z a-z 0-9 + _ . - "
                           "and do not start with -" % (kind, name))
    if name in RESERVED_NAMES:
        raise StorageError("invalid %s name %r: reserved by LVM" % (kind, name))
    if kind == "logical volume":
        for part in RESERVED_SUBSTRINGS:
            if part in name:
                raise StorageError("invalid %s name %r: LVM reserves names containing %s"
                                   % (kind, name, part))
    return name


def validate_tag(tag: Any) -> str:
    """``tag`` when LVM accepts it as a tag and it cannot be read as an option."""
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise StorageError("invalid LVM tag %r: use A-Z a-z 0-9 _ + . - = ! : & # / "
                           "and do not start with -" % (tag,))
    return tag


def validate_pv(pv: Any) -> str:
    """``pv`` when it is a device path under /dev without ``..``."""
    if not isinstance(pv, str) or not PV_RE.match(pv) or "/../" in pv + "/":
        raise StorageError("invalid physical volume %r: expected a device path under /dev"
                           % (pv,))
    return pv


def lv_path(vg: str, lv: str) -> str:
    """The device path of a logical volume."""
    return "/dev/%s/%s" % (vg, lv)


def _text(value: str) -> str:
    return value.strip()


def _mib(value: str) -> int:
    value = value.strip().replace(",", ".")
    if not value:
        return 0
    try:
        return int(math.ceil(float(value)))
    except ValueError as err:
        raise StorageError("unexpected size %r in an LVM report" % value) from err


def _count(value: str) -> int:
    value = value.strip()
    return int(value) if value else 0


def _tags(value: str) -> list[str]:
    return [tag for tag in value.strip().split(",") if tag]


def _devices(value: str) -> list[str]:
    """``/dev/sdb(0),/dev/sdc(12)`` -> ``["/dev/sdb", "/dev/sdc"]``."""
    return [re.sub(r"\(\d+\)$", "", dev) for dev in value.strip().split(",") if dev]


Field = tuple[str, str, Callable[[str], Any]]

# lvs field -> result key, converter. ``devices`` is a segment field: lvs prints a line per
# segment, merged per volume by :func:`list_lvs`.
LV_FIELDS: tuple[Field, ...] = (
    ("vg_name", "vg", _text),
    ("lv_name", "name", _text),
    ("lv_size", "size_mib", _mib),
    ("lv_attr", "attr", _text),
    ("origin", "origin", _text),
    ("lv_tags", "tags", _tags),
    ("devices", "devices", _devices),
)
VG_FIELDS: tuple[Field, ...] = (
    ("vg_name", "name", _text),
    ("vg_size", "size_mib", _mib),
    ("vg_free", "free_mib", _mib),
    ("vg_attr", "attr", _text),
    ("vg_extent_size", "extent_mib", _mib),
    ("pv_count", "pv_count", _count),
    ("lv_count", "lv_count", _count),
    ("vg_missing_pv_count", "missing_pv_count", _count),
)
PV_FIELDS: tuple[Field, ...] = (
    ("pv_name", "name", _text),
    ("vg_name", "vg", _text),
    ("pv_size", "size_mib", _mib),
    ("pv_free", "free_mib", _mib),
    ("pv_used", "used_mib", _mib),
    ("pv_attr", "attr", _text),
)

# attribute string position -> (result key, characters meaning true), per report.
LV_ATTR_FLAGS = {
    "snapshot": (0, "sS"),    # volume type: snapshot (S: invalid snapshot)
    "virtual": (0, "v"),      # volume type: virtual (its PVs are gone after --removemissing)
    "active": (4, "a"),       # state: active
    "open": (5, "o"),         # device open
    "partial": (8, "p"),      # health: some PVs missing
}
VG_ATTR_FLAGS = {
    "writable": (0, "w"),
    "exported": (2, "x"),
    "partial": (3, "p"),
}
PV_ATTR_FLAGS = {
    "allocatable": (0, "a"),
    "exported": (1, "x"),
    "missing": (2, "m"),
}


def _flags(attr: str, table: dict[str, tuple[int, str]]) -> dict[str, bool]:
    return {key: len(attr) > pos and attr[pos] in chars for key, (pos, chars) in table.items()}


def parse_report(command: str, fields: Sequence[Field], output: str) -> list[dict[str, Any]]:
    """Rows of a ``--separator '|'`` report made with ``fields``, converted per the table."""
    rows = []
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split("|")
        if len(parts) != len(fields):
            raise StorageError("unexpected %s output line (%d fields, expected %d): %r"
                               % (command, len(parts), len(fields), line))
        rows.append({key: convert(value)
                     for (_field, key, convert), value in zip(fields, parts)})
    return rows


def report_argv(command: str, fields: Sequence[Field], targets: Sequence[str] = ()
                ) -> list[str]:
    """The argv of an lvm2 report over ``targets`` (all objects when empty)."""
    return ([command] + list(REPORT_OPTIONS) + ["-o", ",".join(f[0] for f in fields)]
            + list(targets))


def _report(runner: Runner, command: str, fields: Sequence[Field],
            targets: Sequence[str], what: str) -> list[dict[str, Any]]:
    argv = report_argv(command, fields, targets)
    result = runner(argv)
    if result.rc != 0:
        detail = " ".join(result.stderr.strip().splitlines()[-2:])
        raise StorageError("%s: %s failed (exit %d): %s" % (what, command, result.rc, detail))
    return parse_report(command, fields, result.stdout)


def list_vgs(runner: Runner, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Volume groups (all, or ``names``): name, size_mib, free_mib, extent_mib, counts,
    attr and its flags (writable, exported, partial)."""
    names = [validate_name("volume group", n) for n in names]
    what = "volume groups %s" % ",".join(names or ["(all)"])
    rows = _report(runner, "vgs", VG_FIELDS, names, what)
    for row in rows:
        row.update(_flags(row["attr"], VG_ATTR_FLAGS))
    return rows


def list_pvs(runner: Runner, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Physical volumes: name, vg, size_mib, free_mib, used_mib, attr and its flags
    (allocatable, exported, missing)."""
    names = [validate_pv(n) for n in names]
    what = "physical volumes %s" % ",".join(names or ["(all)"])
    rows = _report(runner, "pvs", PV_FIELDS, names, what)
    for row in rows:
        row.update(_flags(row["attr"], PV_ATTR_FLAGS))
    return rows


def list_lvs(runner: Runner, vgs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Logical volumes of ``vgs`` (all when empty), one entry per volume (segments merged):
    vg, name, path, size_mib, attr and its flags, origin, tags, devices, degraded."""
    vgs = [validate_name("volume group", n) for n in vgs]
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    what = "logical volumes of %s" % ",".join(vgs or ["(all)"])
    for row in _report(runner, "lvs", LV_FIELDS, vgs, what):
        key = (row["vg"], row["name"])
        if key in merged:
            merged[key]["devices"] += [d for d in row["devices"]
                                       if d not in merged[key]["devices"]]
            continue
        row.update(_flags(row["attr"], LV_ATTR_FLAGS))
        row["degraded"] = row["virtual"] or row["partial"]
        row["path"] = lv_path(row["vg"], row["name"])
        merged[key] = row
    return list(merged.values())


def set_pv_allocatable(runner: Runner, pv: str, allocatable: bool,
                       check_mode: bool = False) -> ActionResult:
    """``gnt-node modify-storage --allocatable``: ``pvchange -x y|n`` when it differs."""
    pv = validate_pv(pv)
    rows = [row for row in list_pvs(runner, [pv]) if row["name"] == pv]
    if not rows:
        raise StorageError("physical volume %s not found" % pv)
    state = DeviceState(name=pv, exists=True, attached=True, path=pv,
                        size_mib=rows[0]["size_mib"], details=dict(rows[0]))
    outcome = ActionResult(state=state)
    if rows[0]["allocatable"] != allocatable:
        CommandBackend(runner).change(
            "physical volume %s" % pv, outcome,
            "made %sallocatable" % ("" if allocatable else "not "),
            [["pvchange", "-x", "y" if allocatable else "n", pv]], check_mode)
        state.details["allocatable"] = allocatable
    return outcome


def repair_vg(runner: Runner, vg: str, check_mode: bool = False) -> ActionResult:
    """``gnt-node repair-storage``: ``vgreduce --removemissing`` when the group misses PVs.

    As Ganeti's repair, the logical volumes that used the missing PVs (partial ones) are
    removed with them (``--force``): their data is gone with the PV; the actions name them.
    Fails, naming the group, when PVs are still missing afterwards.
    """
    vg = validate_name("volume group", vg)
    rows = [row for row in list_vgs(runner, [vg]) if row["name"] == vg]
    if not rows:
        raise StorageError("volume group %s not found" % vg)
    row = rows[0]
    state = DeviceState(name=vg, exists=True, attached=True, size_mib=row["size_mib"],
                        details=dict(row))
    outcome = ActionResult(state=state)
    if row["missing_pv_count"] or row["partial"]:
        lost = sorted(lv["name"] for lv in list_lvs(runner, [vg]) if lv["partial"])
        action = "removed %d missing physical volume(s)" % row["missing_pv_count"]
        if lost:
            action += " and the logical volume(s) on them: %s" % ", ".join(lost)
        argv = ["vgreduce", "--removemissing"] + (["--force"] if lost else []) + [vg]
        CommandBackend(runner).change("volume group %s" % vg, outcome, action, [argv],
                                      check_mode)
        state.details["removed_lvs"] = lost
        if not check_mode:
            after = list_vgs(runner, [vg])[0]
            if after["missing_pv_count"] or after["partial"]:
                raise StorageError("volume group %s still misses %d physical volume(s) after "
                                   "vgreduce --removemissing"
                                   % (vg, after["missing_pv_count"]))
            state.details.update(after)
        else:
            state.details.update(missing_pv_count=0, partial=False)
    return outcome


class LvmBackend(StorageBackend, CommandBackend):
    """Logical volumes of one volume group; a device name is the LV name."""

    kind = "lvm"

    def __init__(self, runner: Runner, vg: str) -> None:
        CommandBackend.__init__(self, self._run)
        self._runner = runner
        self._volumes: dict[str, dict[str, Any]] | None = None
        self.vg = validate_name("volume group", vg)

    def _run(self, argv: list[str]) -> Any:
        """Every command but the volume listing: what it changes is read again after it
        (``lvs`` takes half a second on a small node, and a step reads the state twice)."""
        self._volumes = None
        return self._runner(argv)

    def _what(self, name: str) -> str:
        return "logical volume %s/%s" % (self.vg, name)

    def _lv(self, name: str) -> str:
        return "%s/%s" % (self.vg, validate_name("logical volume", name))

    def volumes(self) -> dict[str, dict[str, Any]]:
        """The group's volumes by name (fails naming the group when it does not exist); read
        once until a command is run."""
        if self._volumes is None:
            self._volumes = {row["name"]: row for row in list_lvs(self._runner, [self.vg])}
        return {name: {key: list(value) if isinstance(value, list) else value
                       for key, value in row.items()}
                for name, row in self._volumes.items()}

    def free_mib(self) -> int:
        """Free space of the volume group in MiB."""
        rows = list_vgs(self._runner, [self.vg])
        if not rows:
            raise StorageError("volume group %s not found" % self.vg)
        return rows[0]["free_mib"]

    def _state(self, name: str, row: dict[str, Any] | None) -> DeviceState:
        if row is None:
            return DeviceState(name=name, path=lv_path(self.vg, name),
                               details={"vg": self.vg, "tags": [], "attr": "",
                                        "origin": "", "devices": [], "degraded": False})
        details = {key: row[key] for key in ("vg", "attr", "origin", "tags", "devices",
                                             "degraded", "snapshot")}
        return DeviceState(name=name, exists=True, attached=row["active"],
                           is_open=row["open"], path=row["path"], size_mib=row["size_mib"],
                           details=details)

    def info(self, name: str) -> DeviceState:
        validate_name("logical volume", name)
        return self._state(name, self.volumes().get(name))

    def _need_space(self, name: str, size_mib: int) -> None:
        free = self.free_mib()
        if size_mib > free:
            raise StorageError("%s: volume group %s has %d MiB free, %d MiB needed"
                               % (self._what(name), self.vg, free, size_mib))

    def create(self, name: str, size_mib: int, check_mode: bool = False,
               **options: Any) -> ActionResult:
        """Create the LV unless it exists (an existing one is left as it is: see
        ``size_mismatch`` in the details). Options: ``stripes`` (int, default 1), ``tags``
        (list, added at creation), ``wipe`` (zero the whole new volume, as Ganeti's
        prealloc_wipe_disks)."""
        state = self.info(name)
        size_mib = positive_size(self._what(name), size_mib)
        stripes = options.get("stripes") or 1
        tags = [validate_tag(t) for t in options.get("tags") or []]
        if state.exists:
            state.details["size_mismatch"] = state.size_mib != size_mib
            return ActionResult(state=state)
        if not isinstance(stripes, int) or stripes < 1:
            raise StorageError("%s: stripes must be a positive integer, got %r"
                               % (self._what(name), stripes))
        self._need_space(name, size_mib)
        argv = ["lvcreate", "-Wn", "-L", "%dm" % size_mib, "-n", name]
        if stripes > 1:
            argv += ["-i", str(stripes)]
        for tag in tags:
            argv += ["--addtag", tag]
        outcome = ActionResult(state=state)
        self.change(self._what(name), outcome, "created %d MiB" % size_mib,
                    [argv + [self.vg]], check_mode)
        if options.get("wipe"):
            self.change(self._what(name), outcome, "wiped %d MiB with zeros" % size_mib,
                        [wipe_argv(lv_path(self.vg, name), size_mib)], check_mode)
        return self._after(name, outcome, check_mode, exists=True, attached=True,
                           size_mib=size_mib, tags=tags)

    def _after(self, name: str, outcome: ActionResult, check_mode: bool,
               **expected: Any) -> ActionResult:
        """The outcome with the state read again (or, in check mode, as expected)."""
        if not check_mode:
            outcome.state = self.info(name)
            return outcome
        state = outcome.state
        for key in ("exists", "attached", "size_mib"):
            if key in expected:
                setattr(state, key, expected.pop(key))
        state.name = name
        state.path = lv_path(self.vg, name)
        state.details.update(expected)
        return outcome

    def remove(self, name: str, check_mode: bool = False) -> ActionResult:
        state = self.info(name)
        outcome = ActionResult(state=state)
        if not state.exists:
            return outcome
        if state.is_open:
            raise StorageError("%s is open (in use), not removing it" % self._what(name))
        self.change(self._what(name), outcome, "removed",
                    [["lvremove", "-f", self._lv(name)]], check_mode)
        return self._after(name, outcome, check_mode, exists=False, attached=False,
                           size_mib=0)

    def rename(self, old_name: str, new_name: str, check_mode: bool = False) -> ActionResult:
        validate_name("logical volume", old_name)
        validate_name("logical volume", new_name)
        volumes = self.volumes()
        old, new = volumes.get(old_name), volumes.get(new_name)
        outcome = ActionResult(state=self._state(new_name, new))
        if old_name == new_name:
            return outcome
        if old is not None and new is not None:
            raise StorageError("cannot rename %s to %s: the target already exists"
                               % (self._what(old_name), new_name))
        if old is None:
            if new is None:
                raise StorageError("cannot rename %s to %s: neither exists"
                                   % (self._what(old_name), new_name))
            return outcome
        outcome.state = self._state(new_name, old)
        self.change(self._what(old_name), outcome, "renamed from %s" % old_name,
                    [["lvrename", self.vg, old_name, new_name]], check_mode)
        return self._after(new_name, outcome, check_mode)

    def grow(self, name: str, size_mib: int, check_mode: bool = False) -> ActionResult:
        state = self.info(name)
        positive_size(self._what(name), size_mib)
        if not state.exists:
            raise StorageError("%s does not exist, cannot grow it" % self._what(name))
        outcome = ActionResult(state=state)
        if not check_grow(self._what(name), state.size_mib, size_mib):
            return outcome
        self._need_space(name, size_mib - state.size_mib)
        self.change(self._what(name), outcome,
                    "grown from %d MiB to %d MiB" % (state.size_mib, size_mib),
                    [["lvextend", "-L", "%dm" % size_mib, self._lv(name)]], check_mode)
        return self._after(name, outcome, check_mode, size_mib=size_mib)

    def attach(self, name: str, check_mode: bool = False) -> ActionResult:
        """Activate the LV (``lvchange -ay``) when it is not active."""
        state = self.info(name)
        if not state.exists:
            raise StorageError("%s does not exist, cannot activate it" % self._what(name))
        outcome = ActionResult(state=state)
        if not state.attached:
            self.change(self._what(name), outcome, "activated",
                        [["lvchange", "-ay", self._lv(name)]], check_mode)
        return self._after(name, outcome, check_mode, attached=True)

    def detach(self, name: str, check_mode: bool = False) -> ActionResult:
        """Deactivate the LV (``lvchange -an``); an open LV is refused."""
        state = self.info(name)
        outcome = ActionResult(state=state)
        if not state.exists or not state.attached:
            return outcome
        if state.is_open:
            raise StorageError("%s is open (in use), not deactivating it" % self._what(name))
        self.change(self._what(name), outcome, "deactivated",
                    [["lvchange", "-an", self._lv(name)]], check_mode)
        return self._after(name, outcome, check_mode, attached=False)

    def snapshot(self, name: str, snap_name: str, size_mib: int,
                 check_mode: bool = False) -> ActionResult:
        """A copy-on-write snapshot ``snap_name`` of ``name`` with ``size_mib`` of room for
        changes (``lvcreate -s``); an existing snapshot of the same origin is kept."""
        validate_name("logical volume", name)
        validate_name("logical volume", snap_name)
        positive_size(self._what(snap_name), size_mib)
        volumes = self.volumes()
        if name not in volumes:
            raise StorageError("%s does not exist, cannot snapshot it" % self._what(name))
        snap = volumes.get(snap_name)
        outcome = ActionResult(state=self._state(snap_name, snap))
        if snap is not None:
            if snap["origin"] != name:
                raise StorageError("cannot snapshot %s as %s: %s exists and is not its "
                                   "snapshot" % (self._what(name), snap_name, snap_name))
            return outcome
        self._need_space(snap_name, size_mib)
        self.change(self._what(snap_name), outcome,
                    "created snapshot of %s with %d MiB" % (name, size_mib),
                    [["lvcreate", "-s", "-L", "%dm" % size_mib, "-n", snap_name,
                      self._lv(name)]], check_mode)
        return self._after(snap_name, outcome, check_mode, exists=True, attached=True,
                           size_mib=size_mib, origin=name, snapshot=True)

    def set_tags(self, name: str, add: Sequence[str] = (), remove: Sequence[str] = (),
                 check_mode: bool = False) -> ActionResult:
        """Add the ``add`` tags the LV lacks and remove the ``remove`` tags it has."""
        state = self.info(name)
        if not state.exists:
            raise StorageError("%s does not exist, cannot tag it" % self._what(name))
        current = list(state.details["tags"])
        outcome = ActionResult(state=state)
        for tag in [validate_tag(t) for t in add]:
            if tag not in current:
                self.change(self._what(name), outcome, "added tag %s" % tag,
                            [["lvchange", "--addtag", tag, self._lv(name)]], check_mode)
                current.append(tag)
        for tag in [validate_tag(t) for t in remove]:
            if tag in current:
                self.change(self._what(name), outcome, "removed tag %s" % tag,
                            [["lvchange", "--deltag", tag, self._lv(name)]], check_mode)
                current.remove(tag)
        return self._after(name, outcome, check_mode, tags=current)

    def adopt(self, name: str) -> DeviceState:
        """Check that an existing LV can be adopted by an instance: it exists, is neither
        open nor a snapshot nor degraded. Returns its state (its size is the disk's size)."""
        state = self.info(name)
        if not state.exists:
            raise StorageError("cannot adopt %s: it does not exist" % self._what(name))
        if state.is_open:
            raise StorageError("cannot adopt %s: it is open (in use)" % self._what(name))
        if state.details["snapshot"] or state.details["origin"]:
            raise StorageError("cannot adopt %s: it is a snapshot" % self._what(name))
        if state.details["degraded"]:
            raise StorageError("cannot adopt %s: it is degraded (physical volumes missing)"
                               % self._what(name))
        return state

    def verify(self) -> list[str]:
        rows = list_vgs(self._runner, [self.vg])
        if not rows:
            return ["volume group %s not found" % self.vg]
        problems = []
        if rows[0]["missing_pv_count"] or rows[0]["partial"]:
            problems.append("volume group %s misses %d physical volume(s)"
                            % (self.vg, rows[0]["missing_pv_count"]))
        for row in list_lvs(self._runner, [self.vg]):
            if row["degraded"]:
                problems.append("logical volume %s is degraded" % row["path"])
        return problems


def wipe_argv(path: str, size_mib: int) -> list[str]:
    """Zero the first ``size_mib`` MiB of the device at ``path`` (direct I/O, no cache)."""
    return ["dd", "if=/dev/zero", "of=%s" % path, "bs=1M", "count=%d" % size_mib,
            "oflag=direct", "conv=notrunc", "status=none"]
