"""Shared part of the LUs that act on one existing instance."""

from __future__ import annotations

from typing import Any

from .. import live
from ..errors import ECODE_ENVIRON, ECODE_STATE, OpPrereqError
from ..executor import Play
from ..locking import LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES
from ..nodevars import instance_spec, node_vars
from .base import LogicalUnit


class InstanceLU(LogicalUnit):
    """Looks the instance up, locks it and its primary node, and knows if it runs."""

    # The primary node is locked shared (it must not change under us); its resources
    # (node-res, memory) exclusively only by LUs that start the instance.
    LOCK_NODE_RES = False
    SHARED_LEVELS = frozenset({LEVEL_NODE})

    def expand_names(self) -> None:
        self.instance = self.cfg.lookup("instances", self.op["instance_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        node = self.cfg.get("nodes", self.instance["primary_node"])
        locks: dict[str, list[str] | str] = {LEVEL_INSTANCE: [self.instance["name"]],
                                             LEVEL_NODE: [node["name"]]}
        if self.LOCK_NODE_RES:
            locks[LEVEL_NODE_RES] = [node["name"]]
        return locks

    def check_prereq(self) -> None:
        # Re-read under the lock: another job may have changed it meanwhile.
        self.instance = self.cfg.get("instances", self.instance["uuid"])
        self.node = self.cfg.get("nodes", self.instance["primary_node"])

    @property
    def name(self) -> str:
        return str(self.instance["name"])

    def require_node_online(self) -> None:
        if self.node["offline"]:
            raise OpPrereqError(f"Instance {self.name}'s primary node {self.node['name']} is"
                                " offline", ECODE_STATE)

    def is_running(self) -> bool:
        """Ask the primary node's hypervisor (libvirt) whether the instance runs."""
        try:
            domains = live.node_domains(self.cfg, self.node)
        except live.NodeDown as err:
            raise OpPrereqError(f"Cannot ask node {self.node['name']} about instance"
                                f" {self.name}: {err}", ECODE_ENVIRON) from err
        dom = domains.get(self.name)
        return dom is not None and dom["state"] in ("running", "paused", "blocked")

    def host_vars(self, memory: int | None = None, **extra: Any) -> dict[str, Any]:
        spec = instance_spec(self.cfg, self.instance, memory)
        return {"gnt_instance": spec, "gnt_node": node_vars(self.cfg, self.node), **extra}

    def play(self, role: str, what: str, title: str = "", **host: Any) -> None:
        """Run ``role`` on the primary node; an error names ``what``."""
        self.run_plays([Play(role, {self.node["name"]: host}, title=title or role)], what)

    def set_admin_state(self, state: str, source: str = "admin") -> None:
        self.instance = self.cfg.modify(
            "instances", self.instance["uuid"],
            lambda obj: obj.update(admin_state=state, admin_state_source=source))
