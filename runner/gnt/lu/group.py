"""Logical units of node groups (gnt-group): add, remove, rename, assign nodes, modify.

Every group change is config-only (no Ansible run). Locks: the ``nodegroup`` level by group
name (as the tag LUs lock groups), exclusive for the groups a job changes; ``assign-nodes``
also locks the moved nodes exclusively, so no instance can be placed on them meanwhile.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from gnt.config.objects import new_uuid
from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_EXISTS, ECODE_INVAL, ECODE_NOENT, ECODE_STATE, OpPrereqError
from gnt.core.locklevels import LEVEL_NODE, LEVEL_NODEGROUP, name_lock
from gnt.lu import policy_checks
from gnt.lu.base import LogicalUnit, register
from gnt.opcodes import params
from gnt.opcodes.base import check_tag
from gnt.opcodes.group import ALLOC_PREFERRED

MAX_GROUP_NAME_LEN = 128
_GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", re.ASCII)


def check_group_name(name: str) -> str:
    """A valid group name: 1-128 characters from letters, digits and ``. _ + -``, starting
    with a letter or digit. Anything else is a prerequisite error naming the value."""
    if not isinstance(name, str) or not name:
        raise OpPrereqError(f"Invalid node group name {name!r}: must not be empty", ECODE_INVAL)
    if len(name) > MAX_GROUP_NAME_LEN:
        raise OpPrereqError(f"Invalid node group name '{name}': longer than"
                            f" {MAX_GROUP_NAME_LEN} characters", ECODE_INVAL)
    if not _GROUP_NAME_RE.match(name):
        raise OpPrereqError(f"Invalid node group name '{name}': use letters, digits and"
                            " . _ + - only, starting with a letter or digit", ECODE_INVAL)
    return name


def find_group(cfg: ConfigStore, name: str) -> dict[str, Any] | None:
    """The group named ``name`` exactly (or with that UUID), or None."""
    groups = cfg.all("nodegroups")
    for group in groups:
        if group["name"] == name:
            return group
    for group in groups:
        if group["uuid"] == name:
            return group
    return None


def lookup_group(cfg: ConfigStore, name: str) -> dict[str, Any]:
    """Like :func:`find_group`, but an unknown group is an error naming it."""
    group = find_group(cfg, name)
    if group is None:
        raise OpPrereqError(f"Node group '{name}' not known", ECODE_NOENT)
    return group


def alloc_policy(group: dict[str, Any]) -> str:
    """A group's allocation policy (groups written before policies existed: preferred)."""
    return str(group.get("alloc_policy") or ALLOC_PREFERRED)


def group_nodes(cfg: ConfigStore, group_uuid: str) -> list[dict[str, Any]]:
    """The nodes of a group, sorted by name."""
    return sorted((n for n in cfg.all("nodes") if n["group"] == group_uuid),
                  key=lambda n: n["name"])


def instance_node_uuids(instance: dict[str, Any]) -> list[str]:
    """Every node an instance uses: its primary and any secondaries."""
    return [instance["primary_node"], *instance.get("secondary_nodes", [])]


def split_instances(cfg: ConfigStore, moves: dict[str, str]) -> tuple[list[str], list[str]]:
    """Instances that moving nodes (node uuid -> new group uuid) would newly split between
    groups, and those split before and after; both as sorted names."""
    group_of = {node["uuid"]: node["group"] for node in cfg.all("nodes")}
    new_split: list[str] = []
    still_split: list[str] = []
    for inst in cfg.all("instances"):
        node_uuids = instance_node_uuids(inst)
        if not any(uuid in moves for uuid in node_uuids):
            continue
        before = {group_of.get(uuid) for uuid in node_uuids}
        after = {moves.get(uuid, group_of.get(uuid)) for uuid in node_uuids}
        if len(after) > 1:
            (still_split if len(before) > 1 else new_split).append(inst["name"])
    return sorted(new_split), sorted(still_split)


def _check_ndparams(values: dict[str, Any], allow_default: bool) -> dict[str, Any]:
    return params.check_ndparams(values, allow_default=allow_default)


class _GroupLU(LogicalUnit):
    """One existing group named by ``group_name``, locked exclusively."""

    def expand_names(self) -> None:
        self.group = lookup_group(self.cfg, self.op["group_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODEGROUP: [str(self.group["uuid"])]}

    def check_prereq(self) -> None:
        # Re-read under the lock: another job may have changed (or removed) it meanwhile.
        current = self.cfg.data["nodegroups"].get(self.group["uuid"])
        if current is None:
            raise OpPrereqError(f"Node group '{self.op['group_name']}' was removed meanwhile",
                                ECODE_NOENT)
        self.group = current

    @property
    def name(self) -> str:
        return str(self.group["name"])

    def dry_run(self) -> bool:
        """With ``--dry-run`` only the checks ran: say so and change nothing."""
        if self.op["dry_run"]:
            self.log(f"Dry run: checks for node group {self.name} passed, nothing changed")
            return True
        return False


@register
class LUGroupAdd(LogicalUnit):
    """Create a new, empty group (nodes join it with assign-nodes)."""

    OP_ID = "OP_GROUP_ADD"

    def check_arguments(self) -> None:
        self.name = check_group_name(self.op["group_name"])
        self.ndparams = _check_ndparams(self.op["ndparams"] or {}, allow_default=False)
        self.ipolicy = params.check_ipolicy(self.op["ipolicy"] or {}, group=True)
        self.diskparams = params.check_diskparams(self.op["diskparams"] or {})
        for tag in self.op["tags"]:
            check_tag(tag)

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODEGROUP: [name_lock(self.name)]}

    def check_prereq(self) -> None:
        existing = find_group(self.cfg, self.name)
        if existing is not None:
            raise OpPrereqError(f"Desired group name '{self.name}' already exists as a node"
                                f" group (UUID: {existing['uuid']})", ECODE_EXISTS)
        cluster = self.cfg.cluster()
        policy = params.effective_ipolicy(cluster, {"ipolicy": self.ipolicy})
        params.check_ipolicy_templates(policy, cluster["enabled_disk_templates"])
        params.check_drbd_pacing(cluster, {"name": self.name, "diskparams": self.diskparams})

    def exec(self) -> Any:
        if self.op["dry_run"]:
            self.log(f"Dry run: node group {self.name} could be added, nothing changed")
            return None
        group = {"uuid": new_uuid(), "name": self.name, "ndparams": self.ndparams,
                 "alloc_policy": self.op["alloc_policy"] or ALLOC_PREFERRED,
                 "tags": sorted(set(self.op["tags"])), "ipolicy": self.ipolicy,
                 "diskparams": params.merge_diskparams({}, self.diskparams),
                 "networks": {}}
        with self.cfg.lock:
            self.check_prereq()  # a group added by another path since: refuse, change nothing
            self.cfg.add("nodegroups", group)
        self.log(f"Added node group {self.name} ({group['uuid']})")
        return group["uuid"]


@register
class LUGroupRemove(_GroupLU):
    """Remove a group: only if no node is in it and it is not the last group."""

    OP_ID = "OP_GROUP_REMOVE"

    def check_prereq(self) -> None:
        super().check_prereq()
        nodes = group_nodes(self.cfg, self.group["uuid"])
        if nodes:
            raise OpPrereqError(f"Group '{self.name}' not empty, has the following node(s):"
                                f" {', '.join(n['name'] for n in nodes)}", ECODE_STATE)
        if len(self.cfg.data["nodegroups"]) <= 1:
            raise OpPrereqError(f"Group '{self.name}' is the only group, cannot be removed",
                                ECODE_STATE)

    def exec(self) -> Any:
        if self.dry_run():
            return None
        with self.cfg.lock:
            self.check_prereq()  # a node may have joined by another path since
            self.cfg.remove("nodegroups", self.group["uuid"])
        self.log(f"Removed node group {self.name}")
        return None


@register
class LUGroupRename(_GroupLU):
    """Rename a group; the new name must be valid and unused."""

    OP_ID = "OP_GROUP_RENAME"

    def check_arguments(self) -> None:
        self.new_name = check_group_name(self.op["new_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODEGROUP: [str(self.group["uuid"]), name_lock(self.new_name)]}

    def check_prereq(self) -> None:
        super().check_prereq()
        # The group is locked by UUID; the name given must still be this group's (a rename
        # queued behind another rename of the same group fails instead of renaming it again).
        given = self.op["group_name"]
        found = find_group(self.cfg, given)
        if found is None or found["uuid"] != self.group["uuid"]:
            raise OpPrereqError(f"Node group '{given}' not known (it is now called"
                                f" '{self.group['name']}')", ECODE_NOENT)
        clash = find_group(self.cfg, self.new_name)
        if clash is not None:
            raise OpPrereqError(f"Desired new name '{self.new_name}' clashes with existing"
                                f" node group (UUID: {clash['uuid']})", ECODE_EXISTS)

    def exec(self) -> Any:
        if self.dry_run():
            return None
        old = self.name
        with self.cfg.lock:
            self.check_prereq()
            self.group = self.cfg.modify("nodegroups", self.group["uuid"],
                                         lambda obj: obj.update(name=self.new_name))
        self.log(f"Renamed node group {old} to {self.new_name}")
        return self.new_name


@register
class LUGroupSetParams(_GroupLU):
    """Change a group's allocation policy, node parameters and instance policy."""

    OP_ID = "OP_GROUP_SET_PARAMS"

    def check_arguments(self) -> None:
        if self.op["alloc_policy"] is None and not self.op["ndparams"] \
                and not self.op["ipolicy"] and not self.op["diskparams"]:
            raise OpPrereqError("Please pass at least one modification (alloc_policy, ndparams,"
                                " ipolicy or diskparams)", ECODE_INVAL)
        self.ndparams = _check_ndparams(self.op["ndparams"] or {}, allow_default=True)
        self.ipolicy = params.check_ipolicy(self.op["ipolicy"] or {}, allow_default=True,
                                            group=True)
        self.diskparams = params.check_diskparams(self.op["diskparams"] or {},
                                                  allow_default=True)

    def check_prereq(self) -> None:
        super().check_prereq()
        if params.DT_DRBD8 in self.diskparams:
            params.check_drbd_pacing(self.cfg.cluster(), {
                **self.group, "diskparams": params.merge_diskparams(
                    self.group.get("diskparams") or {}, self.diskparams)})
        if self.ipolicy:
            own = params.merge_overrides(self.group.get("ipolicy") or {}, self.ipolicy)
            cluster = self.cfg.cluster()
            policy = params.effective_ipolicy(cluster, {"ipolicy": own})
            params.check_ipolicy_templates(policy, cluster["enabled_disk_templates"])
            self.new_ipolicy = own
            members = {node["uuid"] for node in group_nodes(self.cfg, self.group["uuid"])}
            instances = [i for i in self.cfg.all("instances") if i["primary_node"] in members]
            policy_checks.warn_new_violations(self.log, policy_checks.new_violations(
                self.cfg, params.full_ipolicy(cluster, self.group),
                params.full_ipolicy(cluster, {"ipolicy": own}), instances))

    def exec(self) -> Any:
        if self.dry_run():
            return None
        changes: list[list[Any]] = []

        def change(group: dict[str, Any]) -> None:
            if self.ndparams:
                group["ndparams"] = params.merge_overrides(group.get("ndparams", {}),
                                                           self.ndparams)
                changes.append(["ndparams", dict(group["ndparams"])])
            if self.op["alloc_policy"] is not None:
                group["alloc_policy"] = self.op["alloc_policy"]
                changes.append(["alloc_policy", self.op["alloc_policy"]])
            if self.diskparams:
                group["diskparams"] = params.merge_diskparams(group.get("diskparams") or {},
                                                              self.diskparams)
                changes.append(["diskparams", dict(group["diskparams"])])
            if self.ipolicy:
                group["ipolicy"] = self.new_ipolicy  # no result line, as Ganeti's
        self.group = self.cfg.modify("nodegroups", self.group["uuid"], change)
        return changes


@register
class LUGroupAssignNodes(_GroupLU):
    """Move nodes into a group; refuses to split an instance's nodes between groups unless
    forced."""

    OP_ID = "OP_GROUP_ASSIGN_NODES"

    def check_arguments(self) -> None:
        if not self.op["nodes"]:
            raise OpPrereqError("No nodes given to assign to the group", ECODE_INVAL)

    def expand_names(self) -> None:
        super().expand_names()
        nodes: dict[str, dict[str, Any]] = {}
        for name in self.op["nodes"]:
            node = self.cfg.lookup("nodes", name)
            nodes[node["uuid"]] = node
        self.nodes = sorted(nodes.values(), key=lambda n: n["name"])
        # The nodes' current groups change too (they lose members): lock them as well.
        self.locked_groups = {self.group["uuid"]} | {n["group"] for n in self.nodes}

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODEGROUP: sorted(self.locked_groups),
                LEVEL_NODE: [str(n["uuid"]) for n in self.nodes]}

    def check_prereq(self) -> None:
        super().check_prereq()
        target = self.group["uuid"]
        self.nodes = [self.cfg.get("nodes", node["uuid"]) for node in self.nodes]
        for node in self.nodes:
            if node["group"] not in self.locked_groups:
                raise OpPrereqError(f"Node {node['name']} changed its group while this job"
                                    " waited for locks; please try again", ECODE_STATE)
        self.moves = {n["uuid"]: target for n in self.nodes if n["group"] != target}
        for node in self.nodes:
            if node["uuid"] not in self.moves:
                self.log(f"Node {node['name']} is already in group {self.name}")
        new_split, still_split = split_instances(self.cfg, self.moves)
        if still_split:
            self.log(f"  - WARNING: these instances are already split between node groups"
                     f" and stay so: {', '.join(still_split)}")
        if new_split:
            message = (f"moving node(s) {', '.join(self._moved_names())} to group"
                       f" {self.name} splits instance(s) {', '.join(new_split)} between node"
                       " groups")
            if not self.op["force"]:
                raise OpPrereqError(f"Refusing: {message} (use --force to do it anyway)",
                                    ECODE_INVAL)
            self.log(f"  - WARNING: {message} (forced)")

    def _moved_names(self) -> list[str]:
        return [n["name"] for n in self.nodes if n["uuid"] in self.moves]

    def exec(self) -> Any:
        if self.dry_run() or not self.moves:
            return None
        with self.cfg.lock:
            nodes = []
            for node in self.nodes:
                if node["uuid"] in self.moves:
                    moved = copy.deepcopy(self.cfg.get("nodes", node["uuid"]))
                    moved["group"] = self.moves[node["uuid"]]
                    nodes.append(moved)
            # The target and every group that loses a node change: bump their serials.
            losing = {n["group"] for n in self.nodes if n["uuid"] in self.moves}
            changed = {self.group["uuid"]} | losing
            groups = [copy.deepcopy(self.cfg.get("nodegroups", uuid)) for uuid in sorted(changed)]
            self.cfg.replace_many({"nodes": nodes, "nodegroups": groups})
        self.log(f"Assigned node(s) {', '.join(self._moved_names())} to group {self.name}")
        return None
