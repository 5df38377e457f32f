"""Instance changes: set parameters, rename, reinstall."""

from __future__ import annotations

from typing import Any

from gnt.core import resolver
from gnt.core.errors import ECODE_EXISTS, ECODE_INVAL, ECODE_STATE, OpExecError, OpPrereqError
from gnt.core.locklevels import LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES, name_lock
from gnt.lu import (
    instance_convert,
    instance_disk_mods,
    instance_ext,
    instance_nic_mods,
    names,
    policy_checks,
)
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import checks, live
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import FILE_TEMPLATES, device_path, disk_path, instance_spec
from gnt.opcodes import params


@register
class LUInstanceSetParams(InstanceLU):
    """Config changes (effective at next start), online/offline, and live runtime memory."""

    OP_ID = "OP_INSTANCE_SET_PARAMS"

    def check_arguments(self) -> None:
        op = self.op
        self.be = params.check_beparams(op["beparams"], allow_default=True)
        self.hv_changes = op["hvparams"]
        # ``name=default`` (or None) drops the instance's own value, as -H/-B do.
        self.os_changes = {key: None if value in ("default", None) else value
                           for key, value in (op["osparams"] or {}).items()}
        others = [op["beparams"], op["hvparams"], op["osparams"], op["os_name"],
                  op["offline"] is not None, op["runtime_mem"] is not None, op["nics"],
                  op["disks"]]
        if not any(others) and not op["disk_template"]:
            raise OpPrereqError("No changes submitted", ECODE_INVAL)
        if op["disk_template"] and any(others):
            raise OpPrereqError("Disk template conversion and other changes not supported at"
                                " the same time", ECODE_INVAL)
        if op["runtime_mem"] is not None and op["runtime_mem"] <= 0:
            raise OpPrereqError(f"Invalid runtime memory {op['runtime_mem']}", ECODE_INVAL)

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        if self.op["disk_template"] and self.op["remote_node"]:   # the new secondary too
            new = str(self.cfg.lookup("nodes", self.op["remote_node"])["uuid"])
            locks[LEVEL_NODE] = sorted({*locks[LEVEL_NODE], new})
        if self.op["disks"]:     # disks made or removed: the nodes' resources, exclusively
            locks[LEVEL_NODE_RES] = list(locks[LEVEL_NODE])
        return locks

    def check_prereq(self) -> None:
        super().check_prereq()
        op, inst = self.op, self.instance
        if op["disk_template"]:
            instance_convert.check(self)
        self.hv = params.check_hvparams(inst["hypervisor"], self.hv_changes, allow_default=True)
        new_be = params.merge_overrides(inst["beparams"], self.be)
        filled = params.fill(params.filled_beparams(self.cfg.cluster(), {"beparams": {}}), new_be)
        self.filled_be = filled
        if filled["minmem"] > filled["maxmem"]:
            raise OpPrereqError(f"minmem ({filled['minmem']}M) would be above maxmem"
                                f" ({filled['maxmem']}M)", ECODE_INVAL)
        self.new_osparams = params.merge_overrides(inst["osparams"], self.os_changes)
        os_name = op["os_name"] or (inst["os"] if self.os_changes else None)
        if os_name and not self.node["offline"]:
            checks.check_os(self.cfg, self.node, os_name, self.new_osparams)
        if op["offline"] is not None:
            self._check_offline_change(op["offline"])
        self.nic_mods = None
        if op["nics"]:
            self.nic_mods = instance_nic_mods.NicMods(self, inst, op["nics"])
            self.nic_mods.check()
        self.disk_mods = None
        if op["disks"]:
            self.disk_mods = instance_disk_mods.DiskMods(self, inst, op["disks"])
            self.disk_mods.check()
        if op["nics"] or op["disks"]:
            self._check_hotplug()
        self._check_ipolicy()
        if op["runtime_mem"] is not None:
            if inst["admin_state"] != "up" or not self.is_running():
                raise OpPrereqError(f"Instance {self.name} is not running: runtime memory can"
                                    " only change on a running instance", ECODE_STATE)
            if not op["force"] and not filled["minmem"] <= op["runtime_mem"] <= filled["maxmem"]:
                raise OpPrereqError(f"Runtime memory {op['runtime_mem']} MiB is outside the"
                                    f" instance's range {filled['minmem']}..{filled['maxmem']}"
                                    " MiB (use --force to override minmem)", ECODE_INVAL)
            if op["runtime_mem"] > filled["maxmem"]:
                raise OpPrereqError(f"Runtime memory {op['runtime_mem']} MiB is above maxmem"
                                    f" {filled['maxmem']} MiB", ECODE_INVAL)

    def _check_ipolicy(self) -> None:
        """The instance as it will be (memory both ways, CPUs, disks, NICs, template)
        against its group's policy, as Ganeti (unless ``ignore_ipolicy``)."""
        inst, op = self.instance, self.op
        disks = (self.disk_mods.disks if self.disk_mods is not None
                 else self.cfg.instance_disks(inst))
        if op["disk_template"]:
            disks = [dict(disk, dev_type=op["disk_template"]) for disk in disks]
        nics = self.nic_mods.nics if self.nic_mods is not None else inst.get("nics") or []
        policy_checks.check_new_specs(self, str(self.node["group"]), self.filled_be, disks,
                                      len(nics), op["ignore_ipolicy"], both_memories=True)

    def _check_hotplug(self) -> None:
        """NIC and disk changes reach a running instance at its next start: ``hotplug`` is refused,
        ``hotplug_if_possible`` warns (as Ganeti when the hypervisor cannot)."""
        if self.instance["admin_state"] != "up" or not (self.op["hotplug"]
                                                        or self.op["hotplug_if_possible"]):
            return
        why = "hotplugging devices is not supported by gnt.cluster yet"
        if self.op["hotplug"]:
            raise OpPrereqError(f"Hotplug is not possible: {why}", ECODE_STATE)
        self.log(f"WARNING: {why}")
        self.log("Modification will take place without hotplugging.")

    def _check_offline_change(self, offline: bool) -> None:
        """As Ganeti: marking offline needs the instance down, marking online needs it
        offline; either way it must not run (unless its node is offline)."""
        inst = self.instance
        why = ("can't change to offline without being down first" if offline else
               "can't change to online (down) without being offline first")
        if inst["admin_state"] not in ("down", "offline"):
            raise OpPrereqError(f"Instance '{self.name}' is marked to be"
                                f" {inst['admin_state']}, {why}", ECODE_STATE)
        if self.node["offline"]:
            self.log(f"Primary node {self.node['name']} is offline: not checking that"
                     f" {self.name} is down")
        elif self.is_running():
            raise OpPrereqError(f"Instance {self.name} is running, {why}", ECODE_STATE)

    def exec(self) -> Any:
        op = self.op
        changes: list[list[str]] = []
        if op["disk_template"]:
            instance_convert.convert(self)
            return [["disk_template", op["disk_template"]]]
        if op["runtime_mem"] is not None:
            host = self.host_vars(gnt_memory_mib=op["runtime_mem"])
            # The node checks the new size against the bounds this LU checked (the changed
            # beparams; with --force the size may go below minmem).
            bounds = dict(self.filled_be)
            bounds["minmem"] = min(bounds["minmem"], op["runtime_mem"])
            host["gnt_instance"]["beparams"] = bounds
            self.play("instance_runtime_memory", f"change memory of {self.name}", **host)
            changes.append(["runtime_memory", str(op["runtime_mem"])])
        if self.disk_mods is not None:     # node work first; it records the disks itself
            self.disk_mods.run()
            changes.extend(self.disk_mods.changes)

        def change(obj: dict[str, Any]) -> None:
            if self.be:
                obj["beparams"] = params.merge_overrides(obj["beparams"], self.be)
                changes.extend([f"be/{k}", str(v)] for k, v in self.be.items())
            if self.hv:
                obj["hvparams"] = params.merge_overrides(obj["hvparams"], self.hv)
                changes.extend([f"hv/{k}", str(v)] for k, v in self.hv.items())
            if op["osparams"]:
                obj["osparams"] = params.merge_overrides(obj["osparams"], self.os_changes)
                changes.extend([f"os/{k}", str(v)] for k, v in op["osparams"].items())
            if op["os_name"]:
                obj["os"] = op["os_name"]
                changes.append(["os", op["os_name"]])
            if op["offline"] is True:     # as Ganeti: its disks are marked inactive too
                obj["admin_state"] = "offline"
                obj["disks_active"] = False
                changes.append(["admin_state", "offline"])
            elif op["offline"] is False and obj["admin_state"] == "offline":
                obj["admin_state"] = "down"
                changes.append(["admin_state", "down"])
        with self.cfg.transaction():
            if self.nic_mods is not None:
                self.nic_mods.write()
                changes.extend(self.nic_mods.changes)
            if any([self.be, self.hv, op["osparams"], op["os_name"],
                    op["offline"] is not None]):
                self.cfg.modify("instances", self.instance["uuid"], change)
        if self.be or self.hv:
            self.log("Parameter changes take effect at the next start of the instance")
        return changes


@register
class LUInstanceRename(InstanceLU):
    """Rename a stopped instance: config, disk files, domain and (optionally) inside the OS."""

    OP_ID = "OP_INSTANCE_RENAME"
    RECHECK_NAME = True

    def check_arguments(self) -> None:
        if not resolver.valid_hostname(self.op["new_name"]):
            raise OpPrereqError(f"Invalid instance name '{self.op['new_name']}'", ECODE_INVAL)
        self.op["new_name"], self.check_ip = names.check_name(
            self, self.op["new_name"], self.op["name_check"], self.op["ip_check"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        # The instance by UUID, and the new name reserved against a concurrent add/rename.
        locks[LEVEL_INSTANCE] = [self.instance_uuid, name_lock(self.op["new_name"])]
        return locks

    def check_prereq(self) -> None:
        super().check_prereq()
        new = self.op["new_name"]
        # A rename to the same name is allowed, as in Ganeti (only the OS rename script runs).
        if new != self.name and any(inst["name"] == new for inst in self.cfg.all("instances")):
            raise OpPrereqError(f"Instance '{new}' is already in the cluster", ECODE_EXISTS)
        if self.op["ip_check"]:
            names.check_ip_free(new, self.check_ip)
        self.require_node_online()
        if self.is_running():
            raise OpPrereqError(f"Instance {self.name} is running; shut it down before renaming",
                                ECODE_STATE)
        # A failed rename defines the old domain again if there was one (see _undo).
        self.had_domain = self.name in live.node_domains(self.cfg, self.node)

    def exec(self) -> Any:
        new, old_name = self.op["new_name"], self.name
        cluster = self.cfg.cluster()
        old_spec = instance_spec(self.cfg, self.instance)
        disks = []
        for index, disk in enumerate(self.cfg.instance_disks(self.instance)):
            # file disks live in a directory named after the instance; volumes keep their names
            updated = dict(disk, logical_id=[disk["logical_id"][0],
                                             disk_path(cluster, disk["dev_type"], new, index)]
                           ) if disk["dev_type"] in FILE_TEMPLATES else disk
            disks.append(updated)
        renamed = dict(self.instance, name=new)
        new_spec = instance_spec(self.cfg, renamed)
        for spec_disk, disk in zip(new_spec["disks"], disks, strict=True):
            if disk["dev_type"] != params.DT_DRBD8:   # drbd: the link named after the instance
                spec_disk["path"] = device_path(disk, self.instance["primary_node"])
        node = self.host_vars()["gnt_node"]
        try:
            self.play("instance_rename", f"rename instance {old_name} to {new}",
                      gnt_instance=new_spec, gnt_old_instance=old_spec, gnt_node=node,
                      gnt_rename_os=bool(self.instance["os"]))
        except OpExecError as err:
            raise OpExecError(f"{err}\n{self._undo(old_spec, new_spec, node)}") from err
        if new == old_name:
            self.log(f"Instance {new} keeps its name (the OS rename script ran)")
            return new
        self.cfg.replace_many({"instances": [renamed], "disks": disks})
        self.log(f"Instance {old_name} renamed to {new}")
        return new

    def _undo(self, old_spec: dict[str, Any], new_spec: dict[str, Any],
              node: dict[str, Any]) -> str:
        """After a failed rename on the node, move the node's side back to the old name so it
        agrees with the config (which still has the old name); say what is left to do."""
        old, new = old_spec["name"], new_spec["name"]
        back = [Play("instance_rename", {self.node["name"]: {
            "gnt_instance": old_spec, "gnt_old_instance": new_spec, "gnt_node": node,
            "gnt_rename_os": False}}, title="undo rename")]
        if self.had_domain:
            back.append(Play("instance_define", {self.node["name"]: {
                "gnt_instance": old_spec, "gnt_node": node}}, title="define the domain again"))
        try:
            self.run_plays(back, f"undo the rename of {old} on node {self.node['name']}")
        except Exception as err:  # noqa: BLE001 -- reported with the command that fixes it
            return (f"The instance keeps its name {old} in the config, but its disks or domain"
                    f" on node {self.node['name']} may be partly renamed to {new} and could not"
                    f" be moved back ({err}); fix the cause and run 'gnt-instance rename"
                    f" {old} {new}' again")
        return (f"The node's side was moved back: instance {old} keeps its name (config and"
                f" node {self.node['name']} agree)")


@register
class LUInstanceReinstall(InstanceLU):
    """Run the OS create scripts again on a stopped instance (optionally with a new OS)."""

    OP_ID = "OP_INSTANCE_REINSTALL"

    def check_prereq(self) -> None:
        super().check_prereq()
        self.require_node_online()
        if self.instance["admin_state"] == "up" or self.is_running():
            raise OpPrereqError(f"Instance {self.name} is marked up or running; shut it down"
                                " before reinstalling", ECODE_STATE)
        if self.instance["disk_template"] == params.DT_DISKLESS:
            raise OpPrereqError(f"Instance {self.name} is diskless: nothing to install on",
                                ECODE_INVAL)
        self.os_name = self.op["os_type"] or self.instance["os"]
        if not self.os_name:
            raise OpPrereqError(f"Instance {self.name} has no OS; give one with -o",
                                ECODE_INVAL)
        checks.check_os(self.cfg, self.node, self.os_name, self.op["osparams"] or {})

    def exec(self) -> Any:
        if self.os_name != self.instance["os"] or self.op["osparams"]:
            def change(obj: dict[str, Any]) -> None:
                obj["os"] = self.os_name
                if self.op["osparams"] is not None:
                    obj["osparams"] = dict(self.op["osparams"])
            self.instance = self.cfg.modify("instances", self.instance["uuid"], change)
        self.log(f"* running the OS create scripts of {self.os_name} for {self.name}")
        attach: tuple[Any, ...] = ()
        detach: tuple[Any, ...] = ()
        if instance_ext.is_ext(self.instance):   # the stopped instance's volumes, for the OS
            attach = (instance_ext.attach_play(self.cfg, self.instance, self.node, True),)
            detach = (instance_ext.attach_play(self.cfg, self.instance, self.node, False),)
        # the ext volumes end detached: marked inactive, as Ganeti's reinstall ends with the
        # disks shut down (other templates' disks are left as they were, so is the flag)
        self.play_recording_state(None, "instance_reinstall", f"reinstall instance {self.name}",
                                  before=attach, after=detach,
                                  disks_active=False if detach else None, **self.host_vars())
        return None
