"""``gnt-instance move``: copy a non-mirrored instance's disks to another node, run it there.

As Ganeti's move: for ``file`` and ``plain`` instances (``diskless`` ones have nothing to
copy). The instance is shut down first if it runs; the disks are copied; only then does the
config name the new node as primary; the instance is started there if it is marked up (else
its domain is defined), and the old copy is removed from the old node.

- file disks are streamed into new files on the target (role ``instance_disk_copy``);
- plain disks: volumes of the same names and sizes are created in the target's volume groups
  first (role ``instance_create`` without the OS install, before the source is stopped), and
  each source volume is written into its new volume (role ``instance_volume_copy``). A plain
  disk's ``logical_id`` (VG, LV) names no node: the same names hold on the new node, and the
  disk's ``nodes`` switch with the primary.

A failure before the primary changes leaves the config alone: the new volumes on the target
are removed (plain), the instance is started again on its old node if it ran, and the error
says so.
"""

from __future__ import annotations

from typing import Any

from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_NORES,
    ECODE_STATE,
    GntError,
    OpExecError,
    OpPrereqError,
)
from gnt.lu import instance_storage
from gnt.lu.base import register
from gnt.lu.instance_migrate import MoveLU, Step, step_plays
from gnt.nodes import rpc
from gnt.nodes.nodevars import (
    instance_spec,
    node_ndparams,
    node_to_node_ssh_args,
    node_vars,
)
from gnt.opcodes import params

MOVABLE = (params.DT_FILE, params.DT_PLAIN, params.DT_DISKLESS)


def plain_space(disks: list[dict[str, Any]]) -> dict[str, int]:
    """MiB each volume group of the target must have free for the plain ``disks``."""
    needed: dict[str, int] = {}
    for disk in disks:
        vg = str(disk["logical_id"][0])
        needed[vg] = needed.get(vg, 0) + int(disk["size"])
    return needed


@register
class LUInstanceMove(MoveLU):
    """Move a non-redundant (file/plain/diskless) instance: stop, copy disks, start on the
    target."""

    OP_ID = "OP_INSTANCE_MOVE"

    def check_prereq(self) -> None:
        super().check_prereq()
        inst = self.instance
        if inst["disk_template"] not in MOVABLE:
            raise OpPrereqError(f"Instance {self.name} has disk template"
                                f" '{inst['disk_template']}': move works for file, plain and"
                                " diskless instances (use gnt-instance failover or migrate)",
                                ECODE_STATE)
        self.require_node_online()
        self.target = self.choose_target()
        try:
            info = rpc.live_info_or_error(self.cfg, self.target)
        except rpc.NodeDown as err:
            raise OpPrereqError(f"Target node {self.target['name']} does not answer: {err}",
                                ECODE_ENVIRON) from err
        disks = self.cfg.instance_disks(inst)
        if inst["disk_template"] == params.DT_PLAIN:
            instance_storage.check_free_space(self.cfg, [self.target], plain_space(disks))
        else:
            need = sum(d["size"] for d in disks)
            if info.get("dfree") is not None and int(info["dfree"]) < need:
                raise OpPrereqError(f"Not enough disk space on node {self.target['name']} for"
                                    f" {self.name}: needs {need} MiB, free {info['dfree']}"
                                    " MiB", ECODE_NORES)
        self.running = self.is_running()
        if inst["admin_state"] == "up":
            be = params.filled_beparams(self.cfg.cluster(), inst)
            free = int(info.get("mfree") or 0)
            if free < int(be["minmem"]):
                raise OpPrereqError(f"Not enough memory on node {self.target['name']} to start"
                                    f" {self.name} there: needs {be['minmem']} MiB (minmem),"
                                    f" free {free} MiB", ECODE_NORES)

    def copy_steps(self) -> list[Step]:
        """The first run: (plain) create the volumes on the target, stop the instance on its
        node if it runs, copy the disks there."""
        source, target = self.node, self.target
        plain = self.instance["disk_template"] == params.DT_PLAIN
        spec = instance_spec(self.cfg, self.instance)
        steps: list[Step] = []
        if plain and spec["disks"]:
            steps.append((target, "instance_create",
                          {"gnt_instance": spec, "gnt_node": node_vars(self.cfg, target),
                           "gnt_install": False}))
        if self.running:
            steps.append((source, "instance_stop",
                          self.vars_on(source, gnt_shutdown_timeout=self.op["shutdown_timeout"])))
        if not spec["disks"]:
            return steps
        copy: dict[str, Any] = {
            "target_address": target["secondary_ip"], "ssh_args": node_to_node_ssh_args(),
            "target_port": int(node_ndparams(self.cfg, target).get("ssh_port", 22)),
            "disks": [{"src": d["path"], "dst": d["path"]} for d in spec["disks"]]}
        if plain:
            copy["allowed_vgs"] = sorted(plain_space(self.cfg.instance_disks(self.instance)))
            steps.append((source, "instance_volume_copy", {"gnt_copy": copy}))
        else:
            steps.append((source, "instance_disk_copy",
                          {"gnt_node": node_vars(self.cfg, source), "gnt_copy": copy}))
        return steps

    def exec(self) -> Any:
        source, target = self.node, self.target
        self.log(f"Moving instance {self.name} from {source['name']} to {target['name']}")
        # One run: (plain) new volumes on the target, stop and copy on the old node; at a
        # checkpoint the target is recorded as the primary; then start (or define) it there
        # and remove the old copy.
        first = self.copy_steps()
        made = bool(first) and first[0][1] == "instance_create"
        up = self.instance["admin_state"] == "up"
        future = {**self.instance, "primary_node": target["uuid"]}
        later: list[Step] = [
            (target, "instance_start" if up else "instance_define",
             {"gnt_instance": instance_spec(self.cfg, future),
              "gnt_node": node_vars(self.cfg, target)}),
            (source, "instance_remove", {"gnt_instance": instance_spec(self.cfg, future),
                                         "gnt_node": node_vars(self.cfg, source)})]
        what = [f"stop and copy the disks of {self.name}"] * len(first) + [
            f"{'start' if up else 'define'} {self.name} on {target['name']} and remove its"
            f" old copy on {source['name']}"] * len(later)

        def record_target() -> None:
            # as Ganeti: an instance marked up gets its disks assembled (marked active) there
            self.set_primary(target, disks_active=True if up else None)
            self.node = target

        if not first:
            record_target()
        while True:
            plays = step_plays([*first, *later])
            if first:
                plays[len(first) - 1].then = record_target
            failure = self.run_play_list(plays, what)
            if failure is None or failure[0] >= len(first):
                break
            if first[failure[0]][1] == "instance_stop" and self.op["ignore_consistency"]:
                # as Ganeti: --ignore-consistency copies even if the shutdown failed
                self.log(f"WARNING: could not shut down {self.name} on {source['name']};"
                         f" proceeding anyway (--ignore-consistency), make sure it is down:"
                         f" {failure[1]}")
                first = first[failure[0] + 1:]
                what = what[failure[0] + 1:]
                if not first:
                    record_target()
                continue
            self._undo_copy(first, *failure, made=made)
        if first:
            self._report_copy(source)
        if failure is None:
            return {"node": target["name"]}
        if failure[0] == len(first):
            raise OpExecError(f"{failure[1]} -- the instance's disks and primary are now on"
                              f" {target['name']}; its old copy on {source['name']} is kept")
        raise OpExecError(f"{failure[1]} -- the instance is now on {target['name']};"
                          f" remove its old copy on {source['name']} by hand (gnt-cluster"
                          " verify lists it as orphan disks)")

    def _report_copy(self, source: dict[str, Any]) -> None:
        """Log what the copy role reported per disk (action, size, time, rate) on ``source``."""
        host = self.last_run.hosts.get(source["name"])
        result = host.facts.get("gnt_disk_copy_result") if host is not None else None
        if not isinstance(result, dict):
            return
        for index, disk in enumerate(result.get("disks") or []):
            seconds = float(disk.get("duration_s") or 0)
            size = float(disk.get("size_mib") or 0)
            rate = f", {size / seconds:.1f} MiB/s" if seconds > 0 else ""
            self.log(f"  - disk/{index}: {disk.get('action')} {size:g} MiB to"
                     f" {self.target['name']} in {seconds:.1f} s{rate}")

    def _undo_copy(self, steps: list[Step], index: int, error: OpExecError,
                   made: bool) -> None:
        """After step ``index`` of the first run failed: the config is unchanged; remove the
        volumes made on the target (plain, ``made``), start the instance again if it was
        stopped here, and raise the error saying what is where."""
        source, target = self.node, self.target
        role = steps[index][1]
        if role == "instance_stop" and not made:
            raise error
        notes = [f"the instance stays on {source['name']}"]
        if made:
            notes.append(self._remove_new_volumes())
        elif role == "instance_disk_copy":
            notes.append(f"copies of the disks sent before the failure may be left on"
                         f" {target['name']} (gnt-cluster verify"
                         " lists them as orphan disks)")
        if role in ("instance_disk_copy", "instance_volume_copy"):
            self._restart_source(source)
        raise OpExecError(f"{error} -- {'; '.join(notes)}")

    def _remove_new_volumes(self) -> str:
        """Remove the volumes of the instance on the target; what happened, for the error."""
        target = self.target
        spec = instance_spec(self.cfg, self.instance)
        try:
            self.run_on(target, "instance_disk_remove",
                        f"remove the new volumes of {self.name} on {target['name']}",
                        gnt_instance=spec, gnt_node=node_vars(self.cfg, target))
        except GntError as err:
            self.log(f"WARNING: {err}")
            return (f"its new volumes on {target['name']} could not be removed, remove them by"
                    " hand (gnt-cluster verify lists them as orphan disks)")
        return f"its new volumes on {target['name']} were removed"

    def _restart_source(self, source: dict[str, Any]) -> None:
        if self.running:
            try:
                self.run_on(source, "instance_start", f"restart {self.name}",
                            **self.vars_on(source))
            except GntError as err:
                self.log(f"WARNING: could not restart {self.name} on {source['name']}: {err}")
