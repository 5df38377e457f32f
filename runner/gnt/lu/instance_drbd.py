"""The DRBD side of instance operations: which node's ends go to which state, as plays of the
``instance_drbd`` role, and the live consistency checks Ganeti makes before a failover or a
migration.

A drbd instance's disks live on its primary and its secondary node. Like Ganeti, the disks are
assembled (the primary's ends promoted) when the instance starts and torn down on both nodes
when it stops; creation makes the volumes and meta-data on both nodes, forces the first
primary and (``--wait-for-sync``, the default) waits for the initial resync.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from gnt.config import objects
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, ECODE_STATE, OpExecError, OpPrereqError
from gnt.lu import instance_ext
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import drbd_vars, drbd_volumes
from gnt.opcodes.params import DT_DRBD8

ROLE = "instance_drbd"
DEFAULT_USERMODE_HELPER = "/bin/true"


def is_drbd(instance: dict[str, Any]) -> bool:
    """Whether ``instance`` has the drbd disk template."""
    return instance.get("disk_template") == DT_DRBD8


def usermode_helper(cfg: Any) -> str:
    """The usermode helper the drbd kernel module is loaded with (the cluster's)."""
    return str(cfg.cluster().get("drbd_usermode_helper") or DEFAULT_USERMODE_HELPER)


def end_vars(cfg: Any, instance: dict[str, Any], node: dict[str, Any], state: str,
             indexes: Collection[int] | None = None, **flags: bool) -> dict[str, Any]:
    """The ``instance_drbd`` role's vars for ``node``'s ends (of the disks ``indexes`` only,
    when given): the ends, their volumes, ``state`` and the flags (create, force, dual,
    wait_sync, require_synced, meta_only)."""
    ends = drbd_vars(cfg, instance, node["uuid"])
    if indexes is not None:
        ends = [end for end in ends if end["index"] in indexes]
    return {"gnt_drbd": ends, "gnt_drbd_volumes": drbd_volumes(ends), "gnt_drbd_state": state,
            "gnt_drbd_usermode_helper": usermode_helper(cfg),
            **{f"gnt_drbd_{flag}": bool(value) for flag, value in flags.items()}}


def instance_nodes(cfg: Any, instance: dict[str, Any]) -> list[dict[str, Any]]:
    """The primary node, then the secondary (node objects)."""
    return [cfg.get("nodes", instance["primary_node"])] + [
        cfg.get("nodes", uuid) for uuid in cfg.instance_secondaries(instance)]


def play(cfg: Any, instance: dict[str, Any], states: list[tuple[dict[str, Any], str]],
         title: str, **flags: bool) -> Play:
    """One play of the role on each ``(node, state)``; ``flags`` apply to every node, except
    ``force`` and ``wait_sync`` (meaningful for the promoted end only: false elsewhere; every
    host gets the same vars, as the executor passes a play's vars by name)."""
    hosts = {}
    for node, state in states:
        promoted = state == "primary"
        own = {k: v and (promoted or k not in ("force", "wait_sync"))
               for k, v in flags.items()}
        hosts[node["name"]] = end_vars(cfg, instance, node, state, indexes=None, **own)
    return Play(ROLE, hosts, title=title)


def usable_secondaries(lu: Any, instance: dict[str, Any],
                       skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The instance's secondaries that can be contacted (not offline, not in ``skip``);
    a left-out offline one is logged."""
    found = []
    for node in instance_nodes(lu.cfg, instance)[1:]:
        if node["uuid"] in skip:
            continue
        if node["offline"]:
            lu.log(f"  - WARNING: secondary node {node['name']} is offline: its end of the"
                   f" disks of {instance['name']} is not touched")
            continue
        found.append(node)
    return found


def assemble_plays(lu: Any, instance: dict[str, Any], skip: tuple[str, ...] = (),
                   force: bool = False, wait_sync: bool = False) -> list[Play]:
    """Plays that assemble the disks with the primary's ends promoted (none for a non-drbd
    instance): what a start does first; ``wait_sync`` waits for a resync to end."""
    if not is_drbd(instance):
        return []
    primary = lu.cfg.get("nodes", instance["primary_node"])
    states = [(primary, "primary")] + [(node, "secondary")
                                       for node in usable_secondaries(lu, instance, skip)]
    return [play(lu.cfg, instance, states, "assemble disks", force=force,
                 wait_sync=wait_sync)]


def shutdown_plays(lu: Any, instance: dict[str, Any], state: str = "down",
                   skip: tuple[str, ...] = ()) -> list[Play]:
    """Plays that tear the disks down (``state="absent"``: and remove the volumes) on every
    node that can be contacted (none for a non-drbd instance; an ext instance's volumes are
    detached on its primary for ``down``, removed by the ``instance_remove`` role)."""
    if instance_ext.is_ext(instance) and state == "down":
        primary = lu.cfg.get("nodes", instance["primary_node"])
        if primary["offline"] or primary["uuid"] in skip:
            return []
        return [instance_ext.attach_play(lu.cfg, instance, primary, False)]
    if not is_drbd(instance):
        return []
    primary = lu.cfg.get("nodes", instance["primary_node"])
    nodes = ([] if primary["offline"] or primary["uuid"] in skip else [primary])
    nodes += usable_secondaries(lu, instance, skip)
    if not nodes:
        return []
    return [play(lu.cfg, instance, [(node, state) for node in nodes],
                 "remove disks" if state == "absent" else "shut down disks")]


def dual_primary_plays(lu: Any, instance: dict[str, Any], source: dict[str, Any],
                       target: dict[str, Any]) -> list[Play]:
    """Before a live migration: both ends connected and up to date (else the play fails before
    any change of role), two primaries allowed, the target's ends promoted too. An ext
    instance's volumes are attached on the target (externally mirrored storage)."""
    if instance_ext.is_ext(instance):
        return [instance_ext.attach_play(lu.cfg, instance, target, True)]
    if not is_drbd(instance):
        return []
    return [play(lu.cfg, instance, [(source, "primary"), (target, "primary")],
                 "allow two primaries", dual=True, require_synced=True)]


def single_primary_plays(lu: Any, instance: dict[str, Any], primary: dict[str, Any],
                         other: dict[str, Any]) -> list[Play]:
    """After a migration (done or failed): ``other``'s ends demoted, then two primaries no
    longer allowed."""
    if not is_drbd(instance):
        return []
    return [play(lu.cfg, instance, [(other, "secondary")], "demote the other node", dual=True),
            play(lu.cfg, instance, [(primary, "primary"), (other, "up")],
                 "one primary again")]


def keep_disks_active(lu: Any, instance: dict[str, Any]) -> bool:
    """Whether disks an operation assembles for itself stay assembled afterwards: when they
    are marked active (Ganeti's ``disks_active`` flag: a start or activate-disks), or the
    instance runs (Ganeti refuses to shut the disks of a running instance down)."""
    return objects.disks_active(instance) or bool(lu.is_running())


def check_consistent(lu: Any, instance: dict[str, Any], node: dict[str, Any],
                     what: str) -> None:
    """Refuse (OpExecError, as Ganeti's "Disk N is degraded on target node") unless every
    drbd end of ``instance`` on ``node`` is assembled with an up-to-date local disk (called
    for running instances only, whose disks are active, as Ganeti checks)."""
    try:
        live = rpc.drbd_status(lu.cfg, node)
    except rpc.NodeDown as err:
        raise OpPrereqError(f"Cannot get the DRBD status of node {node['name']}: {err}",
                            ECODE_ENVIRON) from err
    for end in drbd_vars(lu.cfg, instance, node["uuid"]):
        unconfigured = {"disk": "not configured", "connection": "Unconfigured"}
        status = live.get(end["minor"]) or unconfigured
        if status.get("disk") != "UpToDate":
            raise OpExecError(f"Disk {end['index']} is degraded on target node {node['name']}"
                              f" (/dev/drbd{end['minor']}: disk {status.get('disk')},"
                              f" connection {status.get('connection')}), aborting {what}")


def require_secondary_target(lu: Any, instance: dict[str, Any], target_node: str | None,
                             iallocator: str | None, action: str) -> dict[str, Any]:
    """The target of a failover/migration of a drbd instance: its secondary node. As in
    Ganeti, neither a target node other than the secondary nor an iallocator may be given."""
    nodes = instance_nodes(lu.cfg, instance)
    if len(nodes) < 2:
        raise OpPrereqError(f"Instance {instance['name']} has disk template drbd but no"
                            " secondary node", ECODE_STATE)
    secondary = nodes[1]
    given = lu.cfg.lookup("nodes", target_node)["uuid"] if target_node else None
    if iallocator or (given is not None and given != secondary["uuid"]):
        raise OpPrereqError(f"Instances with disk template drbd cannot be {action} to"
                            " arbitrary nodes (neither an iallocator nor a target node other"
                            f" than the secondary, {secondary['name']}, can be passed)",
                            ECODE_INVAL)
    return secondary
