"""Tag opcodes for the cluster, nodes, instances, node groups and networks (config-only: no
Ansible run)."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.core.locklevels import LEVEL_INSTANCE, LEVEL_NETWORK, LEVEL_NODE, LEVEL_NODEGROUP
from gnt.lu.base import LogicalUnit, register
from gnt.opcodes.base import MAX_TAGS_PER_OBJ

_KIND = {"node": ("nodes", LEVEL_NODE), "instance": ("instances", LEVEL_INSTANCE),
         "nodegroup": ("nodegroups", LEVEL_NODEGROUP), "network": ("networks", LEVEL_NETWORK)}


class _TagsLU(LogicalUnit):
    """Common part: find the tagged object and lock it."""

    def expand_names(self) -> None:
        kind = self.op["kind"]
        if kind == "cluster":
            self.target: dict[str, Any] = self.cfg.cluster()
            return
        if kind not in _KIND:
            raise OpPrereqError(f"Tags on '{kind}' objects are not supported", ECODE_INVAL)
        if not self.op.get("name"):
            raise OpPrereqError(f"A {kind} name is needed for its tags", ECODE_INVAL)
        self.target = self.cfg.lookup(_KIND[kind][0], self.op["name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        if self.op["kind"] == "cluster":
            return {}
        return {_KIND[self.op["kind"]][1]: [str(self.target["uuid"])]}

    def cluster_locks(self) -> tuple[list[str], bool]:
        # Cluster tags change the cluster object: take the BGL exclusively for that.
        return ["BGL"], self.op["kind"] != "cluster" or self.OP_ID == "OP_TAGS_GET"

    def _modify(self, change: Any) -> None:
        if self.op["kind"] == "cluster":
            self.cfg.modify_cluster(change)
        else:
            self.cfg.modify(_KIND[self.op["kind"]][0], self.target["uuid"], change)

    def _current(self) -> dict[str, Any]:
        if self.op["kind"] == "cluster":
            return self.cfg.cluster()
        return self.cfg.get(_KIND[self.op["kind"]][0], self.target["uuid"])


@register
class LUTagsGet(_TagsLU):
    OP_ID = "OP_TAGS_GET"

    def exec(self) -> Any:
        return sorted(self._current()["tags"])


@register
class LUTagsSet(_TagsLU):
    OP_ID = "OP_TAGS_SET"

    def check_prereq(self) -> None:
        current = set(self._current()["tags"])
        if len(current | set(self.op["tags"])) > MAX_TAGS_PER_OBJ:
            raise OpPrereqError(f"Too many tags (at most {MAX_TAGS_PER_OBJ} per object)",
                                ECODE_INVAL)

    def exec(self) -> Any:
        def add(obj: dict[str, Any]) -> None:
            obj["tags"] = sorted(set(obj["tags"]) | set(self.op["tags"]))
        self._modify(add)
        return None


@register
class LUTagsDel(_TagsLU):
    OP_ID = "OP_TAGS_DEL"

    def check_prereq(self) -> None:
        missing = sorted(set(self.op["tags"]) - set(self._current()["tags"]))
        if missing:
            raise OpPrereqError(f"Tag(s) {', '.join(repr(t) for t in missing)} not found",
                                ECODE_NOENT)

    def exec(self) -> Any:
        def remove(obj: dict[str, Any]) -> None:
            obj["tags"] = sorted(set(obj["tags"]) - set(self.op["tags"]))
        self._modify(remove)
        return None
