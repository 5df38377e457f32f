"""``gnt-instance recreate-disks``: make a stopped instance's lost disks again, empty, as
Ganeti's LUInstanceRecreateDisks does.

- Every disk, or only those listed (``disks``: indexes, or ``[index, {size, mode}]`` pairs,
  whose size and access mode are changed on the way; a drbd disk's data volume follows its
  size).
- On the instance's nodes, or on new ones (``nodes``: as many as the instance has, the first
  the new primary; or chosen by ``iallocator``), only when every disk is recreated. A drbd disk
  then gets a new minor on each new node and keeps its port and secret; what is left on the old
  nodes is not touched (they are usually dead), as in Ganeti.
- Only missing disks can be recreated: as Ganeti (whose creation fails on an existing LV or
  file), a volume or file of a disk to recreate that still exists on a target node is refused,
  here before anything changes, naming the node and the volume.
- The new disks are empty (file, plain: ``instance_create`` without the OS install; drbd:
  ``instance_drbd`` create, the primary's ends forced up to date and the resync waited for,
  then the ends torn down again as for any stopped instance). ``gnt-instance reinstall``
  puts an OS on them.
"""

from __future__ import annotations

import copy
from typing import Any

from gnt import iallocator as ia
from gnt.config import drbdmap
from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_EXISTS,
    ECODE_INVAL,
    ECODE_STATE,
    GntError,
    OpExecError,
    OpPrereqError,
)
from gnt.core.locklevels import ALL, LEVEL_NODE, LEVEL_NODE_RES
from gnt.core.units import UnitError, parse_size_mib
from gnt.lu import instance_drbd, instance_storage, placement
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import instance_spec, node_vars
from gnt.opcodes import params

# What may change while recreating (Ganeti's _MODIFYABLE); the other disk parameters may not.
MODIFIABLE = ("size", "mode", "spindles")
KNOWN_DISK_PARAMS = (*MODIFIABLE, "adopt", "vg", "metavg", "provider", "name", "access", "type")
RECREATABLE = (params.DT_FILE, params.DT_SHARED_FILE, params.DT_PLAIN, params.DT_DRBD8)
FILE_TEMPLATES = (params.DT_FILE, params.DT_SHARED_FILE)


def normalized_disks(given: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    """The opcode's ``disks`` as ``[(index, changes)]`` sorted by index: a plain list of indexes
    (Ganeti's older form) means no changes. Duplicates and parameters that cannot change are
    refused (Ganeti's messages); sizes become MiB, modes are checked."""
    pairs: list[tuple[int, dict[str, Any]]]
    if given and not isinstance(given[0], (list, tuple)):
        pairs = [(int(index), {}) for index in sorted(set(given))]
    else:
        pairs = [(int(index), dict(changes)) for index, changes in given]
    indexes = [index for index, _changes in pairs]
    duplicates = sorted({index for index in indexes if indexes.count(index) > 1})
    if duplicates:
        raise OpPrereqError("Some disks have been specified more than once:"
                            f" {', '.join(map(str, duplicates))}", ECODE_INVAL)
    return sorted(((index, _checked_changes(index, changes)) for index, changes in pairs),
                  key=lambda pair: pair[0])


def _checked_changes(index: int, changes: dict[str, Any]) -> dict[str, Any]:
    """One disk's changes: only size (MiB, units allowed), mode and spindles."""
    unknown = sorted(set(changes) - set(KNOWN_DISK_PARAMS))
    if unknown:
        raise OpPrereqError(f"Unknown disk parameter(s) for disk {index}:"
                            f" {', '.join(unknown)}", ECODE_INVAL)
    fixed = sorted(set(changes) - set(MODIFIABLE))
    if fixed:
        raise OpPrereqError(f"Parameters for disk {index} try to change unmodifyable"
                            f" parameter(s): {', '.join(fixed)}", ECODE_INVAL)
    checked = dict(changes)
    if "size" in checked:
        try:
            checked["size"] = int(parse_size_mib(checked["size"]))
        except UnitError as err:
            raise OpPrereqError(f"Invalid disk size for disk {index}: {err}",
                                ECODE_INVAL) from err
        if checked["size"] <= 0:
            raise OpPrereqError(f"Invalid disk size for disk {index}: {checked['size']} MiB"
                                " (must be positive)", ECODE_INVAL)
    if "mode" in checked and checked["mode"] not in params.DISK_MODES:
        raise OpPrereqError(f"Invalid mode '{checked['mode']}' for disk {index}"
                            f" ({' or '.join(params.DISK_MODES)})", ECODE_INVAL)
    if checked.get("spindles") is not None:
        # no exclusive storage here: as Ganeti's check without it
        raise OpPrereqError("Spindles in instance disks cannot be specified when exclusive"
                            f" storage is not active (disk {index}:"
                            f" spindles={checked['spindles']})", ECODE_INVAL)
    checked.pop("spindles", None)
    return checked


@register
class LUInstanceRecreateDisks(InstanceLU):
    """Recreate the missing disks of a stopped instance, optionally on new nodes."""

    OP_ID = "OP_INSTANCE_RECREATE_DISKS"
    LOCK_NODE_RES = True
    SHARED_LEVELS = frozenset()       # the disks' nodes are changed: node locks exclusive

    def check_arguments(self) -> None:
        self.changes = normalized_disks(self.op["disks"])
        if self.op["nodes"] and self.op["iallocator"]:
            raise OpPrereqError("Do not specify both, iallocator and node (-n"
                                f" {':'.join(self.op['nodes'])} and -I {self.op['iallocator']})",
                                ECODE_INVAL)

    def expand_names(self) -> None:
        super().expand_names()
        self.new_nodes = [self.cfg.lookup("nodes", name) for name in self.op["nodes"]]

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        if self.op["iallocator"]:
            locks[LEVEL_NODE] = locks[LEVEL_NODE_RES] = ALL
        elif self.new_nodes:
            nodes = sorted({*self.locked_nodes(), *(str(n["uuid"]) for n in self.new_nodes)})
            locks[LEVEL_NODE], locks[LEVEL_NODE_RES] = nodes, list(nodes)
        return locks

    def check_prereq(self) -> None:
        super().check_prereq()
        # the new nodes as they are now, under the locks
        self.new_nodes = [self.cfg.get("nodes", node["uuid"]) for node in self.new_nodes]
        inst = self.instance
        disks = self.cfg.instance_disks(inst)
        template = inst["disk_template"]
        if not disks:
            raise OpPrereqError(f"Instance '{self.name}' has no disks", ECODE_INVAL)
        if template not in RECREATABLE:
            raise OpPrereqError(f"Instance '{self.name}' has disk template '{template}':"
                                " recreate-disks handles only"
                                f" {', '.join(RECREATABLE)} disks", ECODE_INVAL)
        current = instance_drbd.instance_nodes(self.cfg, inst)
        moving = bool(self.new_nodes or self.op["iallocator"])
        if self.new_nodes and len(self.new_nodes) != len(current):
            raise OpPrereqError(f"Instance {self.name} currently has {len(current)} nodes, but"
                                f" {len(self.new_nodes)} replacement nodes were specified"
                                f" ({', '.join(self.op['nodes'])})", ECODE_INVAL)
        if len({n["uuid"] for n in self.new_nodes}) != len(self.new_nodes):
            raise OpPrereqError(f"The new nodes must differ: {':'.join(self.op['nodes'])}",
                                ECODE_INVAL)
        primary = self.new_nodes[0] if self.new_nodes else self.node
        if not self.op["iallocator"] and primary["offline"]:
            raise OpPrereqError(f"Can't use offline node {primary['name']}", ECODE_STATE)
        self._check_stopped(moving)
        self.wanted = dict(self.changes) or {index: {} for index in range(len(disks))}
        top = max(self.wanted)
        if top >= len(disks):
            raise OpPrereqError(f"Invalid disk index '{top}' (instance {self.name} has"
                                f" {len(disks)} disk(s))", ECODE_INVAL)
        if moving and sorted(self.wanted) != list(range(len(disks))):
            raise OpPrereqError("Can't recreate disks partially and change the nodes at the"
                                " same time", ECODE_INVAL)
        if self.op["iallocator"]:
            self.new_nodes = self._allocate(disks)
        self.targets = self.new_nodes or current
        for node in self.targets:
            if node["offline"]:
                raise OpPrereqError(f"Can't use offline node {node['name']}", ECODE_STATE)
            if self.new_nodes and not node["vm_capable"]:
                raise OpPrereqError(f"Can't use non-vm_capable node {node['name']}",
                                    ECODE_STATE)
        self._check_space(disks)
        self._check_missing(disks)

    def _check_stopped(self, moving: bool) -> None:
        """Not marked up and not running (Ganeti's INSTANCE_NOT_RUNNING check), unless the
        nodes change and the old primary is offline."""
        if moving and self.node["offline"]:
            return
        if self.instance["admin_state"] == "up":
            raise OpPrereqError(f"Instance '{self.name}' is marked to be up, cannot recreate"
                                " disks", ECODE_STATE)
        if self.node["offline"]:
            self.log("  - WARNING: Primary node offline, ignoring check that instance is down")
        elif self.is_running():
            raise OpPrereqError(f"Instance {self.name} is running, cannot recreate disks",
                                ECODE_STATE)

    def _allocate(self, disks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """-I: the allocator chooses every node of the instance, asked as for a new instance
        (as Ganeti does); the instance itself is left out of the cluster it is shown, so its
        name is free and its resources are not counted twice. The other nodes' locks are
        given back."""
        inst, cfg = self.instance, self.cfg
        be = params.filled_beparams(cfg.cluster(), inst)
        nics = [params.filled_nicparams(cfg.cluster(), nic) for nic in inst["nics"]]
        allocator = placement.allocator_name(self, self.op["iallocator"])
        request = ia.request_allocate(self.name, int(be["maxmem"]),
                                      [int(d["size"]) for d in disks], inst["disk_template"],
                                      vcpus=int(be["vcpus"]), nics=nics, os=inst["os"],
                                      tags=list(inst.get("tags") or []))
        data = dict(cfg.data)
        data["instances"] = {uuid: other for uuid, other in cfg.data["instances"].items()
                             if uuid != inst["uuid"]}
        online = [node for node in data["nodes"].values() if not node["offline"]]
        live = ia.live_from_node_info(data, rpc.live_info_many(cfg, online))
        answer = ia.run_iallocator(allocator, ia.build_request(data, live, request))
        nodes = [cfg.lookup("nodes", name) for name in answer.nodes]
        self.log(f"Selected nodes for instance {self.name} via iallocator {allocator}:"
                 f" {', '.join(node['name'] for node in nodes)}")
        keep = sorted({*self.locked_nodes(), *(str(node["uuid"]) for node in nodes)})
        self.release_locks(LEVEL_NODE, keep=keep)
        self.release_locks(LEVEL_NODE_RES, keep=keep)
        return nodes

    def _sizes(self, disks: list[dict[str, Any]]) -> dict[int, int]:
        """Index -> the size (MiB) each disk to recreate will have."""
        return {index: int(self.wanted[index].get("size", disks[index]["size"]))
                for index in sorted(self.wanted)}

    def _check_space(self, disks: list[dict[str, Any]]) -> None:
        """The volume groups of the target nodes have room for the new volumes (LVM)."""
        if self.instance["disk_template"] not in instance_storage.LVM_TEMPLATES:
            return
        needed: dict[str, int] = {}
        for index, size in self._sizes(disks).items():
            disk = disks[index]
            if disk["dev_type"] == params.DT_DRBD8:
                data, meta = disk["children"]
                needed[data["logical_id"][0]] = needed.get(data["logical_id"][0], 0) + size
                needed[meta["logical_id"][0]] = (needed.get(meta["logical_id"][0], 0)
                                                 + int(meta["size"]))
            else:
                needed[disk["logical_id"][0]] = needed.get(disk["logical_id"][0], 0) + size
        instance_storage.check_free_space(self.cfg, self.targets, needed)

    def _volumes(self, disks: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """(index, ``vg/lv`` or file path) of the storage each disk to recreate has on every
        target node."""
        found = []
        for index in sorted(self.wanted):
            disk = disks[index]
            parts = disk["children"] if disk["dev_type"] == params.DT_DRBD8 else [disk]
            for part in parts:
                lid = part["logical_id"]
                found.append((index, str(lid[1]) if disk["dev_type"] in FILE_TEMPLATES
                              else f"{lid[0]}/{lid[1]}"))
        return found

    def _check_missing(self, disks: list[dict[str, Any]]) -> None:
        """Refuse when storage of a disk to recreate still exists on a target node (Ganeti's
        creation would fail on it): before any change, naming the node and the volume."""
        volumes = self._volumes(disks)
        template = self.instance["disk_template"]
        nodes = self.targets[:1] if template in FILE_TEMPLATES else self.targets
        for node in nodes:
            try:
                present = self._present_on(node, template, volumes)
            except rpc.NodeDown as err:
                raise OpPrereqError(f"Cannot ask node {node['name']} which disks of"
                                    f" {self.name} exist: {err}", ECODE_ENVIRON) from err
            existing = [(index, name) for index, name in volumes if name in present]
            if existing:
                listed = ", ".join(f"disk {index} ({name})" for index, name in existing)
                raise OpPrereqError(
                    f"Cannot recreate disks of instance {self.name}: {listed} still exist(s) on"
                    f" node {node['name']}. recreate-disks only makes missing disks; remove"
                    " the existing storage first, or recreate only the missing disks"
                    " (--disk N)", ECODE_EXISTS)

    def _present_on(self, node: dict[str, Any], template: str,
                    volumes: list[tuple[int, str]]) -> set[str]:
        """Which of ``volumes`` exist on ``node``."""
        if template in FILE_TEMPLATES:
            info = rpc.verify_info_many(self.cfg, [node])[node["uuid"]]
            if isinstance(info, str):
                raise rpc.NodeDown(info)
            return set(info.get("files") or [])
        vgs = sorted({name.split("/", 1)[0] for _index, name in volumes})
        return set(rpc.lv_list(self.cfg, node, vgs))

    def exec(self) -> Any:
        inst = self.instance
        indexes = sorted(self.wanted)
        self.log(f"Recreating disk(s) {', '.join(map(str, indexes))} of instance"
                 f" '{self.name}' on {', '.join(node['name'] for node in self.targets)}")
        # the nodes of the disks before the change (the old drbd ends, torn down first when
        # the nodes stay)
        old_instance = copy.deepcopy(inst)
        self._record()
        if self.new_nodes:
            self.log("  - WARNING: Changing the instance's nodes, you will have to remove any"
                     " disks left on the older nodes manually")
        plays = self._plays(old_instance, indexes)
        try:
            self.run_plays(plays, f"recreate the disks of {self.name}")
        except GntError as err:
            volumes = ", ".join(name for _index, name in self._volumes(
                self.cfg.instance_disks(self.instance)))
            raise OpExecError(f"{err}\nSome of the new disks may exist now on"
                              f" {', '.join(n['name'] for n in self.targets)} ({volumes});"
                              " remove those that do, fix the cause and run recreate-disks"
                              " again") from err
        self.log(f"Disks of {self.name} recreated (empty); run 'gnt-instance reinstall"
                 f" {self.name}' to install its OS")
        return None

    def _record(self) -> None:
        """The changed sizes and modes and (new nodes) the new primary, the disks' nodes and
        drbd minors, in one config write."""
        inst = self.instance
        node_uuids = [str(node["uuid"]) for node in self.new_nodes]
        taken: dict[str, set[int]] = {}
        updated = []
        for index, disk in enumerate(self.cfg.instance_disks(inst)):
            if index not in self.wanted:
                continue
            disk = copy.deepcopy(disk)
            changes = self.wanted[index]
            if "mode" in changes:
                disk["mode"] = changes["mode"]
            if "size" in changes:
                disk["size"] = changes["size"]
                if disk["dev_type"] == params.DT_DRBD8:
                    disk["children"][0]["size"] = changes["size"]
            if node_uuids:
                if disk["dev_type"] == params.DT_DRBD8:
                    lid = disk["logical_id"]
                    minors = drbdmap.allocate_minors(self.cfg.data, node_uuids, taken)
                    lid[drbdmap.LID_PNODE], lid[drbdmap.LID_SNODE] = node_uuids
                    lid[drbdmap.LID_PMINOR], lid[drbdmap.LID_SMINOR] = minors
                disk["nodes"] = list(node_uuids)
            updated.append(disk)
        objects: dict[str, list[dict[str, Any]]] = {"disks": updated}
        if node_uuids:
            moved = copy.deepcopy(inst)
            moved["primary_node"] = node_uuids[0]
            objects["instances"] = [moved]
        self.cfg.replace_many(objects)
        self.instance = self.cfg.get("instances", inst["uuid"])
        self.node = self.cfg.get("nodes", self.instance["primary_node"])

    def _plays(self, old_instance: dict[str, Any], indexes: list[int]) -> list[Play]:
        """What makes the new disks on the nodes."""
        inst = self.instance
        if not instance_drbd.is_drbd(inst):
            spec = instance_spec(self.cfg, inst)
            spec["disks"] = [disk for disk in spec["disks"] if disk["index"] in indexes]
            host = {"gnt_instance": spec, "gnt_node": node_vars(self.cfg, self.node),
                    "gnt_install": False}
            return [Play("instance_create", {self.node["name"]: host},
                         title="recreate disks")]
        plays = [] if self.new_nodes else instance_drbd.shutdown_plays(self, old_instance)
        primary, secondary = instance_drbd.instance_nodes(self.cfg, inst)
        hosts = {}
        for node, state in ((primary, "primary"), (secondary, "secondary")):
            promoted = state == "primary"
            hosts[node["name"]] = instance_drbd.end_vars(
                self.cfg, inst, node, state, indexes=indexes, create=True, force=promoted,
                wait_sync=promoted)
        plays.append(Play(instance_drbd.ROLE, hosts, title="recreate mirrored disks"))
        return plays + instance_drbd.shutdown_plays(self, inst)
