"""Query fields of exports (Ganeti's ``/2/query/export``; ``gnt-backup list``).

One row per export found on a node, plus one row without an export (``None``, unavailable)
for a node that could not be asked, as Ganeti's export query answers. :func:`exports_by_node`
is the one place that asks the nodes (OP_BACKUP_QUERY uses it too).
"""

from __future__ import annotations

from typing import Any

from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_NOENT, OpPrereqError
from gnt.nodes import rpc
from gnt.query.field import Field


def select_nodes(store: ConfigStore, names: list[str]) -> list[dict[str, Any]]:
    """The nodes named (all, sorted by name, if none); unknown names raise."""
    if not names:
        return sorted(store.all("nodes"), key=lambda n: n["name"])
    found = [store.find("nodes", name) for name in names]
    unknown = [name for name, node in zip(names, found, strict=True) if node is None]
    if unknown:
        raise OpPrereqError(f"Unknown node(s): {', '.join(unknown)}", ECODE_NOENT)
    return [node for node in found if node is not None]


def exports_by_node(store: ConfigStore, nodes: list[dict[str, Any]]
                    ) -> dict[str, list[str] | str]:
    """node uuid -> its complete exports (sorted names), or why it could not be asked
    (offline nodes are not asked)."""
    online = [n for n in nodes if not n["offline"]]
    answers = rpc.exports_many(store, online)
    result: dict[str, list[str] | str] = {}
    for node in nodes:
        answer = answers.get(node["uuid"])
        if node["offline"]:
            result[node["uuid"]] = "node is offline"
        elif isinstance(answer, dict):
            result[node["uuid"]] = sorted(name for name, info in answer.items()
                                          if info.get("complete"))
        else:
            result[node["uuid"]] = str(answer or "no answer")
    return result


def rows(store: ConfigStore, names: list[str]) -> list[tuple[str, str | None]]:
    """``(node name, export name)`` rows of the named nodes (all if none)."""
    nodes = select_nodes(store, names)
    found = exports_by_node(store, nodes)
    result: list[tuple[str, str | None]] = []
    for node in nodes:
        answer = found[node["uuid"]]
        if isinstance(answer, str):
            result.append((node["name"], None))
        else:
            result.extend((node["name"], name) for name in answer)
    return result


def export_fields() -> list[Field]:
    """Ganeti's export fields."""
    return [
        Field("node", "Node", "text", lambda r: r[0], doc="Node name"),
        Field("export", "Export", "text", lambda r: r[1], doc="Export name", live=True,
              unavail=True),
    ]
