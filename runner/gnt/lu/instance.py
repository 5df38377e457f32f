"""Instance power and lifetime: startup, shutdown, reboot, remove."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_STATE, OpExecError, OpPrereqError
from gnt.lu import instance_drbd, instance_storage
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import checks, live
from gnt.opcodes import params


@register
class LUInstanceStartup(InstanceLU):
    """Start with maxmem if free, else all free memory down to minmem (as Ganeti does)."""

    OP_ID = "OP_INSTANCE_STARTUP"
    LOCK_NODE_RES = True

    def check_arguments(self) -> None:
        self.be_overrides = params.check_beparams(self.op["beparams"])
        self.hv_overrides = self.op["hvparams"]

    def check_prereq(self) -> None:
        super().check_prereq()
        if self.instance["admin_state"] == "offline":
            raise OpPrereqError(f"Instance {self.name} is marked offline; bring it online first"
                                f" with 'gnt-instance modify --online {self.name}'", ECODE_STATE)
        self.require_node_online()
        if self.hv_overrides:
            params.check_hvparams(self.instance["hypervisor"], self.hv_overrides)
        state = self.node_state()  # one node call: is it running, and the free memory
        self.already_running = self.is_running(state.get("domains") or {})
        self.memory = None
        if not self.already_running:
            be = params.fill(params.filled_beparams(self.cfg.cluster(), self.instance),
                             self.be_overrides)
            self.memory = checks.memory_to_start(self.node, state.get("mfree"), be["minmem"],
                                                 be["maxmem"], self.name)

    def exec(self) -> Any:
        if self.already_running:
            self.log(f"Instance {self.name} is already running")
        else:
            host = self.host_vars(self.memory)
            if self.hv_overrides:
                host["gnt_instance"]["hvparams"].update(
                    params.check_hvparams(self.instance["hypervisor"], self.hv_overrides))
            if self.be_overrides:
                host["gnt_instance"]["beparams"].update(self.be_overrides)
            if self.memory is not None and self.memory < host["gnt_instance"]["beparams"]["maxmem"]:
                self.log(f"Starting {self.name} with {self.memory} MiB (less than maxmem: node"
                         " memory is short)")
            # As Ganeti: the disks are marked active (also with --no-remember)
            self.play_recording_state(
                None if self.op["no_remember"] else "up", "instance_start",
                f"start instance {self.name}",
                before=tuple(instance_drbd.assemble_plays(self, self.instance)),
                disks_active=True, **host)
            return None
        self.set_admin_state(None if self.op["no_remember"] else "up", disks_active=True)
        return None


@register
class LUInstanceShutdown(InstanceLU):
    OP_ID = "OP_INSTANCE_SHUTDOWN"

    def check_prereq(self) -> None:
        super().check_prereq()
        if self.instance["admin_state"] == "offline" and not self.op["force"]:
            raise OpPrereqError(f"Instance {self.name} is offline (already stopped)",
                                ECODE_STATE)
        if self.node["offline"]:
            if not self.op["ignore_offline_nodes"]:
                raise OpPrereqError(f"Primary node {self.node['name']} is offline (use"
                                    " --ignore-offline to only mark it down)", ECODE_STATE)
            self.running = False
        else:
            self.running = self.is_running()

    def exec(self) -> Any:
        # As Ganeti: a drbd instance's disks are deactivated on both nodes once it is down,
        # and marked inactive (not when the primary is offline: Ganeti then only marks the
        # instance down).
        disks_down = tuple(instance_drbd.shutdown_plays(self, self.instance))
        remember = not self.op["no_remember"] and self.instance["admin_state"] != "offline"
        state = "down" if remember else None
        inactive = None if self.node["offline"] else False
        if self.running:
            self.play_recording_state(
                state, "instance_stop", f"shut down instance {self.name}", after=disks_down,
                disks_active=inactive, **self.host_vars(gnt_shutdown_timeout=self.op["timeout"]))
            return None
        self.log(f"Instance {self.name} is not running")
        if disks_down:
            self.run_plays_recording_state(list(disks_down), f"shut down the disks of"
                                           f" {self.name}", state, inactive)
        else:
            self.set_admin_state(state, disks_active=inactive)
        return None


@register
class LUInstanceReboot(InstanceLU):
    """soft: ACPI reboot; hard: restart the VM process; full: shutdown then start."""

    OP_ID = "OP_INSTANCE_REBOOT"
    LOCK_NODE_RES = True

    def check_prereq(self) -> None:
        super().check_prereq()
        if self.instance["admin_state"] == "offline":
            raise OpPrereqError(f"Instance {self.name} is offline, cannot reboot", ECODE_STATE)
        self.require_node_online()
        state = self.node_state()  # one node call: is it running, and the free memory
        self.running = self.is_running(state.get("domains") or {})
        self.memory = None
        if not self.running or self.op["reboot_type"] != "soft":
            be = params.filled_beparams(self.cfg.cluster(), self.instance)
            self.memory = be["maxmem"] if self.running else checks.memory_to_start(
                self.node, state.get("mfree"), be["minmem"], be["maxmem"], self.name)

    def exec(self) -> Any:
        if not self.running:
            self.log(f"Instance {self.name} was not running, starting it")
            self.play_recording_state("up", "instance_start", f"start instance {self.name}",
                                      before=tuple(instance_drbd.assemble_plays(
                                          self, self.instance)),
                                      disks_active=True, **self.host_vars(self.memory))
        else:
            self.play_recording_state(
                "up", "instance_reboot", f"reboot instance {self.name}", disks_active=True,
                **self.host_vars(self.memory, gnt_reboot_type=self.op["reboot_type"],
                                 gnt_shutdown_timeout=self.op["shutdown_timeout"]))
        return None


@register
class LUInstanceRemove(InstanceLU):
    """Shut down (forced after the timeout), remove disks and domain, then the config."""

    OP_ID = "OP_INSTANCE_REMOVE"

    def _nothing_on_node(self) -> bool:
        """No disks and no domain defined on the node: removal is config-only."""
        if self.instance["disks"]:
            return False
        try:
            return self.name not in live.node_domains(self.cfg, self.node)
        except live.NodeDown:
            return False

    def exec(self) -> Any:
        if not self.node["offline"] and self._nothing_on_node():
            self.log(f"* instance {self.name} has no disks and no domain on"
                     f" {self.node['name']}: removing it from the config only")
        elif self.node["offline"]:
            if not self.op["ignore_failures"]:
                raise OpPrereqError(f"Primary node {self.node['name']} is offline: cannot"
                                    " remove the instance's disks (use --ignore-failures to"
                                    " remove it from the config only)", ECODE_STATE)
            self.log(f"  - WARNING: node {self.node['name']} offline; disks left there")
        else:
            self.log(f"* shutting down and removing instance {self.name}")
            try:
                self.play("instance_remove", f"remove instance {self.name}",
                          after=tuple(instance_drbd.shutdown_plays(self, self.instance,
                                                                   "absent")),
                          **self.host_vars(gnt_shutdown_timeout=self.op["shutdown_timeout"]))
            except OpExecError as err:
                if not self.op["ignore_failures"]:
                    raise OpExecError(f"{err}\nNothing was removed from the config; fix the"
                                      " cause or use --ignore-failures") from err
                self.log(f"  - WARNING: ignoring failures: {err}")
        instance_storage.remove_instance(self.cfg, self.instance)
        self.log(f"* removed instance {self.name} from the cluster config")
        return None
