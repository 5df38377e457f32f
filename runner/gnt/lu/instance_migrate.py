"""Moving instances between nodes: live migration and failover (the move, which copies the
disks, is :mod:`gnt.lu.instance_move`, on the shared base :class:`MoveLU`).

The config follows the nodes: after a migration attempt the LU asks both nodes where the
domain is and records that as the primary, whatever the play reported; a failover records the
new primary as soon as the old one is shut down (or known dead); a move switches the primary
only once the disks are on the new node, and leaves the old copy alone until then.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from gnt.config import objects
from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_NORES,
    ECODE_STATE,
    GntError,
    OpExecError,
    OpPrereqError,
)
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES
from gnt.lu import instance_drbd, instance_ext, placement, policy_checks
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import live, rpc
from gnt.nodes.executor import Play, RunResult
from gnt.nodes.nodevars import (
    instance_spec,
    node_access,
    node_ndparams,
    node_vars,
)
from gnt.opcodes import params

RUNNING = ("running", "paused", "blocked")


# One node step of a multi-step operation: (node, role, the role's vars).
Step = tuple[dict[str, Any], str, dict[str, Any]]


class _NotOnTarget(Exception):
    """Raised at a drbd migration's checkpoint when the instance does not run on the target:
    the run stops before the disks are settled for the target."""


def step_plays(steps: list[Step]) -> list[Play]:
    """One play per step ``(node, role, vars)``."""
    return [Play(role, {node["name"]: host}, title=role) for node, role, host in steps]


def migration_uri(cfg: Any, node: dict[str, Any]) -> str:
    """The URI the source's libvirtd uses to reach ``node`` (ndparam ``migration_uri``)."""
    template = str(node_ndparams(cfg, node)["migration_uri"])
    return template.format(address=node["secondary_ip"], name=node["name"])


def migration_is_live(op: dict[str, Any]) -> bool:
    """``mode`` (live / non-live) wins; else Ganeti's older ``live`` flag; default live."""
    if op.get("mode"):
        return bool(op["mode"] == "live")
    return op.get("live") is not False


class MoveLU(InstanceLU):
    """Shared steps: lock the instance and the nodes involved, find the target, ask nodes.

    Only the primary and the target node are locked (node shared, node-res exclusive), so
    moves between disjoint pairs of nodes run at the same time. When the allocator must choose
    the target (or ``--cleanup`` looks at every node), all nodes are locked, and once the
    target is chosen the others are given back.
    """

    SHARED_LEVELS = frozenset({LEVEL_NODE})
    last_run: RunResult     # the last run_steps() result (its hosts' facts)

    def expand_names(self) -> None:
        super().expand_names()
        target = self.op.get("target_node")
        self.target_uuid = str(self.cfg.lookup("nodes", target)["uuid"]) if target else None

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks: dict[str, list[str] | str] = {LEVEL_INSTANCE: [self.instance_uuid]}
        if instance_drbd.is_drbd(self.instance) and not self.op.get("cleanup"):
            # the target is the secondary: lock both nodes of the instance only
            nodes = sorted(self.locked_nodes())
            locks[LEVEL_NODE], locks[LEVEL_NODE_RES] = nodes, list(nodes)
        elif self.op.get("cleanup") or self.target_uuid is None:
            locks[LEVEL_NODE] = locks[LEVEL_NODE_RES] = ALL
        else:
            nodes = sorted({str(self.instance["primary_node"]), self.target_uuid})
            locks[LEVEL_NODE], locks[LEVEL_NODE_RES] = nodes, list(nodes)
        return locks

    def check_target_ipolicy(self, target: dict[str, Any]) -> None:
        """A target in another node group: the instance must meet that group's policy
        (``ignore_ipolicy``: a warning), as Ganeti's CheckTargetNodeIPolicy."""
        policy_checks.check_target_node(self, self.instance, str(target["uuid"]),
                                        bool(self.op.get("ignore_ipolicy")))

    def choose_target(self) -> dict[str, Any]:
        """The target node (``-n`` or the allocator's choice; a drbd instance's secondary);
        then only the primary and the target stay locked."""
        if instance_drbd.is_drbd(self.instance):
            action = "failed over" if getattr(self, "failover", True) else "migrated"
            target = instance_drbd.require_secondary_target(
                self, self.instance, self.op.get("target_node"), self.op.get("iallocator"),
                action)
            placement.check_target(self, self.instance, target)
            self.check_target_ipolicy(target)
            return target
        target = placement.target_for(self, self.instance, self.op["target_node"],
                                      self.op.get("iallocator"))
        self.check_target_ipolicy(target)
        if self.target_uuid is not None and target["uuid"] != self.target_uuid:
            raise OpPrereqError(f"Node {self.op['target_node']} changed while this job waited"
                                " for its locks; submit it again", ECODE_STATE)
        keep = sorted({str(self.instance["primary_node"]), str(target["uuid"])})
        self.release_locks(LEVEL_NODE, keep=keep)
        self.release_locks(LEVEL_NODE_RES, keep=keep)
        return target

    def domain_on(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """The instance's domain on ``node`` (None if absent); errors if the node is down."""
        try:
            return live.node_domains(self.cfg, node).get(self.name)
        except live.NodeDown as err:
            raise OpPrereqError(f"Cannot ask node {node['name']} about instance {self.name}:"
                                f" {err}", ECODE_ENVIRON) from err

    def vars_on(self, node: dict[str, Any], memory: int | None = None,
                **extra: Any) -> dict[str, Any]:
        return {"gnt_instance": instance_spec(self.cfg, self.instance, memory),
                "gnt_node": node_vars(self.cfg, node), **extra}

    def run_on(self, node: dict[str, Any], role: str, what: str, **host: Any) -> Any:
        return self.run_plays([Play(role, {node["name"]: host}, title=role)], what)

    def run_steps(self, steps: list[Step], what: str) -> tuple[int, OpExecError] | None:
        """Run the steps ``(node, role, vars)`` as the plays of one Ansible run (a failed
        step ends the run); None when all ran, else the index of the failed step and the
        error naming ``what`` and the failure."""
        return self.run_play_list(step_plays(steps), what)

    def run_play_list(self, plays: list[Play], what: str | list[str]
                      ) -> tuple[int, OpExecError] | None:
        """:meth:`run_steps` for plays (possibly with a coordinator step between two of them:
        :attr:`Play.then`, whose exception stops the run and is raised); ``what`` may be
        said per play."""
        nodes = {name: node_access(self.cfg, self.cfg.lookup("nodes", name))
                 for play in plays for name in play.hosts}
        result = self.ctx.executor.run(plays, nodes, self.feedback)
        self.last_run = result
        failed = result.first_failed_play()
        if failed is None:
            return None
        said = what if isinstance(what, str) else what[min(failed, len(what) - 1)]
        return failed, OpExecError(f"Could not {said}:\n{result.failure_summary()}")

    def set_primary(self, node: dict[str, Any], disks_active: bool | None = None) -> None:
        """Record ``node`` as the primary of the instance and of its disks (and Ganeti's
        ``disks_active`` flag, unless None), in one write."""
        inst = copy.deepcopy(self.cfg.get("instances", self.instance["uuid"]))
        inst["primary_node"] = node["uuid"]
        if disks_active is not None:
            inst["disks_active"] = disks_active
        disks = []
        for disk in self.cfg.instance_disks(inst):
            disk = copy.deepcopy(disk)
            if "nodes" in disk:
                # a drbd disk keeps its other node (the old primary becomes the secondary)
                disk["nodes"] = [node["uuid"]] + (
                    [n for n in disk["nodes"] if n != node["uuid"]]
                    if disk.get("dev_type") == params.DT_DRBD8 else [])
            disks.append(disk)
        self.cfg.replace_many({"instances": [inst], "disks": disks})
        self.instance = self.cfg.get("instances", inst["uuid"])
        self.log(f"Instance {self.name}: primary node is now {node['name']}")

    def free_memory(self, node: dict[str, Any]) -> int:
        try:
            info = rpc.live_info_or_error(self.cfg, node)
        except rpc.NodeDown as err:
            raise OpPrereqError(f"Cannot get the free memory of node {node['name']}: it did"
                                f" not answer ({err})", ECODE_ENVIRON) from err
        if info.get("mfree") is None:
            raise OpPrereqError(f"Cannot get the free memory of node {node['name']}",
                                ECODE_ENVIRON)
        return int(info["mfree"])


@register
class LUInstanceMigrate(MoveLU):
    """Live (or paused) migration of a running shared-storage instance; ``cleanup`` fixes the
    config after an interrupted migration."""

    OP_ID = "OP_INSTANCE_MIGRATE"

    def check_prereq(self) -> None:
        super().check_prereq()
        op = self.op
        if not instance_drbd.is_drbd(self.instance):
            placement.require_shared(self.instance, "be migrated")
        if op["cleanup"]:
            return
        self.require_node_online()
        be = params.filled_beparams(self.cfg.cluster(), self.instance)
        if be["always_failover"]:
            # As Ganeti: the backend parameter turns every migration into a failover.
            self.log(f"Instance {self.name} is configured to always fail over (backend"
                     " parameter always_failover): failing over instead of migrating")
            self._prepare_failover(be)
            return
        dom = self.domain_on(self.node)
        if dom is None or dom["state"] not in RUNNING:
            if op["allow_failover"]:
                self.log(f"Instance {self.name} is not running: failing over instead")
                self._prepare_failover(be)
                return
            raise OpPrereqError(f"Instance {self.name} is not running on {self.node['name']}:"
                                " nothing to migrate (use gnt-instance failover, or"
                                " --allow-failover)", ECODE_STATE)
        self.failover = False
        self.target = self.choose_target()
        if instance_drbd.is_drbd(self.instance):
            instance_drbd.check_consistent(self, self.instance, self.target, "migration")
        current = int(dom["memory_mib"])
        free = self.free_memory(self.target)
        self.new_memory = None
        if free < current:
            if op["allow_runtime_changes"] and free >= int(be["minmem"]):
                self.new_memory = free
            else:
                raise OpPrereqError(
                    f"Not enough memory on node {self.target['name']} for instance"
                    f" {self.name}: needs {current} MiB (minmem {be['minmem']} MiB), free"
                    f" {free} MiB", ECODE_NORES)

    def _prepare_failover(self, be: dict[str, Any]) -> None:
        """Fail over instead of migrating: the target, and (if the instance is to run) room
        for its minimum memory there, as gnt-instance failover checks."""
        self.failover = True
        self.target = self.choose_target()
        if self.instance["admin_state"] == "up":
            check_failover_memory(self, self.target, be)

    def exec(self) -> Any:
        if self.op["cleanup"]:
            return self._cleanup()
        if self.failover:
            self.log(f"Failing over instance {self.name} from {self.node['name']} to"
                     f" {self.target['name']}")
            return failover_to(self, self.target, ignore_consistency=False,
                               timeout=self.op["shutdown_timeout"])
        source, target = self.node, self.target
        if self.new_memory is not None:
            self.log(f"Node {target['name']} has {self.new_memory} MiB free: reducing the"
                     f" memory of {self.name} to it before migrating")
            self.run_on(source, "instance_runtime_memory", f"balloon {self.name} down",
                        **self.vars_on(source, gnt_memory_mib=self.new_memory))
        migration = {"target_uri": migration_uri(self.cfg, target),
                     "live": migration_is_live(self.op),
                     "unsafe": self.instance["disk_template"] in (params.DT_SHARED_FILE,
                                                                  params.DT_DRBD8,
                                                                  params.DT_EXT)}
        drbd = instance_drbd.is_drbd(self.instance)
        self.log(f"Migrating instance {self.name} from {source['name']} to {target['name']}"
                 f" ({'live' if migration['live'] else 'non-live'})")
        migrate = Play("instance_migrate",
                       {source["name"]: self.vars_on(source, gnt_migration=migration)},
                       title="instance_migrate")
        plays = [*instance_drbd.dual_primary_plays(self, self.instance, source, target), migrate]
        located: list[tuple[dict[str, Any] | None, list[str]]] = []
        if drbd:
            # one run: where the instance runs is found at a checkpoint after the migration,
            # and the disks go back to one primary (the target) in the same run; anywhere
            # else, the run stops there and they are settled in a run of their own
            def locate() -> None:
                located.append(self._locate(source, target))
                where = located[0][0]
                if where is None or where["uuid"] != target["uuid"]:
                    raise _NotOnTarget()

            migrate.then = locate
            plays += instance_drbd.single_primary_plays(self, self.instance, target, source)
        error: GntError | None = None
        result = None
        try:
            result = self.run_plays(plays, f"migrate instance {self.name}")
        except _NotOnTarget:
            pass
        except GntError as err:
            error = err
        location, silent = located[0] if located else self._locate(source, target)
        if drbd and location is not None and location["uuid"] == target["uuid"] and located:
            if error is not None:       # the migration is done: settling the disks failed
                error = self._settle_failed(location, error)
        elif drbd and location is not None:
            error = self._settle_disks(location, source, target, error)
        if location is not None and location["uuid"] != source["uuid"]:
            self.set_primary(location)
        if error is not None or location is None or location["uuid"] == source["uuid"]:
            raise OpExecError(self._outcome(error, location, silent))
        self._detach_source(source)
        facts = result.hosts[source["name"]].facts.get("gnt_migration_result", {}) \
            if result else {}
        if facts.get("duration_s") is not None:
            self.log(f"Migration done in {facts['duration_s']} s (downtime"
                     f" {facts.get('downtime_ms', '?')} ms)")
        return {"node": target["name"], **{k: facts.get(k) for k in ("duration_s",
                                                                     "downtime_ms")}}

    def _detach_source(self, source: dict[str, Any]) -> None:
        """After an ext instance moved: its volumes detached on the old node (a failure is
        only warned about: the instance runs on the target)."""
        if not instance_ext.is_ext(self.instance):
            return
        try:
            self.run_plays(instance_drbd.shutdown_plays(self, {**self.instance,
                                                               "primary_node": source["uuid"]}),
                           f"detach the volumes of {self.name} on {source['name']}")
        except GntError as err:
            self.log(f"  - WARNING: {err} -- run the provider's detach on {source['name']}")

    def _settle_disks(self, location: dict[str, Any], source: dict[str, Any],
                      target: dict[str, Any], error: GntError | None) -> GntError | None:
        """After a drbd migration attempt that did not end on the target (or whose end was
        not found in its run): the node running the instance keeps its ends primary, the
        other is demoted, and two primaries are no longer allowed."""
        other = target if location["uuid"] == source["uuid"] else source
        try:
            self.run_plays(instance_drbd.single_primary_plays(self, self.instance, location,
                                                              other),
                           f"return the disks of {self.name} to one primary")
        except GntError as err:
            return self._settle_failed(location, err, error)
        return error

    def _settle_failed(self, location: dict[str, Any], err: GntError,
                       error: GntError | None = None) -> GntError:
        """The error to report when the disks could not be returned to one primary."""
        self.log(f"  - WARNING: {err}")
        return error or OpExecError(
            f"{err} -- the instance runs on {location['name']}; its disks may still allow"
            f" two primaries: run gnt-instance migrate --cleanup {self.name}")

    def _outcome(self, error: GntError | None, location: dict[str, Any] | None,
                 silent: list[str]) -> str:
        """The job error after a migration that did not end on the target."""
        first = str(error) if error else f"Migration of {self.name} did not complete"
        source, target = self.node["name"], self.target["name"]
        if location is not None and location["name"] == source:
            return f"{first} -- the instance is still on {source}; the config is unchanged"
        if location is not None:
            return f"{first} -- the instance is now on {target} and the config says so"
        unknown = f" ({', '.join(silent)} did not answer)" if silent else ""
        return (f"{first} -- the instance was found running neither on {source} nor on"
                f" {target}{unknown}; the config still names {source}. Once the nodes answer,"
                f" run: gnt-instance migrate --cleanup {self.name}")

    def _state_on(self, node: dict[str, Any]) -> tuple[str | None, bool]:
        """(domain state or None if absent, whether the node answered)."""
        try:
            dom = live.node_domains(self.cfg, node).get(self.name)
        except live.NodeDown:
            return None, False
        return (dom["state"] if dom else None), True

    def _locate(self, source: dict[str, Any], target: dict[str, Any],
                settle: float = 30.0) -> tuple[dict[str, Any] | None, list[str]]:
        """Where the instance is after a migration attempt, and the nodes that did not answer.

        The source wins while it still has the domain active (a failed or unfinished
        migration). The target counts only once its domain runs: a paused domain there is an
        incoming migration that libvirt may still tear down, so wait for it to settle.
        """
        deadline = time.monotonic() + settle
        while True:
            silent = []
            state, answered = self._state_on(source)
            if not answered:
                silent.append(source["name"])
            elif state in RUNNING:
                return source, silent
            state, answered = self._state_on(target)
            if not answered:
                silent.append(target["name"])
            elif state == "running":
                return target, silent
            elif state in ("paused", "blocked") and time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            return None, silent

    def _cleanup(self) -> Any:
        """Find where the instance really runs (all online nodes) and record it."""
        nodes = [n for n in self.cfg.all("nodes") if not n["offline"]]
        domains = live.domains_by_node(self.cfg, {n["uuid"] for n in nodes})
        running = [n for n in nodes if (domains.get(n["uuid"]) or {}).get(self.name, {})
                   .get("state") in RUNNING]
        if len(running) > 1:
            raise OpExecError(f"Instance {self.name} runs on several nodes"
                              f" ({', '.join(n['name'] for n in running)}): stop the wrong one"
                              " by hand (virsh destroy), then run --cleanup again")
        if not running:
            self.log(f"Instance {self.name} runs nowhere; config unchanged (primary"
                     f" {self.node['name']})")
            return {"node": self.node["name"]}
        where = running[0]
        if where["uuid"] != self.node["uuid"]:
            self.set_primary(where)
        else:
            self.log(f"Instance {self.name} runs on its primary {where['name']}: config right")
        for node in nodes:
            if node["uuid"] != where["uuid"] and self.name in (domains.get(node["uuid"]) or {}):
                self.run_on(node, "instance_undefine", f"undefine stale domain on {node['name']}",
                            **self.vars_on(node))
                self.log(f"Removed the stale definition of {self.name} from {node['name']}")
        return {"node": where["name"]}


def check_failover_memory(lu: MoveLU, target: dict[str, Any], be: dict[str, Any]) -> None:
    """Refuse a failover whose target lacks the instance's minimum memory."""
    free = lu.free_memory(target)
    if free < int(be["minmem"]):
        raise OpPrereqError(f"Not enough memory on node {target['name']} to start {lu.name}:"
                            f" needs {be['minmem']} MiB, free {free} MiB", ECODE_NORES)


def failover_to(lu: MoveLU, target: dict[str, Any], ignore_consistency: bool,
                timeout: int) -> Any:
    """Stop on the primary (unless it is offline or, with ``ignore_consistency``, down),
    record the new primary, then start (or define) it there: one Ansible run, the new
    primary recorded at a checkpoint between the stop and the start (:attr:`Play.then`).

    As Ganeti: a primary that does not answer stops the failover unless
    ``ignore_consistency`` (then it is warned about and left alone: the operator vouches that
    it is down); one marked offline is not contacted. An instance that is not to run ends with
    its disks down on the target as well (Ganeti shuts them down on every node)."""
    source, inst = lu.node, lu.instance
    source_alive = not source["offline"]
    if source_alive:
        try:
            live.node_domains(lu.cfg, source)
        except live.NodeDown as err:
            if not ignore_consistency:
                raise OpPrereqError(f"Could not shut down instance {lu.name} on node"
                                    f" {source['name']}: the node does not answer ({err}); it"
                                    " may still run the instance. If it is down, use"
                                    " --ignore-consistency (or mark it offline first:"
                                    " gnt-node modify -O yes)", ECODE_ENVIRON) from err
            _warn_dead_primary(lu, source, str(err))
            source_alive = False
    else:
        lu.log(f"Primary node {source['name']} is offline: not contacted")
    drbd = instance_drbd.is_drbd(inst)
    if drbd and objects.disks_active(inst):   # Ganeti checks when the disks are active
        _check_target_disks(lu, target, source_alive, ignore_consistency)

    def record_target() -> None:
        # as Ganeti: the disks are shut down, then assembled on the target (marked active)
        # only for an instance marked up
        lu.set_primary(target, disks_active=inst["admin_state"] == "up")
        lu.node = target

    if source_alive:
        stop = step_plays(_stop_steps(lu, source, timeout))
        stop[-1].then = record_target
        start, what = _target_plays(lu, target, (), ignore_consistency)
        failure = lu.run_play_list([*stop, *start], what)
        if failure is None:
            return {"node": target["name"]}
        if failure[0] >= len(stop):
            _raise_target_failure(lu, target, failure[1])
        _stop_failed(lu, source, ignore_consistency, failure[1])
    # the old primary is left alone (offline, or dead with --ignore-consistency)
    record_target()
    start, what = _target_plays(lu, target, (str(source["uuid"]),), ignore_consistency)
    failure = lu.run_play_list(start, what)
    if failure is not None:
        _raise_target_failure(lu, target, failure[1])
    return {"node": target["name"]}


def _target_plays(lu: MoveLU, target: dict[str, Any], skip: tuple[str, ...],
                  force: bool) -> tuple[list[Play], str]:
    """The plays that start (or, for an instance marked down, define) the instance on
    ``target`` as its new primary, computed before the config says so, and what they do.
    ``skip``: nodes whose drbd ends are not touched; ``force``: assemble them even if not
    consistent (--ignore-consistency)."""
    future = {**lu.instance, "primary_node": target["uuid"]}
    target_vars = {"gnt_instance": instance_spec(lu.cfg, future),
                   "gnt_node": node_vars(lu.cfg, target)}
    if future["admin_state"] == "up":
        return ([*instance_drbd.assemble_plays(lu, future, skip=skip, force=force),
                 Play("instance_start", {target["name"]: target_vars}, title="instance_start")],
                f"start instance {lu.name} on {target['name']}")
    # the target's ends too (as Ganeti, which shuts the disks down everywhere): the
    # instance is down, so are its disks; the old primary's went down with the stop
    down = ([instance_drbd.play(lu.cfg, future, [(target, "down")], "shut down disks")]
            if instance_drbd.is_drbd(future) else [])
    return ([*down, Play("instance_define", {target["name"]: target_vars},
                         title="instance_define")],
            f"define instance {lu.name} on {target['name']}")


def _raise_target_failure(lu: MoveLU, target: dict[str, Any], error: OpExecError) -> None:
    """The start (define) on the new primary failed: say so, and how to go on."""
    if lu.instance["admin_state"] == "up":
        raise OpExecError(f"{error} -- the instance's primary is now {target['name']}; start"
                          f" it with gnt-instance startup {lu.name}") from error
    raise error


def _warn_dead_primary(lu: MoveLU, source: dict[str, Any], why: str) -> None:
    lu.log(f"  - WARNING: Could not shut down instance {lu.name} on node {source['name']}"
           f" ({why}); going on (--ignore-consistency): make sure node {source['name']} is"
           " really down, then bring it back with gnt-node add --readd")


def _stop_steps(lu: MoveLU, source: dict[str, Any], timeout: int) -> list[Step]:
    """Stop and undefine (one task) and (drbd) tear the disks down on the old primary (ext:
    detach its volumes), before the primary changes: a second copy can never be started."""
    inst = lu.instance
    steps: list[Step] = [(source, "instance_stop",
                          lu.vars_on(source, gnt_shutdown_timeout=timeout, gnt_undefine=True))]
    if instance_drbd.is_drbd(inst):   # its ends are demoted (torn down) before the other
        steps.append((source, instance_drbd.ROLE,   # node takes over
                      instance_drbd.end_vars(lu.cfg, inst, source, "down")))
    if instance_ext.is_ext(inst):   # ext: the volumes detached before the target attaches
        detach = instance_ext.attach_play(lu.cfg, inst, source, False)
        steps.append((source, detach.role, detach.hosts[source["name"]]))
    return steps


def _stop_failed(lu: MoveLU, source: dict[str, Any], ignore_consistency: bool,
                 error: OpExecError) -> None:
    """The stop on the old primary failed: raise ``error``, unless the node died during it
    (a crash mid-failover) and ``ignore_consistency`` lets the failover go on without it. A
    node that answers and failed to stop the instance may still run it: always raised."""
    if ignore_consistency:
        try:
            live.node_domains(lu.cfg, source)
        except live.NodeDown as err:
            _warn_dead_primary(lu, source, str(err))
            return
    raise error


def _check_target_disks(lu: MoveLU, target: dict[str, Any], source_alive: bool,
                        ignore_consistency: bool) -> None:
    """Before failing a running drbd instance over: its disks on the target are up to date
    (Ganeti's check; ignored, with a warning, for a dead primary or --ignore-consistency)."""
    try:
        instance_drbd.check_consistent(lu, lu.instance, target, "failover")
    except (OpExecError, OpPrereqError) as err:
        if source_alive and not ignore_consistency:
            raise
        lu.log(f"  - WARNING: {err} (ignored: "
               + ("--ignore-consistency)" if ignore_consistency else "the primary is down)"))


@register
class LUInstanceFailover(MoveLU):
    """Restart a shared-storage instance on another node (also when its node died)."""

    OP_ID = "OP_INSTANCE_FAILOVER"

    def check_prereq(self) -> None:
        super().check_prereq()
        if not instance_drbd.is_drbd(self.instance):
            placement.require_shared(self.instance, "be failed over")
        self.target = self.choose_target()
        if self.instance["admin_state"] == "up":
            check_failover_memory(self, self.target,
                                  params.filled_beparams(self.cfg.cluster(), self.instance))

    def exec(self) -> Any:
        self.log(f"Failing over instance {self.name} from {self.node['name']} to"
                 f" {self.target['name']}")
        return failover_to(self, self.target, self.op["ignore_consistency"],
                           self.op["shutdown_timeout"])
