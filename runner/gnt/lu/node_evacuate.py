"""Emptying a node: ``gnt-node migrate`` (running shared-storage instances, live) and
``gnt-node evacuate`` (every primary instance: migrate if running, failover if stopped, move
for file instances). As in Ganeti, the LU checks and plans under its locks and ends with one
job per instance (:class:`ResultWithJobs`); the CLI waits for those jobs."""

from __future__ import annotations

from typing import Any

from gnt import iallocator as ia
from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpExecError, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES
from gnt.lu import placement
from gnt.lu.base import LogicalUnit, ResultWithJobs, register
from gnt.nodes import live
from gnt.opcodes.params import DT_DRBD8

RUNNING = ("running", "paused", "blocked")


class _NodeEmptyLU(LogicalUnit):
    """Locks every instance of the node (by UUID) and the nodes involved: the node and the
    target given, or all nodes while the allocator plans; ends with one job per instance."""

    BGL_SHARED = True
    SHARED_LEVELS = frozenset({LEVEL_NODE})
    # Set by check_prereq: the target given (a name), the allocator's plan (instance name ->
    # target name) and the instances to move.
    target: str | None = None
    plan: dict[str, str]
    todo: list[dict[str, Any]]

    def expand_names(self) -> None:
        self.node = self.cfg.lookup("nodes", self.op["node_name"])
        self.instances = sorted(self.cfg.node_instances(self.node["uuid"]),
                                key=lambda i: i["name"])
        # drbd instances whose secondary is this node (evacuate -s / all)
        self.secondaries = sorted(self.cfg.node_secondary_instances(self.node["uuid"]),
                                  key=lambda i: i["name"])

    def target_op(self) -> str | None:
        """The target node given in the opcode (None: the allocator chooses)."""
        raise NotImplementedError

    def declare_locks(self) -> dict[str, list[str] | str]:
        target = self.target_op()
        nodes: list[str] | str = ALL
        if target:
            target_uuid = str(self.cfg.lookup("nodes", target)["uuid"])
            nodes = sorted({str(self.node["uuid"]), target_uuid})
        return {LEVEL_INSTANCE: sorted({str(i["uuid"])
                                        for i in self.instances + self.secondaries}),
                LEVEL_NODE: nodes, LEVEL_NODE_RES: nodes}

    def check_instances(self) -> None:
        """Under the locks: the node's instances must be the ones locked (none added or moved
        away while this job waited); re-read them by UUID."""
        locked = {i["uuid"] for i in self.instances}
        now = {i["uuid"] for i in self.cfg.node_instances(self.node["uuid"])}
        locked_secondary = {i["uuid"] for i in self.secondaries}
        now_secondary = {i["uuid"] for i in self.cfg.node_secondary_instances(self.node["uuid"])}
        if now != locked or now_secondary != locked_secondary:
            raise OpPrereqError(f"The instances of node {self.node['name']} changed while this"
                                " job waited for its locks; submit it again", ECODE_STATE)
        self.instances = sorted((self.cfg.get("instances", uuid) for uuid in locked),
                                key=lambda i: i["name"])
        self.secondaries = sorted((self.cfg.get("instances", uuid) for uuid in
                                   locked_secondary), key=lambda i: i["name"])

    def make_plan(self, allocator: str | None) -> dict[str, str]:
        """Instance name -> target node name for ``self.todo``, from the allocator."""
        name = placement.allocator_name(self, allocator)
        # drbd instances go to their secondary: nothing to plan for them
        movable = [i["name"] for i in self.todo if i["disk_template"] != DT_DRBD8]
        if not movable:
            return {}
        request = ia.request_node_evacuate(movable, ia.EVAC_PRIMARY)
        answer = ia.run_iallocator(name, placement.cluster_request(self, request))
        if answer.failed:
            lines = "; ".join(f"{inst}: {why}" for inst, why in answer.failed)
            raise OpPrereqError(f"Iallocator {name} cannot evacuate node"
                                f" {self.node['name']}: {lines}", ECODE_STATE)
        return {inst: nodes[0] for inst, _group, nodes in answer.moved}

    def keep_nodes(self) -> None:
        """Once the targets are known: give back the locks of every node but this one, the
        target given and the planned targets."""
        targets = set(self.plan.values()) | ({self.target} if self.target else set())
        keep = sorted({str(self.node["uuid"])}
                      | {str(self.cfg.lookup("nodes", name)["uuid"]) for name in targets})
        self.release_locks(LEVEL_NODE, keep=keep)
        self.release_locks(LEVEL_NODE_RES, keep=keep)

    def running_here(self) -> set[str]:
        try:
            doms = live.node_domains(self.cfg, self.node)
        except live.NodeDown:
            return set()
        return {name for name, dom in doms.items() if dom["state"] in RUNNING}

    def target_name(self, remote: str | None) -> str | None:
        if remote:
            target = self.cfg.lookup("nodes", remote)
            if target["uuid"] == self.node["uuid"]:
                raise OpPrereqError(f"The target node {target['name']} is the node being"
                                    " emptied", ECODE_INVAL)
            return str(target["name"])
        return None

    def target_of(self, inst: dict[str, Any]) -> str | None:
        """Where ``inst`` goes: the target given or the allocator's plan (None for a drbd
        instance: its secondary)."""
        if inst["disk_template"] == DT_DRBD8:
            return None
        target = self.target or self.plan.get(inst["name"])
        if not target:
            raise OpExecError(f"No target node for instance {inst['name']}: nothing was"
                              " submitted")
        return target

    def jobs_for(self, ops: list[dict[str, Any]], verb: str) -> ResultWithJobs:
        """One job per instance (submitted by the job processor once this LU ends, each
        locking its own instance and nodes), as Ganeti's LU does."""
        for op in ops:
            where = op.get("target_node") or op.get("remote_node") or "its secondary node"
            self.log(f"{op['instance_name']}: {verb} to {where}")
        return ResultWithJobs([[op] for op in ops])


@register
class LUNodeMigrate(_NodeEmptyLU):
    """Live-migrate every running primary instance of a node (shared storage only)."""

    OP_ID = "OP_NODE_MIGRATE"

    def target_op(self) -> str | None:
        return self.op["target_node"]

    def check_prereq(self) -> None:
        self.check_instances()
        self.target = self.target_name(self.op["target_node"])
        running = self.running_here()
        self.todo = [i for i in self.instances if i["name"] in running]
        local = [i["name"] for i in self.todo if i["disk_template"]
                 not in (*placement.SHARED_TEMPLATES, DT_DRBD8)]
        if local:
            raise OpPrereqError(f"Instances {', '.join(local)} on {self.node['name']} have no"
                                " shared storage and cannot be migrated (gnt-instance move)",
                                ECODE_STATE)
        self.plan = {}
        if self.todo and not self.target:
            self.plan = self.make_plan(self.op["iallocator"])
        self.keep_nodes()

    def exec(self) -> Any:
        if not self.todo:
            self.log(f"No running instance on {self.node['name']}: nothing to migrate")
        ops = [{"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": inst["name"],
                "mode": self.op["mode"], "live": self.op["live"],
                "target_node": self.target_of(inst),
                "allow_runtime_changes": self.op["allow_runtime_changes"],
                "ignore_ipolicy": self.op["ignore_ipolicy"]}
               for inst in self.todo]
        return self.jobs_for(ops, "migrate")


@register
class LUNodeEvacuate(_NodeEmptyLU):
    """Move every instance off a node: its primary instances (-p; drbd ones fail over or
    migrate to their secondary) and the drbd instances it is the secondary of (-s: each gets
    a new secondary, given or from the allocator)."""

    OP_ID = "OP_NODE_EVACUATE"

    def target_op(self) -> str | None:
        return self.op["remote_node"]

    def check_prereq(self) -> None:
        self.check_instances()
        op = self.op
        if op["remote_node"] and op["iallocator"]:
            raise OpPrereqError("Give either a target node (-n) or an iallocator (-I), not"
                                " both", ECODE_INVAL)
        self.target = self.target_name(op["remote_node"])
        self.todo = [] if op["mode"] == "secondary-only" else list(self.instances)
        self.move_secondaries = [] if op["mode"] == "primary-only" else list(self.secondaries)
        self.plan = {}
        if self.todo and not self.target:
            self.plan = self.make_plan(op["iallocator"])
        self.keep_nodes()
        self.running = self.running_here()

    def exec(self) -> Any:
        if not self.todo and not self.move_secondaries:
            self.log(f"No {'secondary ' if self.op['mode'] == 'secondary-only' else ''}"
                     f"instances on {self.node['name']}: nothing to evacuate")
        ops = [self._op_for(inst, self.target_of(inst)) for inst in self.todo]
        ops += [self._new_secondary_op(inst) for inst in self.move_secondaries]
        return self.jobs_for(ops, "evacuate")

    def _new_secondary_op(self, inst: dict[str, Any]) -> dict[str, Any]:
        """A drbd instance whose secondary is this node gets a new one (replace-disks -n or
        -I), as Ganeti's evacuate -s does."""
        op = {"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": inst["name"],
              "mode": "replace_new_secondary", "early_release": bool(
                  self.op.get("early_release"))}
        if self.target:
            op["remote_node"] = self.target
        else:
            op["iallocator"] = placement.allocator_name(self, self.op["iallocator"])
        return op

    def _op_for(self, inst: dict[str, Any], target: str | None) -> dict[str, Any]:
        """Move a file instance, migrate a running shared or drbd one, fail over a stopped
        one (a drbd instance to its secondary: no target)."""
        name = inst["name"]
        if inst["disk_template"] == DT_DRBD8:
            verb = "OP_INSTANCE_MIGRATE" if name in self.running else "OP_INSTANCE_FAILOVER"
            op = {"OP_ID": verb, "instance_name": name}
            if verb == "OP_INSTANCE_FAILOVER":
                op["ignore_consistency"] = self.node["offline"]
            return op
        if inst["disk_template"] not in placement.SHARED_TEMPLATES:
            return {"OP_ID": "OP_INSTANCE_MOVE", "instance_name": name, "target_node": target}
        if name in self.running:
            return {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": name,
                    "target_node": target}
        return {"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": name, "target_node": target,
                "ignore_consistency": self.node["offline"]}
