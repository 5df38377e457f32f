"""The disks of an existing instance: activate-disks, deactivate-disks and grow-disk.

As in Ganeti: activating assembles the disks on every node of the instance (a drbd disk's
primary end promoted), marks them active (the instance's ``disks_active`` flag) and answers
each disk's device on the primary node; deactivating is refused while the instance is marked up
or runs (unless forced) and marks them inactive; growing checks the template,
the size and the free space of the volume groups, grows the backing storage on every node, then
(drbd) the device on the primary, and records the new size.
"""

from __future__ import annotations

import copy
from typing import Any

from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from gnt.core.units import format_mib
from gnt.lu import instance_drbd, instance_ext, instance_storage, policy_checks
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import device_path, disk_link, drbd_vars
from gnt.opcodes import params


def _h(mib: int) -> str:
    """A size as Ganeti's messages show it (``1.0G``, ``512M``)."""
    return str(format_mib(mib, "h"))


GROWABLE = (params.DT_FILE, params.DT_SHARED_FILE, params.DT_PLAIN, params.DT_DRBD8,
            params.DT_EXT)


def volume_plays(lu: InstanceLU, active: bool) -> list[Play]:
    """The plain disks' volumes (de)activated on the primary node, an ext instance's volumes
    attached there (their detach is in ``instance_drbd.shutdown_plays``), none for other
    templates."""
    if instance_ext.is_ext(lu.instance):
        return [instance_ext.attach_play(lu.cfg, lu.instance, lu.node, True)] if active else []
    if lu.instance["disk_template"] != params.DT_PLAIN:
        return []
    volumes = [{"vg": disk["logical_id"][0], "name": disk["logical_id"][1]}
               for disk in lu.cfg.instance_disks(lu.instance)]
    return [volumes_play(lu.node, volumes, active)]


def volumes_play(node: dict[str, Any], volumes: list[dict[str, str]], active: bool) -> Play:
    """The logical volumes ``volumes`` (``vg``, ``name``) activated or deactivated on
    ``node``."""
    return Play("instance_volumes", {node["name"]: {"gnt_volumes": volumes,
                                                    "gnt_volumes_active": active}},
                title="activate volumes" if active else "deactivate volumes")


def disk_devices(lu: InstanceLU) -> list[list[str]]:
    """``[node, "disk/N", device]`` of each disk on the primary node (Ganeti's disks_info;
    an ext disk's is the node's link to the path its attach script printed)."""
    node = lu.node
    return [[node["name"], disk.get("iv_name") or f"disk/{index}",
             disk_link(lu.instance["name"], index) if disk["dev_type"] == params.DT_EXT
             else device_path(disk, node["uuid"])]
            for index, disk in enumerate(lu.cfg.instance_disks(lu.instance))]


@register
class LUInstanceActivateDisks(InstanceLU):
    """Assemble the disks on the instance's nodes and name their devices."""

    OP_ID = "OP_INSTANCE_ACTIVATE_DISKS"

    def check_prereq(self) -> None:
        super().check_prereq()
        self.require_node_online()

    def exec(self) -> Any:
        if self.op["ignore_size"]:
            self.log("Not checking the disks' sizes (--ignore-size)")
        plays = instance_drbd.assemble_plays(self, self.instance,
                                             wait_sync=self.op["wait_for_sync"])
        plays += volume_plays(self, True)
        # As Ganeti: the disks are marked active (written beside the run)
        if plays:
            self.run_plays_recording_state(plays, f"activate the disks of {self.name}", None,
                                           disks_active=True)
        else:
            self.set_admin_state(None, disks_active=True)
        return disk_devices(self)


@register
class LUInstanceDeactivateDisks(InstanceLU):
    """Tear the disks down on the instance's nodes (the instance must be down)."""

    OP_ID = "OP_INSTANCE_DEACTIVATE_DISKS"

    def check_prereq(self) -> None:
        super().check_prereq()
        if self.op["force"]:
            return
        if self.instance["admin_state"] == "up":
            raise OpPrereqError(f"Instance '{self.name}' is marked to be up, cannot shutdown"
                                " disks", ECODE_STATE)
        if not self.node["offline"] and self.is_running():
            raise OpPrereqError(f"Instance {self.name} is running, cannot shutdown disks",
                                ECODE_STATE)

    def exec(self) -> Any:
        plays = instance_drbd.shutdown_plays(self, self.instance)
        if not self.node["offline"]:
            plays += volume_plays(self, False)
        # As Ganeti: the disks are marked inactive (written beside the run)
        if plays:
            self.run_plays_recording_state(plays, f"deactivate the disks of {self.name}",
                                           None, disks_active=False)
        else:
            self.set_admin_state(None, disks_active=False)
        return None


@register
class LUInstanceGrowDisk(InstanceLU):
    """Grow one disk by (or, ``absolute``, to) ``amount`` MiB."""

    OP_ID = "OP_INSTANCE_GROW_DISK"
    LOCK_NODE_RES = True

    def check_prereq(self) -> None:
        super().check_prereq()
        for node in instance_drbd.instance_nodes(self.cfg, self.instance):
            if node["offline"]:
                raise OpPrereqError(f"Can't use offline node {node['name']}", ECODE_STATE)
        disks = self.cfg.instance_disks(self.instance)
        index = int(self.op["disk"])
        if index >= len(disks):
            raise OpPrereqError(f"Invalid disk index {index}: instance {self.name} has"
                                f" {len(disks)} disk(s)", ECODE_INVAL)
        self.disk = disks[index]
        if self.disk["dev_type"] not in GROWABLE:
            raise OpPrereqError(f"Instance's disk layout {self.disk['dev_type']} does not"
                                " support growing", ECODE_INVAL)
        amount, size = int(self.op["amount"]), int(self.disk["size"])
        if self.op["absolute"]:
            self.target, self.delta = amount, amount - size
            if self.delta < 0:
                raise OpPrereqError(f"Requested size ({_h(amount)}) is smaller"
                                    f" than current disk size ({_h(size)})",
                                    ECODE_STATE)
        else:
            self.target, self.delta = size + amount, amount
            if self.delta < 0:
                raise OpPrereqError(f"Requested increment ({_h(amount)}) is"
                                    " negative", ECODE_INVAL)
        policy_checks.check_grown_disk(self, self.instance, index, self.target,
                                       self.op["ignore_ipolicy"])
        self._check_space()

    def _check_space(self) -> None:
        """The data volume's group has room for the growth on every node (LVM templates)."""
        if self.disk["dev_type"] not in instance_storage.LVM_TEMPLATES or not self.delta:
            return
        data = self.disk["children"][0] if self.disk["dev_type"] == params.DT_DRBD8 \
            else self.disk
        nodes = instance_drbd.instance_nodes(self.cfg, self.instance)
        instance_storage.check_free_space(self.cfg, nodes, {data["logical_id"][0]: self.delta})

    def _grow_vars(self, node: dict[str, Any], primary: bool) -> dict[str, Any]:
        """The instance_disk_grow role's vars on ``node``."""
        index = int(self.op["disk"])
        grow: dict[str, Any] = {"index": index, "size_mib": self.target,
                                "resize_drbd": primary and instance_drbd.is_drbd(self.instance)}
        if self.disk["dev_type"] in (params.DT_PLAIN, params.DT_DRBD8):
            data = self.disk["children"][0] if self.disk["dev_type"] == params.DT_DRBD8 \
                else self.disk
            grow["volume"] = {"vg": data["logical_id"][0], "name": data["logical_id"][1]}
        ends = [end for end in drbd_vars(self.cfg, self.instance, node["uuid"])
                if end["index"] == index]
        return {**self.host_vars(), "gnt_grow": grow, "gnt_drbd": ends}

    def exec(self) -> Any:
        index = int(self.op["disk"])
        self.log(f"Growing disk {index} of instance '{self.name}' by"
                 f" {_h(self.delta)} to {_h(self.target)}")
        if not self.delta:
            return None
        nodes = instance_drbd.instance_nodes(self.cfg, self.instance)
        running = instance_drbd.keep_disks_active(self, self.instance)
        hosts = {node["name"]: self._grow_vars(node, node["uuid"] == self.node["uuid"])
                 for node in nodes}
        plays = [*instance_drbd.assemble_plays(self, self.instance),
                 Play("instance_disk_grow", hosts, title="grow disk")]
        if instance_drbd.is_drbd(self.instance) and self.op["wait_for_sync"]:
            plays += instance_drbd.assemble_plays(self, self.instance, wait_sync=True)
        if not running:      # as they were: a stopped instance's drbd disks go down again
            plays += instance_drbd.shutdown_plays(self, self.instance)
        self.run_plays(plays, f"grow disk {index} of {self.name}")
        self._record(index)
        return None

    def _record(self, index: int) -> None:
        """The new size in the config (a drbd disk's data volume too)."""
        disk = copy.deepcopy(self.cfg.instance_disks(self.instance)[index])
        disk["size"] = self.target
        if disk["dev_type"] == params.DT_DRBD8:
            disk["children"][0]["size"] = self.target
        self.cfg.replace_many({"disks": [disk]})
        self.instance = self.cfg.get("instances", self.instance["uuid"])
