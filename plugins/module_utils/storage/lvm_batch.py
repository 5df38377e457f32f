# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""A list of logical volume steps (create, rename, remove) done in one module call, in order.

``lvm_volume``'s ``volumes`` option: on a TCG guest node each module call costs seconds, and
replace-disks' volume swap was ten of them per disk. Each step is the single-volume
operation of :class:`~.lvm.LvmBackend` (same checks, commands and idempotence); what this adds
is one ``lvs`` and one ``vgs`` per volume group for the whole list instead of a read before and
after every command: :class:`BatchLvm` keeps its table of volumes and the group's free space
up to date itself as the steps run (in check mode, as they would run), so a later step sees
what an earlier one made (a rename into a name an earlier step freed). The volumes are read
once more at the end, when something changed, for the states returned.

The first failing step stops the list: the error names its volume and command and lists the
steps already done, in this call, before it.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

from collections.abc import Sequence
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    Runner,
    StorageError,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.lvm import LvmBackend, lv_path

DIFF_KEYS = ("exists", "size_mib")


class BatchLvm(LvmBackend):
    """An :class:`LvmBackend` whose volume table and free space are read once and then kept
    by :meth:`record` (the base class reads the volumes again after every command)."""

    def __init__(self, runner: Runner, vg: str) -> None:
        LvmBackend.__init__(self, runner, vg)
        self._free: int | None = None

    def _run(self, argv: list[str]) -> Any:
        return self._runner(argv)       # the table stays: record() brings it up to date

    def free_mib(self) -> int:
        if self._free is None:
            self._free = LvmBackend.free_mib(self)
        return self._free

    def table(self) -> dict[str, dict[str, Any]]:
        """The volumes as this batch knows them (read on first use)."""
        self.volumes()
        if self._volumes is None:    # volumes() has just read it
            raise StorageError("volume group %s: its volumes were not read" % self.vg)
        return self._volumes

    def record(self, kind: str, name: str, old_name: str = "", size_mib: int = 0,
               tags: Sequence[str] = ()) -> None:
        """Bring the table up to date after a step that changed something."""
        table = self.table()
        if kind == "created":
            table[name] = {"vg": self.vg, "name": name, "path": lv_path(self.vg, name),
                           "size_mib": size_mib, "attr": "-wi-a-----", "origin": "",
                           "tags": list(tags), "devices": [], "snapshot": False,
                           "virtual": False, "active": True, "open": False, "partial": False,
                           "degraded": False}
            self._free = self.free_mib() - size_mib
        elif kind == "renamed":
            row = table.pop(old_name)
            row.update(name=name, path=lv_path(self.vg, name))
            table[name] = row
        elif kind == "removed":
            row = table.pop(name)
            self._free = self.free_mib() + row["size_mib"]

    def reread(self) -> None:
        """Forget the table: the next use reads the volumes from ``lvs`` again."""
        self._volumes = None


def _step(backend: BatchLvm, entry: dict[str, Any], check_mode: bool) -> ActionResult:
    """One entry of the list: its single-volume operation, the table brought up to date."""
    name = entry["name"]
    if entry.get("state", "present") == "absent":
        outcome = backend.remove(name, check_mode=check_mode)
        if outcome.changed:
            backend.record("removed", name)
        return outcome
    if entry.get("rename_from"):
        if entry.get("size_mib") is not None:
            raise StorageError("logical volume %s/%s: give either rename_from or size_mib, "
                               "not both" % (backend.vg, name))
        outcome = backend.rename(entry["rename_from"], name, check_mode=check_mode)
        if outcome.changed:
            backend.record("renamed", name, old_name=entry["rename_from"])
        return outcome
    if entry.get("size_mib") is None:
        state = backend.info(name)
        if not state.exists:
            raise StorageError("logical volume %s/%s does not exist: size_mib is required to "
                               "create a volume" % (backend.vg, name))
        return ActionResult(state=state)
    outcome = backend.create(name, entry["size_mib"], check_mode=check_mode,
                             stripes=entry.get("stripes") or 1, wipe=entry.get("wipe", False))
    if outcome.changed:
        backend.record("created", name, size_mib=entry["size_mib"])
    return outcome


def _snapshot(backends: dict[str, BatchLvm], keys: Sequence[tuple[str, str]]
              ) -> dict[str, dict[str, Any]]:
    """``vg/name`` -> the diff keys of each volume in ``keys``, from the tables."""
    result = {}
    for vg, name in keys:
        row = backends[vg].table().get(name)
        result["%s/%s" % (vg, name)] = {"exists": row is not None,
                                        "size_mib": row["size_mib"] if row else 0}
    return result


def apply_volumes(runner: Runner, entries: Sequence[dict[str, Any]],
                  check_mode: bool = False) -> dict[str, Any]:
    """Do the ``entries`` (dicts with ``vg``, ``name`` and optionally ``state``, ``size_mib``,
    ``stripes``, ``wipe``, ``rename_from``) in order; a module result: ``changed``,
    ``actions`` (``vg/name: action``), ``volumes`` (per entry: its volume's state at the end
    of the call, or as it would be in check mode, and its step's ``actions``) and ``diff``
    (existence and size of every volume named, before and after).

    Raises :class:`StorageError` at the first failing entry, naming its volume, with the
    steps already done before it.
    """
    backends: dict[str, BatchLvm] = {}
    keys: list[tuple[str, str]] = []
    for entry in entries:
        if entry["vg"] not in backends:
            backends[entry["vg"]] = BatchLvm(runner, entry["vg"])
        for name in (entry.get("rename_from"), entry["name"]):
            if name and (entry["vg"], name) not in keys:
                keys.append((entry["vg"], name))
    before = _snapshot(backends, keys)
    actions: list[str] = []
    steps: list[tuple[list[str], bool]] = []
    for entry in entries:
        what = "%s/%s" % (entry["vg"], entry["name"])
        try:
            outcome = _step(backends[entry["vg"]], entry, check_mode)
        except StorageError as err:
            done = "; ".join(actions)
            raise StorageError("%s%s" % (err, "; done before it in this call: %s" % done
                                         if done else "")) from err
        actions += ["%s: %s" % (what, action) for action in outcome.actions]
        steps.append((outcome.actions, bool(outcome.state.details.get("size_mismatch"))))
    if actions and not check_mode:
        for backend in backends.values():
            backend.reread()
    results = []
    for entry, (step_actions, mismatch) in zip(entries, steps):
        item = backends[entry["vg"]].info(entry["name"]).as_dict()
        item.pop("snapshot", None)
        item.update(changed=bool(step_actions), actions=step_actions, size_mismatch=mismatch)
        results.append(item)
    return {"changed": bool(actions), "actions": actions, "volumes": results,
            "diff": {"before": before, "after": _snapshot(backends, keys)}}
