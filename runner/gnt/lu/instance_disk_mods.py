"""``gnt-instance modify --disk``: adding, removing and changing an instance's disks.

The modifications are Ganeti's container modifications (:mod:`gnt.lu.container_mods`):

- ``add``: a new disk of the instance's own disk template at an index (file, sharedfile,
  plain, drbd, ext; checked and given space as at instance add), made on the instance's
  node(s) empty, then recorded. A drbd disk is made on both nodes, the primary's end forced
  up to date and (unless ``--no-wait-for-sync``) its resync waited for; it stays assembled
  when the instance runs or its disks are active, and is shut down otherwise. A running
  instance sees the new disk at its next start (no hotplug).
- ``remove``: a stopped instance's disk; its storage is removed on its node(s), its drbd port
  given back, and it leaves the config.
- ``modify``: the disk's access mode and name (an ext disk: its ExtStorage parameters too);
  config only.

Every disk's ``iv_name`` is ``disk/N`` after the change. When making a new disk fails, what
was made is removed and the new disk leaves the config again (or the message says how).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from gnt.config import drbdmap, objects
from gnt.config.objects import new_uuid
from gnt.core.errors import (
    ECODE_INVAL,
    ECODE_NOTUNIQUE,
    ECODE_STATE,
    GntError,
    OpExecError,
    OpPrereqError,
)
from gnt.core.units import UnitError, parse_size_mib
from gnt.lu import container_mods, instance_drbd, instance_ext, instance_storage
from gnt.lu.container_mods import ADD, MODIFY, REMOVE
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import FILE_TEMPLATES, disk_path, instance_spec, node_vars
from gnt.opcodes import params

MAX_DISKS = 16
ADDABLE = (params.DT_FILE, params.DT_SHARED_FILE, params.DT_PLAIN, params.DT_DRBD8,
           params.DT_EXT)
# What ``modify`` may change (Ganeti's MODIFIABLE_IDISK_PARAMS); an ext disk also changes its
# ExtStorage parameters, but never these (Ganeti's check).
MODIFIABLE = ("mode", "name")
EXT_FIXED = ("access", "provider")
# The keys ``add`` takes for the templates other than ext (ext: any ExtStorage parameter too).
# Ganeti 3.0's attach/detach of disks: refused.
UNSUPPORTED = ("attach", "detach")
ADD_KEYS = ("size", "mode", "name", "vg", "metavg", "spindles", "type")


def _none_name(values: dict[str, Any]) -> None:
    """``name=none`` unsets the name (Ganeti's VALUE_NONE)."""
    name = values.get("name")
    if name is not None and str(name).lower() == "none":
        values["name"] = None


def _check_add(ident: Any, values: dict[str, Any], template: str) -> None:
    """Ganeti's checks of a new disk: the instance's template, a size, a valid mode."""
    given_type = values.pop("type", None)
    if template == params.DT_DISKLESS:
        raise OpPrereqError("Must specify disk type on diskless instance" if given_type is None
                            else f"Cannot add a '{given_type}' disk to a diskless instance:"
                            " changing the disk template by adding disks is not supported",
                            ECODE_INVAL)
    if given_type is not None and given_type != template:
        raise OpPrereqError(f"Disk type '{given_type}' differs from the instance's disk"
                            f" template '{template}' (instances of mixed disk templates are"
                            " not supported)", ECODE_INVAL)
    if template not in ADDABLE:
        raise OpPrereqError(f"Cannot add disks to an instance of disk template '{template}'",
                            ECODE_INVAL)
    if template != params.DT_EXT:
        unknown = sorted(set(values) - set(ADD_KEYS))
        if unknown:
            raise OpPrereqError(f"Unknown disk parameter(s) {', '.join(unknown)} (valid:"
                                f" {', '.join(ADD_KEYS)})", ECODE_INVAL)
    elif "adopt" in values:
        raise OpPrereqError("Disk adoption is not possible when adding a disk", ECODE_INVAL)
    mode = values.setdefault("mode", params.DISK_MODE_DEFAULT)
    if mode not in params.DISK_MODES:
        raise OpPrereqError(f"Invalid disk access mode '{mode}'", ECODE_INVAL)
    if values.get("size") is None:
        raise OpPrereqError("Required disk parameter 'size' missing", ECODE_INVAL)
    try:
        values["size"] = int(parse_size_mib(values["size"]))
    except UnitError as err:
        raise OpPrereqError(f"Invalid disk size '{values['size']}': {err}",
                            ECODE_INVAL) from err
    if values["size"] <= 0:
        raise OpPrereqError(f"Invalid disk size {values['size']} MiB (must be positive)",
                            ECODE_INVAL)
    if values.get("spindles") is not None:
        raise OpPrereqError("Spindles in instance disks cannot be specified when exclusive"
                            f" storage is not active (spindles={values['spindles']})",
                            ECODE_INVAL)
    values.pop("spindles", None)
    _none_name(values)
    values.update(instance_ext.ext_disk_params(ident, values, template))


def _check_modify(values: dict[str, Any], template: str) -> None:
    """Ganeti's checks of a change: mode and name only (ext: and ExtStorage parameters)."""
    if "size" in values:
        raise OpPrereqError("Disk size change not possible, use grow-disk", ECODE_INVAL)
    if template == params.DT_EXT:
        for key in EXT_FIXED:
            if key in values:
                raise OpPrereqError(f"Disk '{key}' parameter change is not possible",
                                    ECODE_INVAL)
        for key in set(values) - set(MODIFIABLE):
            if key in params.IDISK_PARAMS or not params.EXT_PARAM_RE.match(str(key)):
                raise OpPrereqError(f"Disk parameter '{key}' cannot be changed", ECODE_INVAL)
    else:
        fixed = sorted(set(values) - set(MODIFIABLE))
        if fixed:
            raise OpPrereqError(f"Disk parameter(s) {', '.join(fixed)} cannot be changed"
                                f" (only {' and '.join(MODIFIABLE)})", ECODE_INVAL)
    if "mode" in values and values["mode"] not in params.DISK_MODES:
        raise OpPrereqError(f"Invalid disk access mode '{values['mode']}'", ECODE_INVAL)
    _none_name(values)


def normalize(mods: list[Any], template: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """The modifications as ``(action, identifier, params)``, each checked for an instance
    of disk template ``template`` (sizes in MiB)."""
    for item in mods:
        if item and item[0] in UNSUPPORTED:
            raise OpPrereqError(f"Disk modification '{item[0]}' is not supported in this"
                                " release (only add, remove and modify)", ECODE_INVAL)
    result = []
    for action, ident, values in container_mods.normalize(mods, "disk"):
        if action == ADD:
            _check_add(ident, values, template)
        elif action == MODIFY:
            _check_modify(values, template)
        result.append((action, ident, values))
    return result


def _check_names(disks: list[dict[str, Any]]) -> None:
    """Ganeti's rules for disk names: not purely numeric, unique in the instance."""
    for disk in disks:
        name = disk.get("name")
        if name is not None and str(name).isdigit():
            raise OpPrereqError(f"Invalid name '{name}'. Purely numeric disk names are not"
                                " allowed", ECODE_INVAL)
    dupe = container_mods.duplicate_name(disks)
    if dupe:
        raise OpPrereqError(f"disk name '{dupe}' already used", ECODE_NOTUNIQUE)


class DiskMods:
    """The instance's new disk list and what changes, computed in check_prereq
    (:meth:`check`) and carried out by :meth:`run`."""

    def __init__(self, lu: Any, instance: dict[str, Any], mods: list[Any]) -> None:
        self.lu, self.cfg = lu, lu.cfg
        self.instance = instance
        self.template = str(instance["disk_template"])
        self.mods = normalize(mods, self.template)
        # the disks after the change: config objects (copies), new ones not yet in the config
        self.disks = [copy.deepcopy(disk) for disk in self.cfg.instance_disks(instance)]
        self.original = {disk["uuid"]: copy.deepcopy(disk) for disk in self.disks}
        self.added: dict[str, dict[str, Any]] = {}     # new disk uuid -> its add values
        self.removed: list[tuple[int, dict[str, Any]]] = []   # (old index, disk)
        self.changes: list[list[str]] = []

    def check(self) -> None:
        """Apply the modifications to a copy of the disks; check names, count, the
        instance's state and nodes, and the space for new disks."""
        old = [disk["uuid"] for disk in self.disks]
        for action, ident, values in self.mods:
            idx = container_mods.index(self.disks, ident, action, "disk")
            if action == ADD:
                disk = {"uuid": new_uuid(), "dev_type": self.template, "size": values["size"],
                        "mode": values["mode"], "name": values.get("name")}
                self.added[disk["uuid"]] = values
                self.disks.insert(idx, disk)
                self.changes.append([f"disk/{idx}", f"add:size={disk['size']},"
                                                    f"mode={disk['mode']}"])
            elif action == REMOVE:
                disk = self.disks.pop(idx)
                if disk["uuid"] in self.added:
                    del self.added[disk["uuid"]]
                else:
                    self.removed.append((old.index(disk["uuid"]), disk))
                self.changes.append([f"disk/{idx}", "remove"])
            else:
                self._modify(idx, self.disks[idx], values)
        _check_names(self.disks)
        if len(self.disks) > MAX_DISKS:
            raise OpPrereqError(f"Instance has too many disks ({MAX_DISKS}), cannot add more",
                                ECODE_STATE)
        if self.removed and not self.lu.op["hotplug"]:    # hotplug: refused after this
            self._check_stopped()
        if self.added or self.removed:
            self._check_nodes()
        if self.added:
            self._check_new()

    def _modify(self, idx: int, disk: dict[str, Any], values: dict[str, Any]) -> None:
        """A change of mode, name or (ext) ExtStorage parameters, reported as Ganeti does."""
        if "mode" in values:
            disk["mode"] = values["mode"]
            self.changes.append([f"disk.mode/{idx}", str(disk["mode"])])
        if "name" in values:
            disk["name"] = values["name"]
            self.changes.append([f"disk.name/{idx}", str(disk["name"])])
        if disk.get("dev_type") != params.DT_EXT:
            return
        ext = disk.setdefault("params", {})
        for key, value in sorted(values.items()):
            if key in MODIFIABLE:
                continue
            if str(value).lower() == "default":
                ext.pop(key, None)
            else:
                ext[key] = str(value)
            self.changes.append([f"disk.params:{key}/{idx}", str(value)])

    def _check_stopped(self) -> None:
        """Removing needs the instance down (Ganeti: without hotplug)."""
        why = "can't remove volume from a running instance without using hotplug"
        inst = self.instance
        if inst["admin_state"] not in ("down", "offline"):
            raise OpPrereqError(f"Instance '{inst['name']}' is marked to be"
                                f" {inst['admin_state']}, {why}", ECODE_STATE)
        if not self.lu.node["offline"] and self.lu.is_running():
            raise OpPrereqError(f"Instance {inst['name']} is running, {why}", ECODE_STATE)

    def _check_nodes(self) -> None:
        """Storage is made or removed on every node of the instance: all online."""
        for node in instance_drbd.instance_nodes(self.cfg, self.instance):
            if node["offline"]:
                raise OpPrereqError(f"Node {node['name']} of instance {self.instance['name']}"
                                    " is offline: cannot add or remove disks", ECODE_STATE)

    def _check_new(self) -> None:
        """--no-wait-for-sync only with active disks (Ganeti); the space (LVM) or the
        provider (ext) of the new disks."""
        if not self.lu.op["wait_for_sync"] and not self._disks_active():
            raise OpPrereqError("Can't add a disk to an instance with deactivated disks and"
                                " --no-wait-for-sync given", ECODE_INVAL)
        new = list(self.added.values())
        pnode = self.lu.node
        if self.template in instance_storage.LVM_TEMPLATES:
            requests = instance_storage.check_requests(
                self.template, new, [v["size"] for v in new], [v["mode"] for v in new],
                self.cfg.cluster(), None, "create")
            instance_storage.apply_group_metavg(self.cfg, pnode, requests)
            for values, req in zip(new, requests, strict=True):
                values["vg"], values["metavg"] = req.vg, req.metavg
            instance_storage.check_free_space(
                self.cfg, instance_drbd.instance_nodes(self.cfg, self.instance),
                instance_storage.space_per_vg(self.template, requests))
        elif self.template == params.DT_EXT:
            instance_ext.check_providers(self.cfg, pnode, new)

    def _disks_active(self) -> bool:
        """Ganeti's ``disks_active`` flag of the instance (a start or activate-disks set it)."""
        return objects.disks_active(self.instance)

    # -- execution -------------------------------------------------------------------

    def run(self) -> None:
        """Remove the removed disks' storage, record the new disk list, make the new disks
        (undone when that fails)."""
        old_instance = copy.deepcopy(self.instance)
        keep_active = bool(self.added) and self._keep_active()
        if self.removed:
            indexes = [index for index, _disk in self.removed]
            self.lu.log(f"* removing disk(s) {', '.join(map(str, indexes))} of"
                        f" {self.instance['name']}")
            try:
                self.lu.run_plays(self._remove_plays(old_instance, indexes),
                                  f"remove disks of {self.instance['name']}")
            except GntError as err:
                raise OpExecError(f"{err}\nThe config is unchanged; the storage of disk(s)"
                                  f" {', '.join(map(str, indexes))} may be partly removed."
                                  " Fix the cause and run the modify again") from err
        self._record()
        if not self.added:
            return
        new_indexes = [index for index, disk in enumerate(self.disks)
                       if disk["uuid"] in self.added]
        self.lu.log(f"* creating disk(s) {', '.join(map(str, new_indexes))} of"
                    f" {self.instance['name']}")
        try:
            self.lu.run_plays(self._create_plays(new_indexes, keep_active),
                              f"create the new disks of {self.instance['name']}")
        except GntError as err:
            raise OpExecError(f"{err}\n{self._undo(new_indexes)}") from err
        if self.instance["admin_state"] == "up":
            self.lu.log("The new disk(s) take effect at the next start of the instance")

    def _keep_active(self) -> bool:
        """Whether new drbd/ext disks stay assembled after their creation (the instance's
        disks are marked active, or it runs), as Ganeti's _PostAddDisk."""
        return objects.disks_active(self.instance) or bool(
            not self.lu.node["offline"] and self.lu.is_running())

    def _remove_plays(self, instance: dict[str, Any], indexes: list[int]) -> list[Play]:
        """What removes the storage of disks ``indexes`` of ``instance`` (as in the config)."""
        if instance_drbd.is_drbd(instance):
            return [self._drbd_play(instance, indexes, "absent", "remove mirrored disks")]
        spec = instance_spec(self.cfg, instance)
        spec["disks"] = [disk for disk in spec["disks"] if disk["index"] in indexes]
        return [Play("instance_disk_remove", {self.lu.node["name"]: {
            "gnt_instance": spec, "gnt_node": node_vars(self.cfg, self.lu.node)}},
            title="remove disks")]

    def _drbd_play(self, instance: dict[str, Any], indexes: list[int], state: str,
                   title: str, **flags: bool) -> Play:
        """The instance_drbd role on both nodes for the ends of disks ``indexes`` only
        (``state`` ``primary`` on the primary means: the secondary's ends ``secondary``)."""
        hosts = {}
        for node in instance_drbd.instance_nodes(self.cfg, instance):
            here = state
            if state == "primary" and node["uuid"] != instance["primary_node"]:
                here = "secondary"
            promoted = here == "primary"
            own = {key: value and (promoted or key not in ("force", "wait_sync"))
                   for key, value in flags.items()}
            hosts[node["name"]] = instance_drbd.end_vars(self.cfg, instance, node, here,
                                                         indexes=indexes, **own)
        return Play(instance_drbd.ROLE, hosts, title=title)

    def _create_plays(self, indexes: list[int], keep_active: bool) -> list[Play]:
        """What makes the new disks ``indexes`` (the instance as now in the config)."""
        inst = self.instance
        if instance_drbd.is_drbd(inst):
            plays = [self._drbd_play(inst, indexes, "primary", "create mirrored disks",
                                     create=True, force=True,
                                     wait_sync=bool(self.lu.op["wait_for_sync"]))]
            if self.lu.op["wait_for_sync"]:
                self.lu.log("* waiting for the new disks' DRBD resync (--no-wait-for-sync"
                            " skips it)")
            if not keep_active:
                plays.append(self._drbd_play(inst, indexes, "down", "shut down new disks"))
            return plays
        spec = instance_spec(self.cfg, inst)
        spec["disks"] = [disk for disk in spec["disks"] if disk["index"] in indexes]
        plays = [Play("instance_create", {self.lu.node["name"]: {
            "gnt_instance": spec, "gnt_node": node_vars(self.cfg, self.lu.node),
            "gnt_install": False}}, title="create disks")]
        if instance_ext.is_ext(inst) and not keep_active:
            plays.append(instance_ext.attach_play(self.cfg, inst, self.lu.node, False))
        return plays

    def _planned(self, index: int, values: dict[str, Any], taken: dict[str, set[int]],
                 used_paths: set[str]) -> dict[str, Any]:
        """The device fields of a new disk at ``index`` (file: a file name no disk of the
        instance has; plain/drbd: new LV names and minors; ext: a new volume name)."""
        inst, size = self.instance, int(values["size"])
        if self.template in FILE_TEMPLATES:
            cluster = self.cfg.cluster()

            def file_at(number: int) -> str:
                return disk_path(cluster, self.template, inst["name"], number)
            path = file_at(index)
            if path in used_paths:     # indexes shift after removals: diskN may be taken
                path = next(file_at(n) for n in itertools.count() if file_at(n) not in used_paths)
            used_paths.add(path)
            return {"dev_type": self.template, "logical_id": ["loop", path], "size": size}
        if self.template == params.DT_PLAIN:
            return drbdmap.plain_disk(values["vg"], drbdmap.new_lv_name(index), size)
        if self.template == params.DT_DRBD8:
            pnode, snode = (node["uuid"] for node in
                            instance_drbd.instance_nodes(self.cfg, inst))
            minors = drbdmap.allocate_minors(self.cfg.data, [pnode, snode], taken)
            return drbdmap.drbd_disk(pnode, snode, 0, minors, drbdmap.new_secret(), size,
                                     values["vg"], values["metavg"], index)
        return instance_ext.ext_device(values, index)

    def _record(self) -> None:
        """The new disk list in one config write: new disks (drbd: with their ports),
        changed and renumbered ones, removed ones gone (drbd: ports given back)."""
        inst = self.instance
        nodes = [str(node["uuid"]) for node in instance_drbd.instance_nodes(self.cfg, inst)]
        taken: dict[str, set[int]] = {}
        used_paths = {str(disk["logical_id"][1]) for disk in self.disks
                      if disk["uuid"] not in self.added}
        final = []
        for index, disk in enumerate(self.disks):
            if disk["uuid"] in self.added:
                device = self._planned(index, self.added[disk["uuid"]], taken, used_paths)
                disk = {"uuid": disk["uuid"], **device, "size": disk["size"],
                        "mode": disk["mode"], "nodes": nodes,
                        **({"name": disk["name"]} if disk.get("name") else {})}
            disk["iv_name"] = f"disk/{index}"
            final.append(disk)
        new = [disk for disk in final if disk["uuid"] in self.added]
        kept = [disk for disk in final if disk["uuid"] not in self.added]
        released = [int(disk["logical_id"][drbdmap.LID_PORT]) for _index, disk in self.removed
                    if disk.get("dev_type") == params.DT_DRBD8]
        template = self.template if final else params.DT_DISKLESS

        def change(obj: dict[str, Any]) -> None:
            obj["disks"] = [disk["uuid"] for disk in final]
            obj["disk_template"] = template
        with self.cfg.transaction():
            self.ports = instance_storage.allocate_ports(self.cfg, new)
            for disk in new:
                self.cfg.add("disks", disk)
            if kept:
                self.cfg.replace_many({"disks": kept})
            for _index, disk in self.removed:
                self.cfg.remove("disks", disk["uuid"])
            self.instance = self.cfg.modify("instances", inst["uuid"], change)
            instance_storage.release_ports(self.cfg, released)
        self.disks = final

    def _undo(self, indexes: list[int]) -> str:
        """After a failed creation: remove what may have been made, then the new disks from
        the config (or say how)."""
        inst = self.instance
        what = ", ".join(f"disk/{index}" for index in indexes)
        try:
            self.lu.run_plays(self._remove_plays(inst, indexes),
                              f"remove the new disks of {inst['name']}")
        except GntError as err:
            commands = "; ".join(f"gnt-instance modify --disk {index}:remove {inst['name']}"
                                 for index in sorted(indexes, reverse=True))
            return (f"The new disk(s) ({what}) could not be removed again ({err}); they stay in"
                    f" the config: run {commands}")
        removed = {disk["uuid"] for _index, disk in self.removed}
        # the disks as before, less those removed (their storage is gone)
        final = [copy.deepcopy(disk) for uuid, disk in self.original.items()
                 if uuid not in removed]
        for index, disk in enumerate(final):
            disk["iv_name"] = f"disk/{index}"
        template = self.template if final else params.DT_DISKLESS

        def change(obj: dict[str, Any]) -> None:
            obj["disks"] = [disk["uuid"] for disk in final]
            obj["disk_template"] = template
        with self.cfg.transaction():
            for uuid in self.added:
                self.cfg.remove("disks", uuid)
            if final:
                self.cfg.replace_many({"disks": final})
            self.instance = self.cfg.modify("instances", inst["uuid"], change)
            instance_storage.release_ports(self.cfg, self.ports)
        return (f"What was made of the new disk(s) ({what}) was removed; they are not in the"
                " config")
