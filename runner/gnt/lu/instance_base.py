"""Shared part of the LUs that act on one existing instance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gnt.core.errors import ECODE_ENVIRON, ECODE_NOENT, ECODE_NOTUNIQUE, ECODE_STATE, OpPrereqError
from gnt.core.locklevels import LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES
from gnt.lu.base import LogicalUnit
from gnt.nodes import live
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import instance_spec, node_vars


class InstanceLU(LogicalUnit):
    """Looks the instance up, locks it and its primary node (by UUID), and knows if it runs.

    As in Ganeti, the name given in the opcode is expanded to the instance's UUID before
    locking; with the locks held the LU works on the object found by that UUID, so a job
    queued behind a rename acts on the renamed instance.
    """

    # The primary node is locked shared (it must not change under us); its resources
    # (node-res, memory) exclusively only by LUs that start the instance.
    LOCK_NODE_RES = False
    SHARED_LEVELS = frozenset({LEVEL_NODE})
    # True for LUs that act on the name itself (rename): under the locks, the name given must
    # still belong to the locked instance (Ganeti's ExpandInstanceUuidAndName check).
    RECHECK_NAME = False

    def expand_names(self) -> None:
        self.instance = self.cfg.lookup("instances", self.op["instance_name"])
        self.instance_uuid = str(self.instance["uuid"])

    def locked_nodes(self) -> list[str]:
        """UUIDs of the nodes whose locks this LU declares: the primary node, and the
        secondary of a drbd instance (its disks live there too)."""
        return [str(self.instance["primary_node"])] + [
            str(uuid) for uuid in self.cfg.instance_secondaries(self.instance)]

    def declare_locks(self) -> dict[str, list[str] | str]:
        nodes = self.locked_nodes()
        locks: dict[str, list[str] | str] = {LEVEL_INSTANCE: [self.instance_uuid],
                                             LEVEL_NODE: nodes}
        if self.LOCK_NODE_RES:
            locks[LEVEL_NODE_RES] = list(nodes)
        return locks

    def check_prereq(self) -> None:
        # Re-read under the lock: another job may have changed, renamed or removed it.
        given = self.op["instance_name"]
        current = self.cfg.data["instances"].get(self.instance_uuid)
        if current is None:
            raise OpPrereqError(f"Instance '{given}' not known (it was removed while this job"
                                " waited for its locks)", ECODE_NOENT)
        if self.RECHECK_NAME:
            found = self.cfg.find("instances", given)
            if found is None:
                raise OpPrereqError(f"Instance '{given}' not known (it is now called"
                                    f" '{current['name']}')", ECODE_NOENT)
            if found["uuid"] != self.instance_uuid:
                raise OpPrereqError(f"Instance '{given}' is now a different instance (UUID"
                                    f" {found['uuid']}, was {self.instance_uuid}): it changed"
                                    " since this job was submitted", ECODE_NOTUNIQUE)
        moved = current["primary_node"] != self.instance["primary_node"]
        self.instance = current
        if moved and self.lock_owner is not None \
                and current["primary_node"] not in self.locked_nodes_now():
            self.follow_primary()
        self.node = self.cfg.get("nodes", self.instance["primary_node"])

    def follow_primary(self) -> None:
        """The instance moved to another node while this job waited for it (a migration ran
        first): give back the node locks taken for the old primary and take them for the new
        one. The instance lock is held, so it cannot move again meanwhile; node locks come
        after the instance level, so this keeps the lock order."""
        wanted = self.declare_locks()
        owner, locks = self.lock_owner, self.ctx.locks
        for level in (LEVEL_NODE_RES, LEVEL_NODE):
            locks.keep_only(owner, level, [])
        for level in (LEVEL_NODE, LEVEL_NODE_RES):
            if level in wanted:
                locks.acquire(owner, level, wanted[level], level in self.SHARED_LEVELS)
        self.log(f"Instance {self.instance['name']} is now on another node: its locks follow")

    def locked_nodes_now(self) -> set[str]:
        """UUIDs of the nodes this job holds locks on (every node when it holds them all)."""
        held = self.ctx.locks.held(self.lock_owner).get(LEVEL_NODE, {})
        if "all" in held:
            return {str(node["uuid"]) for node in self.cfg.all("nodes")}
        return set(held)

    @property
    def name(self) -> str:
        return str(self.instance["name"])

    def require_node_online(self) -> None:
        if self.node["offline"]:
            raise OpPrereqError(f"Instance {self.name}'s primary node {self.node['name']} is"
                                " offline", ECODE_STATE)

    def is_running(self, domains: dict[str, dict[str, Any]] | None = None) -> bool:
        """Whether the instance runs: in ``domains`` (the primary node's, as
        :meth:`node_state` gave them), else asked of the node's hypervisor (libvirt)."""
        if domains is None:
            try:
                domains = live.node_domains(self.cfg, self.node)
            except live.NodeDown as err:
                raise self._unreachable(err) from err
        dom = domains.get(self.name)
        return dom is not None and dom["state"] in ("running", "paused", "blocked")

    def node_state(self) -> dict[str, Any]:
        """The primary node's live figures with its domains, in one node call (see
        :func:`gnt.nodes.live.node_state`): what a start checks."""
        try:
            return live.node_state(self.cfg, self.node)
        except live.NodeDown as err:
            raise self._unreachable(err) from err

    def _unreachable(self, err: Exception) -> OpPrereqError:
        return OpPrereqError(f"Cannot ask node {self.node['name']} about instance"
                             f" {self.name}: {err}", ECODE_ENVIRON)

    def host_vars(self, memory: int | None = None, **extra: Any) -> dict[str, Any]:
        spec = instance_spec(self.cfg, self.instance, memory)
        return {"gnt_instance": spec, "gnt_node": node_vars(self.cfg, self.node), **extra}

    def play(self, role: str, what: str, title: str = "", before: tuple[Play, ...] = (),
             after: tuple[Play, ...] = (), **host: Any) -> None:
        """Run ``role`` on the primary node (after the plays ``before``, followed by those
        ``after``, all in one Ansible run); an error names ``what``."""
        self.run_plays([*before, Play(role, {self.node["name"]: host}, title=title or role),
                        *after], what)

    def set_admin_state(self, state: str | None, source: str = "admin",
                        disks_active: bool | None = None) -> None:
        """Write the admin state (None: left alone) and Ganeti's ``disks_active`` flag
        (None: left alone) in one config write (none when there is nothing to change)."""
        if self._state_unchanged(state, disks_active):
            return
        self.instance = self._admin_state_written(state, source, disks_active)

    def _state_unchanged(self, state: str | None, disks_active: bool | None) -> bool:
        """Nothing to write: no admin state given and the flag as recorded (or not given)."""
        return state is None and (disks_active is None
                                  or self.instance.get("disks_active") is disks_active)

    def _admin_state_written(self, state: str | None, source: str = "admin",
                             disks_active: bool | None = None) -> dict[str, Any]:
        """The instance as written with its admin state (and its source) and its
        ``disks_active`` flag changed (None: that one left alone)."""
        def change(obj: dict[str, Any]) -> None:
            if state is not None:
                obj.update(admin_state=state, admin_state_source=source)
            if disks_active is not None:
                obj["disks_active"] = disks_active
        return self.cfg.modify("instances", self.instance_uuid, change)

    def play_recording_state(self, state: str | None, role: str, what: str,
                             before: tuple[Play, ...] = (), after: tuple[Play, ...] = (),
                             disks_active: bool | None = None, **host: Any) -> None:
        """:meth:`play`, with the instance's admin state set to ``state`` and its
        ``disks_active`` flag to ``disks_active`` (None: left alone) while the play runs:
        see :meth:`run_plays_recording_state`."""
        self.run_plays_recording_state(
            [*before, Play(role, {self.node["name"]: host}, title=role), *after], what,
            state, disks_active)

    def run_plays_recording_state(self, plays: list[Play], what: str, state: str | None,
                                  disks_active: bool | None = None) -> Any:
        """:meth:`run_plays`, with the instance's admin state set to ``state`` and Ganeti's
        ``disks_active`` flag to ``disks_active`` (None: left alone) while the plays run: the
        config write and its replication to the master candidates go on beside the Ansible
        run instead of after it. As Ganeti, which marks the instance up (down), or its disks
        active (inactive), before starting (stopping) it; unlike Ganeti, a failed run puts the
        previous values back, so a failed operation leaves the config as it was."""
        if self._state_unchanged(state, disks_active):
            return self.run_plays(plays, what)
        inst = self.instance
        previous_state = None if state is None else inst["admin_state"]
        previous_source = inst.get("admin_state_source", "admin")
        previous_active = None if disks_active is None else inst.get("disks_active")
        # the nodes are read before the write starts: it holds the config's lock until its
        # replication to the master candidates is done, and the run must not wait for that
        nodes = self.play_nodes(plays, what)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="config-write") as pool:
            written = pool.submit(self._admin_state_written, state, "admin", disks_active)
            try:
                result = self.run_plays_on(plays, nodes, what)
            except BaseException:
                if written.exception() is None:
                    self._put_back(previous_state, previous_source, previous_active,
                                   disks_active is not None)
                raise
        self.instance = written.result()
        return result

    def _put_back(self, state: str | None, source: str, disks_active: bool | None,
                  flag_written: bool) -> None:
        """After a failed run: the admin state and flag as they were (a flag missing before
        is removed again, so it reads as the admin state once more)."""
        def change(obj: dict[str, Any]) -> None:
            if state is not None:
                obj.update(admin_state=state, admin_state_source=source)
            if flag_written:
                if disks_active is None:
                    obj.pop("disks_active", None)
                else:
                    obj["disks_active"] = disks_active
        self.instance = self.cfg.modify("instances", self.instance_uuid, change)
