"""``gnt-instance replace-disks``: new storage under a drbd instance's disks, as Ganeti does.

- ``-p`` / ``-s`` (replace_on_primary / replace_on_secondary): on that node new volumes take
  the place of the old ones under the configured names (role ``instance_drbd_replace``), the
  peer resyncs the whole disk to them, then the old volumes (renamed aside) are removed.
- ``-a`` (replace_auto): the node whose ends have a faulty local disk (``/proc/drbd``: no disk
  or standalone), if only one has; nothing to do when neither has.
- ``-n NODE`` / ``-I ALLOCATOR`` (replace_new_secondary): the old secondary's ends removed (if it
  answers), the config changed to the new secondary (its own minor, the same port and secret),
  the new node's volumes and meta-data made and the primary connected to it, the resync waited
  for. A new secondary in another node group must meet that group's instance policy (Ganeti's
  CheckTargetNodeIPolicy; ``--ignore-ipolicy`` makes it a warning).

The disks are assembled first (and torn down again at the end when the instance is not
running), so a stopped instance can be repaired too.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from gnt.config import drbdmap
from gnt.core.errors import ECODE_INVAL, ECODE_STATE, GntError, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_NODE, LEVEL_NODE_RES
from gnt.lu import instance_drbd, placement, policy_checks
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import drbd_replace_volumes, drbd_vars
from gnt.opcodes.disks import (
    REPLACE_AUTO,
    REPLACE_NEW_SECONDARY,
    REPLACE_ON_PRIMARY,
)

REPLACE_ROLE = "instance_drbd_replace"


@register
class LUInstanceReplaceDisks(InstanceLU):
    """Replace the storage of a drbd instance's disks on one of its nodes, or move its
    secondary to another node."""

    OP_ID = "OP_INSTANCE_REPLACE_DISKS"
    LOCK_NODE_RES = True

    def check_arguments(self) -> None:
        op = self.op
        if op["mode"] == REPLACE_NEW_SECONDARY:
            if not op["remote_node"] and not op["iallocator"]:
                raise OpPrereqError("When changing the secondary either an iallocator script"
                                    " must be used or the new node given", ECODE_INVAL)
            if op["remote_node"] and op["iallocator"]:
                raise OpPrereqError("Give either a new node (-n) or an iallocator (-I), not"
                                    " both", ECODE_INVAL)
        elif op["remote_node"] or op["iallocator"]:
            raise OpPrereqError("The iallocator and new node options can only be used when"
                                " changing the secondary node", ECODE_INVAL)

    def expand_names(self) -> None:
        super().expand_names()
        remote = self.op["remote_node"]
        self.remote_uuid = str(self.cfg.lookup("nodes", remote)["uuid"]) if remote else None

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        if self.op["iallocator"]:
            locks[LEVEL_NODE] = locks[LEVEL_NODE_RES] = ALL
        elif self.remote_uuid is not None:
            nodes = sorted({*self.locked_nodes(), self.remote_uuid})
            locks[LEVEL_NODE], locks[LEVEL_NODE_RES] = nodes, list(nodes)
        return locks

    def check_prereq(self) -> None:
        super().check_prereq()
        op, inst = self.op, self.instance
        disks = self.cfg.instance_disks(inst)
        if not disks or not instance_drbd.is_drbd(inst):
            raise OpPrereqError("Can only run replace disks for DRBD8-based instances",
                                ECODE_INVAL)
        secondary = instance_drbd.instance_nodes(self.cfg, inst)[1]
        self.secondary = secondary
        self.new_node: dict[str, Any] | None = None
        if op["disks"] and op["mode"] in (REPLACE_AUTO, REPLACE_NEW_SECONDARY):
            raise OpPrereqError("Cannot specify disks to be replaced", ECODE_INVAL)
        bad = [index for index in op["disks"] if not 0 <= int(index) < len(disks)]
        if bad:
            raise OpPrereqError(f"Invalid disk index {bad[0]}: instance {self.name} has"
                                f" {len(disks)} disk(s)", ECODE_INVAL)
        self.indexes = sorted({int(i) for i in op["disks"]}) or list(range(len(disks)))
        check: list[dict[str, Any]]
        if op["mode"] == REPLACE_NEW_SECONDARY:
            check = [self._check_new_secondary(), self.node]
        elif op["mode"] == REPLACE_AUTO:
            check = self._check_auto()
        else:
            self.target: dict[str, Any] | None = (self.node if op["mode"] == REPLACE_ON_PRIMARY
                                                  else secondary)
            check = [self.node, secondary]
        if self.new_node is not None:   # Ganeti checks the new node's group before onlineness
            policy_checks.check_target_node(self, inst, str(self.new_node["uuid"]),
                                            bool(op["ignore_ipolicy"]))
        for node in check:
            if node["offline"]:
                raise OpPrereqError(f"Can't use offline node {node['name']}", ECODE_STATE)

    def _check_new_secondary(self) -> dict[str, Any]:
        """The new secondary: given or chosen, not one of the instance's nodes, usable."""
        if self.remote_uuid is not None:
            node = self.cfg.get("nodes", self.remote_uuid)
        else:
            node = placement.relocate(self, self.instance, placement.allocator_name(
                self, self.op["iallocator"]), relocate_from=self.secondary)
            keep = sorted({*self.locked_nodes(), str(node["uuid"])})
            self.release_locks(LEVEL_NODE, keep=keep)
            self.release_locks(LEVEL_NODE_RES, keep=keep)
        if node["uuid"] == self.instance["primary_node"]:
            raise OpPrereqError("The specified node is the primary node of the instance",
                                ECODE_INVAL)
        if node["uuid"] == self.secondary["uuid"]:
            raise OpPrereqError("The specified node is already the secondary node of the"
                                " instance", ECODE_INVAL)
        if node["drained"]:
            raise OpPrereqError(f"Can't use drained node {node['name']}", ECODE_STATE)
        if not node["vm_capable"]:
            raise OpPrereqError(f"Can't use non-vm_capable node {node['name']}", ECODE_STATE)
        self.new_node = node
        return node

    def _check_auto(self) -> list[dict[str, Any]]:
        """-a: the one node with faulty ends (self.target), or nothing to do."""
        faulty = {}
        for node in (self.node, self.secondary):
            try:
                live = rpc.drbd_status(self.cfg, node)
            except rpc.NodeDown as err:
                raise OpPrereqError(f"Cannot get the DRBD status of node {node['name']}:"
                                    f" {err}", ECODE_STATE) from err
            ends = drbd_vars(self.cfg, self.instance, node["uuid"])
            if any(live.get(end["minor"]) is None for end in ends):
                raise OpPrereqError(f"Please run activate-disks on instance {self.name}"
                                    " first", ECODE_STATE)
            faulty[node["uuid"]] = [end["index"] for end in ends
                                    if live[end["minor"]].get("local_disk") == "faulty"]
        on_primary, on_secondary = faulty[self.node["uuid"]], faulty[self.secondary["uuid"]]
        if on_primary and on_secondary:
            raise OpPrereqError(f"Instance {self.name} has faulty disks on more than one node"
                                " and can not be repaired automatically", ECODE_STATE)
        self.target = self.node if on_primary else self.secondary if on_secondary else None
        self.indexes = on_primary or on_secondary
        return [self.node, self.secondary] if self.target else []

    def exec(self) -> Any:
        if self.op["mode"] == REPLACE_AUTO and self.target is None:
            self.log(f"No disks need replacement for instance '{self.name}'")
            return None
        running = instance_drbd.keep_disks_active(self, self.instance)
        if self.op["mode"] == REPLACE_NEW_SECONDARY:
            self._change_secondary(running)
        else:
            assert self.target is not None
            self._replace_on(self.target, running)
        return None

    def _ends(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        """``node``'s ends of the disks being replaced."""
        return [end for end in drbd_vars(self.cfg, self.instance, node["uuid"])
                if end["index"] in self.indexes]

    def _replace_on(self, target: dict[str, Any], running: bool) -> None:
        """-p / -s / -a: new volumes under ``target``'s ends, resync, old ones removed."""
        inst = self.instance
        stamp = str(int(time.time()))
        self.log(f"Replacing disk(s) {', '.join(map(str, self.indexes))} for instance"
                 f" '{self.name}' on node {target['name']}")
        helper = instance_drbd.usermode_helper(self.cfg)

        def replace(step: str) -> Play:
            ends = self._ends(target)
            return Play(REPLACE_ROLE, {target["name"]: {
                "gnt_drbd": ends, "gnt_drbd_replace_step": step,
                "gnt_drbd_replace_volumes": drbd_replace_volumes(ends, stamp),
                "gnt_drbd_usermode_helper": helper}},
                title=f"replace volumes ({step})")
        plays = [*instance_drbd.assemble_plays(self, inst), replace("swap"),
                 *instance_drbd.assemble_plays(self, inst, wait_sync=True), replace("cleanup")]
        if not running:
            plays += instance_drbd.shutdown_plays(self, inst)
        self.run_plays(plays, f"replace the disks of {self.name} on {target['name']}")
        self.log("Disks replaced and in sync; the old volumes were removed")

    def _change_secondary(self, running: bool) -> None:
        """-n / -I: the instance's secondary becomes ``self.new_node``."""
        inst, old, new = self.instance, self.secondary, self.new_node
        assert new is not None
        self.log(f"Changing the secondary of instance '{self.name}' from {old['name']} to"
                 f" {new['name']}")
        if not old["offline"]:
            try:   # a dead old secondary (the usual reason for -n) is only warned about
                self.run_plays([instance_drbd.play(self.cfg, inst, [(old, "absent")],
                                                   "remove the old secondary's disks")],
                               f"remove the disks of {self.name} on {old['name']}")
            except GntError as err:
                self.log(f"  - WARNING: {err}\n    Remove its volumes and DRBD devices on"
                         f" {old['name']} by hand once it is back")
        updated = self._rewrite_disks(new)
        self.cfg.replace_many({"disks": updated})
        self.instance = self.cfg.get("instances", inst["uuid"])
        plays = [instance_drbd.play(
            self.cfg, self.instance, [(self.node, "primary"), (new, "secondary")],
            "connect the new secondary", create=True, wait_sync=True)]
        if not running:
            plays += instance_drbd.shutdown_plays(self, self.instance)
        try:
            self.run_plays(plays, f"move the secondary of {self.name} to {new['name']}")
        except Exception:
            self.log(f"  - the config names {new['name']} as the secondary now; fix the cause"
                     f" and run 'gnt-instance replace-disks -s {self.name}' to make its disks")
            raise
        self.log(f"Secondary of {self.name} is now {new['name']}")

    def _rewrite_disks(self, new: dict[str, Any]) -> list[dict[str, Any]]:
        """The instance's disks with the secondary's end on ``new`` (its lowest free minor;
        the port and secret stay)."""
        old_uuid, new_uuid = self.secondary["uuid"], new["uuid"]
        taken: dict[str, set[int]] = {}
        updated = []
        for disk in self.cfg.instance_disks(self.instance):
            disk = copy.deepcopy(disk)
            lid = disk["logical_id"]
            [minor] = drbdmap.allocate_minors(self.cfg.data, [new_uuid], taken)
            if lid[drbdmap.LID_PNODE] == old_uuid:
                lid[drbdmap.LID_PNODE], lid[drbdmap.LID_PMINOR] = new_uuid, minor
            else:
                lid[drbdmap.LID_SNODE], lid[drbdmap.LID_SMINOR] = new_uuid, minor
            disk["nodes"] = [self.instance["primary_node"], new_uuid]
            updated.append(disk)
        return updated
