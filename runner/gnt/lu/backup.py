"""Logical units of instance exports: list them on the nodes, remove one everywhere.

An export is ``GNT_ROOT/srv/gnt/export/INSTANCE/`` on a node (config.ini plus one dump per
disk); one being written is a hidden directory beside it until it is complete.
"""

from __future__ import annotations

from typing import Any

from gnt.core import resolver, settings
from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpExecError, OpPrereqError
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import node_access
from gnt.query import export as export_query


def export_path(name: str) -> str:
    """Where the export of instance ``name`` lives on a node."""
    return str(settings.paths().export_dir / name)


def export_holders(cfg: Any, nodes: list[dict[str, Any]], name: str
                   ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Which of ``nodes`` hold the export ``name`` (asked at once), and node name -> why for
    the nodes that did not answer."""
    answers = rpc.exports_many(cfg, nodes)
    holders, silent = [], {}
    for node in nodes:
        answer = answers.get(node["uuid"])
        if not isinstance(answer, dict):
            silent[node["name"]] = str(answer)
        elif name in answer:
            holders.append(node)
    return holders, silent


def remove_export_from(lu: LogicalUnit, nodes: list[dict[str, Any]], paths: list[str]
                       ) -> dict[str, str | None]:
    """Delete the export directories ``paths`` on each of ``nodes`` (role ``export_remove``,
    one run for all of them): node name -> None, or why it failed there."""
    if not nodes:
        return {}
    spec = {"paths": paths, "export_root": str(settings.paths().export_dir)}
    play = Play("export_remove", {node["name"]: {"gnt_export_remove": spec} for node in nodes},
                title="remove export directories")
    access = {node["name"]: node_access(lu.cfg, node) for node in nodes}
    result = lu.ctx.executor.run([play], access, lu.feedback)
    errors: dict[str, str | None] = {}
    for node in nodes:
        host = result.hosts.get(node["name"])
        if node["name"] in result.unreachable:
            errors[node["name"]] = "unreachable"
        elif host is None:
            errors[node["name"]] = None if result.ok else result.failure_summary()
        else:
            errors[node["name"]] = None if host.ok else host.message or "failed"
    return errors


@register
class LUBackupQuery(LogicalUnit):
    """node name -> its exports (sorted names), or False when the node did not answer."""

    OP_ID = "OP_BACKUP_QUERY"

    def expand_names(self) -> None:
        if self.op["nodes"]:
            self.nodes = [self.cfg.lookup("nodes", name) for name in self.op["nodes"]]
        else:
            self.nodes = sorted(self.cfg.all("nodes"), key=lambda n: n["name"])

    def exec(self) -> Any:
        answers = export_query.exports_by_node(self.cfg, self.nodes)
        result: dict[str, Any] = {}
        for node in self.nodes:
            answer = answers[node["uuid"]]
            if isinstance(answer, list):
                result[node["name"]] = answer
            else:
                result[node["name"]] = False
                if not node["offline"]:
                    self.log(f"WARNING: node {node['name']}: {answer}")
        return result


@register
class LUBackupRemove(LogicalUnit):
    """Remove the export of an instance (a removed one needs its full name) from all nodes."""

    OP_ID = "OP_BACKUP_REMOVE"

    def expand_names(self) -> None:
        given = self.op["instance_name"]
        inst = self.cfg.find("instances", given)
        self.name = inst["name"] if inst else given
        if not resolver.valid_hostname(self.name):
            raise OpPrereqError(f"Invalid instance name '{self.name}'", ECODE_INVAL)

    def exec(self) -> Any:
        online = [n for n in self.cfg.all("nodes") if not n["offline"]]
        holders, silent = export_holders(self.cfg, online, self.name)
        if not holders:
            hint = f" ({', '.join(sorted(silent))} did not answer)" if silent else ""
            short = "" if "." in self.name else " (for a removed instance give its full name)"
            raise OpPrereqError(f"No export found for instance {self.name}{hint}{short}",
                                ECODE_NOENT)
        failed = []
        removed = remove_export_from(self, holders, [export_path(self.name)])
        for node, error in removed.items():
            if error is None:
                self.log(f"Removed the export of {self.name} from {node}")
            else:
                failed.append(f"{node}: {error}")
        if failed:
            raise OpExecError(f"Could not remove the export of {self.name} from: "
                              + "; ".join(failed))
        return [n["name"] for n in holders]
