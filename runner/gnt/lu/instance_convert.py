"""``gnt-instance modify -t plain|drbd [-n NODE]``: the disk template of a stopped instance
changed with its data kept, as Ganeti converts.

- plain -> drbd: each disk's logical volume becomes the data volume of a new drbd disk (the
  same name); a meta-data volume is made next to it and both volumes on the new secondary;
  the primary's data is forced up to date and resynced to the secondary (waited for unless
  ``--no-wait-for-sync``); then the disks are torn down again (the instance is stopped). The
  config changes first; if the nodes fail, it is put back and what was made is removed.
- drbd -> plain: the config changes to the primary's data volumes first (the data stays where
  it is), then the secondary's volumes and the primary's meta-data volumes are removed (a
  failure there leaves only spare volumes, reported).

Either way the disks end shut down and, as in Ganeti, marked inactive (``disks_active``) in
the same config write as the new template.
"""

from __future__ import annotations

import copy
from typing import Any

from gnt.config import drbdmap
from gnt.core.errors import ECODE_INVAL, ECODE_STATE, GntError, OpPrereqError
from gnt.lu import instance_drbd, instance_storage
from gnt.opcodes import params

CONVERSIONS = {(params.DT_PLAIN, params.DT_DRBD8), (params.DT_DRBD8, params.DT_PLAIN)}


def check(lu: Any) -> None:
    """The conversion asked for by ``lu.op`` is possible (Ganeti's checks and messages)."""
    op, inst = lu.op, lu.instance
    new, old = op["disk_template"], inst["disk_template"]
    if new == old:
        raise OpPrereqError(f"Instance already has disk template {old}", ECODE_INVAL)
    if (old, new) not in CONVERSIONS:
        raise OpPrereqError(f"Unsupported disk template conversion from {old} to {new}",
                            ECODE_INVAL)
    if new not in lu.cfg.cluster()["enabled_disk_templates"]:
        raise OpPrereqError(f"Disk template '{new}' is not enabled in the cluster"
                            " (gnt-cluster modify --enabled-disk-templates)", ECODE_STATE)
    if inst["admin_state"] == "up":
        raise OpPrereqError(f"Instance '{lu.name}' is marked to be up, cannot change disk"
                            " template", ECODE_STATE)
    lu.require_node_online()
    if lu.is_running():
        raise OpPrereqError(f"Instance {lu.name} is running, cannot change disk template",
                            ECODE_STATE)
    lu.snode = None
    if new == params.DT_DRBD8:
        if not op["remote_node"]:
            raise OpPrereqError("Changing the disk template to a mirrored one requires"
                                " specifying a secondary node", ECODE_INVAL)
        snode = lu.cfg.lookup("nodes", op["remote_node"])
        if snode["uuid"] == inst["primary_node"]:
            raise OpPrereqError("Given new secondary node "
                                f"{snode['name']} is the same as the primary node of the"
                                " instance", ECODE_INVAL)
        for flag in ("offline", "drained"):
            if snode[flag]:
                raise OpPrereqError(f"Cannot use {flag} secondary node {snode['name']}",
                                    ECODE_STATE)
        disks = lu.cfg.instance_disks(inst)
        needed: dict[str, int] = {}
        for disk in disks:
            vg = disk["logical_id"][0]
            needed[vg] = needed.get(vg, 0) + int(disk["size"]) + drbdmap.DRBD_META_SIZE
        instance_storage.check_free_space(lu.cfg, [snode], needed)
        instance_storage.check_free_space(lu.cfg, [lu.node], {
            vg: drbdmap.DRBD_META_SIZE * sum(1 for d in disks if d["logical_id"][0] == vg)
            for vg in needed})
        lu.snode = snode
    elif op["remote_node"]:
        lu.log("WARNING: Secondary node will be ignored on non-mirrored disk template")


def convert(lu: Any) -> None:
    """Do the conversion checked by :func:`check`."""
    if lu.op["disk_template"] == params.DT_DRBD8:
        _to_drbd(lu)
    else:
        _to_plain(lu)


def _to_drbd(lu: Any) -> None:
    cfg, inst, pnode, snode = lu.cfg, lu.instance, lu.node, lu.snode
    old_disks = copy.deepcopy(cfg.instance_disks(inst))
    taken: dict[str, set[int]] = {}
    new_disks = []
    for disk in old_disks:
        vg, name = disk["logical_id"]
        minors = drbdmap.allocate_minors(cfg.data, [pnode["uuid"], snode["uuid"]], taken)
        drbd = {**disk, "dev_type": params.DT_DRBD8,
                "logical_id": [pnode["uuid"], snode["uuid"], 0, minors[0], minors[1],
                               drbdmap.new_secret()],
                "children": [drbdmap.plain_disk(vg, name, int(disk["size"])),
                             drbdmap.plain_disk(vg, f"{name}_meta", drbdmap.DRBD_META_SIZE)],
                "nodes": [pnode["uuid"], snode["uuid"]]}
        new_disks.append(drbd)
    ports = instance_storage.allocate_ports(cfg, new_disks)
    lu.log(f"Converting instance {lu.name} to drbd with secondary {snode['name']}")
    cfg.replace_many({"instances": [{**inst, "disk_template": params.DT_DRBD8,
                                     "disks_active": False}],
                      "disks": new_disks})
    lu.instance = cfg.get("instances", inst["uuid"])
    plays = [instance_drbd.play(cfg, lu.instance, [(pnode, "primary"), (snode, "secondary")],
                                "make the mirror", create=True, force=True,
                                wait_sync=lu.op["wait_for_sync"]),
             *instance_drbd.shutdown_plays(lu, lu.instance)]
    try:
        lu.run_plays(plays, f"convert the disks of {lu.name} to drbd")
    except GntError:
        lu.log("* conversion failed: removing what was made and restoring the config")
        undo = [instance_drbd.play(cfg, lu.instance, [(snode, "absent")], "remove the mirror"),
                instance_drbd.play(cfg, lu.instance, [(pnode, "absent")],
                                   "remove the new meta-data volumes", meta_only=True)]
        try:
            lu.run_plays(undo, f"undo the conversion of {lu.name}")
        except GntError as err:
            lu.log(f"  - WARNING: {err} (spare volumes may remain on {snode['name']})")
        cfg.replace_many({"instances": [inst], "disks": old_disks})
        lu.instance = cfg.get("instances", inst["uuid"])
        instance_storage.release_ports(cfg, ports)
        raise
    lu.log(f"Instance {lu.name} has disk template drbd now")


def _to_plain(lu: Any) -> None:
    cfg, inst = lu.cfg, lu.instance
    drbd_inst = copy.deepcopy(inst)
    nodes = instance_drbd.instance_nodes(cfg, inst)
    down = instance_drbd.shutdown_plays(lu, inst)
    if down:
        lu.run_plays(down, f"shut down the disks of {lu.name}")
    remove = [instance_drbd.play(cfg, drbd_inst, [(node, "absent")], "remove the mirror",
                                 meta_only=node["uuid"] == inst["primary_node"])
              for node in nodes if not node["offline"]]
    ports = []
    plain_disks = []
    for disk in cfg.instance_disks(inst):
        data = disk["children"][0]
        ports.append(int(disk["logical_id"][drbdmap.LID_PORT]))
        plain = {key: value for key, value in disk.items() if key != "children"}
        plain.update(dev_type=params.DT_PLAIN, logical_id=list(data["logical_id"]),
                     nodes=[inst["primary_node"]])
        plain_disks.append(plain)
    lu.log(f"Converting instance {lu.name} to plain (the data stays on"
           f" {lu.node['name']})")
    cfg.replace_many({"instances": [{**inst, "disk_template": params.DT_PLAIN,
                                     "disks_active": False}],
                      "disks": plain_disks})
    lu.instance = cfg.get("instances", inst["uuid"])
    instance_storage.release_ports(cfg, ports)
    try:
        lu.run_plays(remove, f"remove the mirror of {lu.name}")
    except GntError as err:
        lu.log(f"  - WARNING: {err}\n    The instance is plain now; remove the spare volumes"
               " (the secondary's, and the _meta ones) by hand")
    lu.log(f"Instance {lu.name} has disk template plain now")
