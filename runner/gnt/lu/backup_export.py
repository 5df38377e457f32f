"""OP_BACKUP_EXPORT: an instance's disks and configuration into an export on a node.

The export is written into a hidden directory beside its final place
(``export_dir/.NAME.new-TOKEN``) and renamed to ``export_dir/NAME`` only when its
``config.ini`` is there, so a failed or killed export never leaves a half export under the
real name. After a complete export, the instance's exports on the other nodes are removed:
one export per instance in the cluster.

Without ``--noshutdown`` a running instance is shut down for the copy and started again
afterwards. With it, a running instance keeps running: its file disks are frozen by a
libvirt external snapshot (writes go to overlays meanwhile) and merged back after the copy,
so the dumps are crash-consistent.

Plain and drbd instances are read from logical volumes on the primary node (a drbd disk's
data volume under the DRBD device), as in Ganeti: a running instance's volumes are copied
through LVM snapshots (``<lv>.snap``, room of the volume's size) taken live with
``--noshutdown``, or while it is briefly shut down without it (restarted right after the
snapshots, before the copy); the snapshots are removed after the copy, and also when a step
fails. A stopped instance, or one exported with ``--remove-instance``, is read from its
volumes directly.

Ext instances are read from their ExtStorage volumes, attached on the primary node for the
copy: with the shutdown only, as ``--noshutdown`` would need the provider's snapshots, which
this version does not take.

As Ganeti's LUBackupExport (``activate_disks = not instance.disks_active``): the disks of an
instance whose ``disks_active`` flag is off are activated for the copy and deactivated after
it, also when a step fails, so the disks and the flag are left as the export found them. What
the copy needs is activated: a plain instance's volumes, a drbd instance's data volumes (read
directly, no DRBD device is assembled for it), an ext instance's volumes (attached); after
the copy the plain volumes are deactivated and the ext volumes detached, as
``gnt-instance deactivate-disks`` leaves them. Ganeti marks the disks active and then inactive
in its config; here the flag is not written, as it ends unchanged. The disks of a running
instance are in use and never deactivated, whatever the flag says.

The result is Ganeti's ``[finalized, [disk ok, ...]]``; the CLI turns it into exit code 0
(all), 2 (some disks failed) or 1 (nothing, or no config: those raise).
"""

from __future__ import annotations

import uuid
from typing import Any

from gnt.config import exportcfg, objects
from gnt.core import settings
from gnt.core.errors import ECODE_INVAL, ECODE_STATE, GntError, OpExecError, OpPrereqError
from gnt.core.locklevels import LEVEL_NODE
from gnt.lu import instance_ext, instance_storage
from gnt.lu.backup import export_holders, export_path, remove_export_from
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.lu.instance_disks import volumes_play
from gnt.nodes import checks
from gnt.nodes.executor import Play, RunResult
from gnt.nodes.nodevars import node_access, transfer_peer
from gnt.opcodes import params
from gnt.opcodes.backup import EXPORT_MODE_LOCAL

SNAPSHOT_TEMPLATES = (params.DT_FILE, params.DT_SHARED_FILE)
# read from logical volumes on the primary node (through LVM snapshots while running)
LV_TEMPLATES = (params.DT_PLAIN, params.DT_DRBD8)


@register
class LUBackupExport(InstanceLU):
    """Export an instance to a node (``gnt-backup export -n NODE INSTANCE``)."""

    OP_ID = "OP_BACKUP_EXPORT"

    def check_arguments(self) -> None:
        if self.op["mode"] != EXPORT_MODE_LOCAL:
            raise OpPrereqError("Only local exports (to a node of this cluster) are supported;"
                                " moving instances between clusters is move-instance's job",
                                ECODE_INVAL)
        if self.op["remove_instance"] and not self.op["shutdown"]:
            raise OpPrereqError("Cannot remove the instance without shutting it down first"
                                " (--remove-instance needs the shutdown: drop --noshutdown)",
                                ECODE_INVAL)
        if self.op["shutdown_timeout"] < 0:
            raise OpPrereqError(f"Invalid shutdown timeout {self.op['shutdown_timeout']}:"
                                " must not be negative", ECODE_INVAL)

    def expand_names(self) -> None:
        super().expand_names()
        self.target = self.cfg.lookup("nodes", self.op["target_node"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        nodes = list(locks[LEVEL_NODE])
        if self.target["uuid"] not in nodes:
            nodes.append(str(self.target["uuid"]))
        locks[LEVEL_NODE] = nodes
        return locks

    def check_prereq(self) -> None:
        super().check_prereq()
        inst = self.instance
        self.target = self.cfg.get("nodes", self.target["uuid"])
        template = inst["disk_template"]
        if template not in (*SNAPSHOT_TEMPLATES, *LV_TEMPLATES, params.DT_EXT,
                            params.DT_DISKLESS):
            raise OpPrereqError(f"Instance {self.name} has disk template '{template}', which"
                                " this version cannot export (file, sharedfile, plain, drbd,"
                                " ext, diskless)", ECODE_STATE)
        self.require_node_online()
        if self.target["offline"]:
            raise OpPrereqError(f"Cannot export to node {self.target['name']}: it is offline",
                                ECODE_STATE)
        if inst["os"]:
            checks.check_os(self.cfg, self.node, inst["os"], inst.get("osparams") or {})
        self.running = self.is_running()
        self.stop_for_copy = self.op["shutdown"] and self.running
        on_lvs = template in LV_TEMPLATES and bool(inst["disks"])
        self.ext = template == params.DT_EXT and bool(inst["disks"])
        if self.ext and self.running and not self.op["shutdown"]:
            raise OpPrereqError(f"Instance {self.name} has ExtStorage disks, which this"
                                " version exports from a stopped instance only: drop"
                                " --noshutdown (it is shut down for the copy and started"
                                " again)", ECODE_STATE)
        self.snapshot = (not self.op["shutdown"] and self.running and bool(inst["disks"])
                         and not on_lvs)
        self.volumes = lv_volumes(self.cfg, inst) if on_lvs else []
        self.lv_snapshot = on_lvs and self.running and not self.op["remove_instance"]
        self.activate_disks = activates_disks(inst, self.running)

    # -- the steps ------------------------------------------------------------------------
    def exec(self) -> Any:
        name = self.name
        token = uuid.uuid4().hex[:12]
        self.tmp_dir = export_path(f".{name}.new-{token}")
        self.final_dir = export_path(name)
        self.log(f"Exporting instance {name} to {self.target['name']}:{self.final_dir}"
                 f" (compression {self.op['compress']})")
        disk_ok = self._copy_disks()
        if self.instance["disks"] and not any(disk_ok):
            self._discard()
            raise OpExecError(f"Export of {name} failed: no disk could be exported (see"
                              " above); any previous export of it is unchanged")
        try:
            self._finalize(disk_ok)
        except GntError:
            self._discard()
            raise
        complete = all(disk_ok)
        if complete:
            self._remove_other_exports()
            if self.op["remove_instance"]:
                self._remove_instance()
        else:
            failed = [str(index) for index, ok in enumerate(disk_ok) if not ok]
            self.log(f"WARNING: the export of {name} is incomplete: disk(s) {', '.join(failed)}"
                     " failed and are left out of it; exports on other nodes were kept"
                     + ("; the instance was not removed" if self.op["remove_instance"] else ""))
        return [True, disk_ok]

    def _on_primary(self, role: str, title: str, **extra: Any) -> Play:
        return Play(role, {self.node["name"]: self.host_vars(**extra)}, title=title)

    def _plays(self) -> list[Play]:
        plays: list[Play] = []
        if self.stop_for_copy:
            plays.append(self._on_primary("instance_stop", "shut down for the export",
                                          gnt_shutdown_timeout=self.op["shutdown_timeout"]))
        if self.snapshot:
            plays.append(self._on_primary("instance_disk_snapshot", "freeze the disks",
                                          gnt_snapshot={"state": "present"}))
        if self.lv_snapshot:
            plays.append(self._lv_snapshot_play("present"))
            if self.stop_for_copy:      # as Ganeti: back up once the snapshots exist
                plays.append(self._on_primary("instance_start", "restart"))
        if self.ext:
            plays.append(instance_ext.attach_play(self.cfg, self.instance, self.node, True))
        elif self.activate_disks and self.volumes:
            plays.append(self._volumes_play(True))
        if self.instance["disks"]:
            export = {"dest_dir": self.tmp_dir, "compression": self.op["compress"],
                      "target": transfer_peer(self.cfg, self.target, self.node)}
            play = self._on_primary("instance_export", "export the disks", gnt_export=export)
            if self.volumes:
                self._read_from_volumes(play.hosts[self.node["name"]]["gnt_instance"])
            plays.append(play)
        return plays + self._after_copy(recovering=False)

    def _lv_snapshot_play(self, state: str) -> Play:
        title = "snapshot the volumes" if state == "present" else "remove the snapshots"
        return Play("instance_lv_snapshot",
                    {self.node["name"]: {"gnt_lv_snapshot": {"state": state,
                                                             "volumes": self.volumes}}},
                    title=title)

    def _volumes_play(self, active: bool) -> Play:
        """The plain (drbd: data) volumes activated or deactivated on the primary node."""
        return volumes_play(self.node, [{"vg": v["vg"], "name": v["lv"]} for v in self.volumes],
                            active)

    def _deactivation_plays(self) -> list[Play]:
        """After the copy: the disks the export activated deactivated again (a drbd
        instance's data volumes stay active, as deactivate-disks leaves them)."""
        if not self.activate_disks:
            return []
        if self.ext:
            return [instance_ext.attach_play(self.cfg, self.instance, self.node, False)]
        if self.volumes and self.instance["disk_template"] == params.DT_PLAIN:
            return [self._volumes_play(False)]
        return []

    def _read_from_volumes(self, spec: dict[str, Any]) -> None:
        """Point the export at the snapshots (or the volumes themselves), not the devices."""
        for disk, volume in zip(spec["disks"], self.volumes, strict=True):
            name = volume["snap"] if self.lv_snapshot else volume["lv"]
            disk["path"] = f"/dev/{volume['vg']}/{name}"

    def _after_copy(self, recovering: bool = True) -> list[Play]:
        """Merge the snapshot back or remove it, and restart what the export stopped (after
        LVM snapshots it was restarted before the copy, unless recovering from a failure)."""
        plays = []
        if self.snapshot:
            plays.append(self._on_primary("instance_disk_snapshot", "end the snapshot",
                                          gnt_snapshot={"state": "absent"}))
        if self.lv_snapshot:
            plays.append(self._lv_snapshot_play("absent"))
        plays += self._deactivation_plays()
        restarted = self.lv_snapshot and not recovering
        if self.stop_for_copy and not self.op["remove_instance"] and not restarted:
            plays.append(self._on_primary("instance_start", "restart"))
        return plays

    def _copy_disks(self) -> list[bool]:
        """Run the plays; return one ok flag per disk (a failed disk is logged)."""
        plays = self._plays()
        if not plays:
            return []
        nodes = {self.node["name"]: node_access(self.cfg, self.node)}
        result = self.ctx.executor.run(plays, nodes, self.feedback)
        exported = self._export_result(result)
        if not result.ok:
            self._recover(result, exported is not None)
            if exported is None:
                self._discard()
                raise OpExecError(f"Could not export {self.name}:\n{result.failure_summary()}")
        disk_ok = [False] * len(self.instance["disks"])
        for entry in (exported or {}).get("disks") or []:
            index = int(entry.get("index", -1))
            if 0 <= index < len(disk_ok) and entry.get("ok"):
                disk_ok[index] = True
                self.log(f"  disk {index}: exported ({entry.get('method')}, "
                         f"{_mib(entry.get('bytes'))} in {entry.get('duration_s')} s)")
            elif 0 <= index < len(disk_ok):
                self.log(f"WARNING: {entry.get('msg') or f'disk {index} failed'}")
        if exported is not None and not exported.get("disks") and exported.get("msg"):
            self.log(f"WARNING: {exported['msg']}")     # failed before any disk
        return disk_ok

    def _export_result(self, result: RunResult) -> dict[str, Any] | None:
        host = result.hosts.get(self.node["name"])
        if host is None:
            return None
        value = host.facts.get("gnt_export_result")
        return value if isinstance(value, dict) else None

    def _recover(self, result: RunResult, exported: bool) -> None:
        """After a failed step: end the snapshot and restart the instance if needed."""
        self.log(f"WARNING: a step of the export failed:\n{result.failure_summary()}")
        plays = self._after_copy()
        if not plays:
            return
        retry = self.ctx.executor.run(plays, {self.node["name"]: node_access(self.cfg,
                                                                             self.node)},
                                      self.feedback)
        if retry.ok:
            return
        if self.snapshot:
            hint = (f"the instance may still write to snapshot overlays (*.gnt-snap next to"
                    f" its disks); run 'gnt-backup export --noshutdown -n NODE {self.name}'"
                    " again")
        elif self.lv_snapshot:
            snaps = ", ".join(f"{v['vg']}/{v['snap']}" for v in self.volumes)
            hint = (f"remove the snapshots {snaps} on {self.node['name']} (lvremove) and run"
                    f" 'gnt-instance startup {self.name}' if it is down")
        else:
            hint = f"run 'gnt-instance startup {self.name}'"
        message = f"Could not restore instance {self.name} after the export ({hint}):\n" \
                  f"{retry.failure_summary()}"
        if not exported:
            raise OpExecError(message)
        self.log(f"WARNING: {message}")

    def _finalize(self, disk_ok: list[bool]) -> None:
        """Write config.ini into the new export and put it in place of the old one on the
        target (role ``export_place``)."""
        names = _dump_names(self.instance, self.op["compress"])
        dumps = [name if ok else None for name, ok in zip(names, disk_ok)]
        info = exportcfg.build_export_info(self.cfg.data, self.instance, dumps,
                                           self.op["compress"])
        place = {"path": self.final_dir, "source": self.tmp_dir,
                 "config": exportcfg.render(info),
                 "export_root": str(settings.paths().export_dir)}
        play = Play("export_place", {self.target["name"]: {"gnt_export_place": place}},
                    title="put the export in place")
        result = self.ctx.executor.run([play], {self.target["name"]: node_access(
            self.cfg, self.target)}, self.feedback)
        if not result.ok:
            raise OpExecError(f"Could not put the export of {self.name} in place on"
                              f" {self.target['name']}:\n{result.failure_summary()}")
        self.log(f"Export of {self.name} complete on {self.target['name']}")

    def _discard(self) -> None:
        error = remove_export_from(self, [self.target], [self.tmp_dir]).get(self.target["name"])
        if error is not None:
            self.log(f"WARNING: could not remove the unfinished export {self.tmp_dir} on"
                     f" {self.target['name']}: {error} (it is hidden from"
                     " 'gnt-backup list'; remove it by hand)")

    def _remove_other_exports(self) -> None:
        others = [n for n in self.cfg.all("nodes")
                  if not n["offline"] and n["uuid"] != self.target["uuid"]]
        holders, silent = export_holders(self.cfg, others, self.name)
        for node, why in silent.items():
            self.log(f"WARNING: could not look for old exports on {node}: {why}")
        removed = remove_export_from(self, holders, [export_path(self.name)])
        for node, error in removed.items():
            if error is None:
                self.log(f"Removed the previous export of {self.name} from {node}")
            else:
                self.log(f"WARNING: could not remove the previous export of {self.name} from"
                         f" {node}: {error}")

    def _remove_instance(self) -> None:
        self.log(f"Removing instance {self.name} (--remove-instance)")
        try:
            self.play("instance_remove", f"remove instance {self.name}",
                      **self.host_vars(gnt_shutdown_timeout=self.op["shutdown_timeout"]))
        except OpExecError as err:
            if not self.op["ignore_remove_failures"]:
                raise OpExecError(f"{err}\nThe export is complete; the instance was kept"
                                  " (remove it with 'gnt-instance remove')") from err
            self.log(f"WARNING: ignoring the removal failure: {err}")
        instance_storage.remove_instance(self.cfg, self.instance)


def activates_disks(instance: dict[str, Any], running: bool) -> bool:
    """Whether an export activates the disks of ``instance`` for the copy and deactivates
    them after it: Ganeti's ``not instance.disks_active``, for an instance with disks that
    does not run (a running instance's disks are active, and in use)."""
    return bool(instance["disks"]) and not running and not objects.disks_active(instance)


def lv_volumes(cfg: Any, instance: dict[str, Any]) -> list[dict[str, Any]]:
    """The logical volume holding each disk's data on the primary node (a drbd disk's data
    child), with its snapshot's name and room (the volume's size, as Ganeti)."""
    volumes = []
    for disk in cfg.instance_disks(instance):
        data = disk["children"][0] if disk["dev_type"] == params.DT_DRBD8 else disk
        vg, lv = data["logical_id"][0], data["logical_id"][1]
        volumes.append({"vg": vg, "lv": lv, "snap": f"{lv}.snap", "size_mib": int(disk["size"])})
    return volumes


def _dump_names(instance: dict[str, Any], compression: str) -> list[str]:
    from gnt.core.collection import load_module_util

    dump_name = load_module_util("instance_dump").dump_name
    return [dump_name(index, compression) for index in range(len(instance["disks"]))]


def _mib(value: Any) -> str:
    try:
        return f"{int(value) / 1048576:.1f} MiB"
    except (TypeError, ValueError):
        return "? MiB"
