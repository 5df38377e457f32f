"""An allocator's answer, checked against the request, with parsed views for the LUs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gnt.core.errors import ECODE_FAULT, ECODE_NORES, OpPrereqError
from gnt.iallocator.request import (
    MODE_ALLOCATE,
    MODE_CHANGE_GROUP,
    MODE_MULTI_ALLOCATE,
    MODE_NODE_EVACUATE,
    MODE_RELOCATE,
)


@dataclass(frozen=True)
class IAllocatorResult:
    """A successful allocator answer.

    ``result`` is the raw protocol result; the properties give it parsed:
    ``nodes`` (allocate, relocate), ``allocated``/``failed`` (multi-allocate),
    ``moved``/``failed``/``opcodes`` (node-evacuate, change-group).
    """

    allocator: str
    mode: str
    success: bool
    info: str
    result: Any

    @property
    def nodes(self) -> list[str]:
        """allocate: the instance's nodes, primary first; relocate: the new node."""
        if self.mode not in (MODE_ALLOCATE, MODE_RELOCATE):
            raise ValueError(f"'nodes' is not defined for a {self.mode} answer")
        return list(self.result)

    @property
    def allocated(self) -> list[tuple[str, list[str]]]:
        """multi-allocate: (instance name, nodes) of each placed instance."""
        if self.mode != MODE_MULTI_ALLOCATE:
            raise ValueError(f"'allocated' is not defined for a {self.mode} answer")
        return [(str(name), list(nodes)) for name, nodes in self.result[0]]

    @property
    def moved(self) -> list[tuple[str, str, list[str]]]:
        """node-evacuate / change-group: (instance, target group name, new nodes)."""
        if self.mode not in (MODE_NODE_EVACUATE, MODE_CHANGE_GROUP):
            raise ValueError(f"'moved' is not defined for a {self.mode} answer")
        return [(str(name), str(group), list(nodes)) for name, group, nodes in self.result[0]]

    @property
    def failed(self) -> list[tuple[str, str]]:
        """Instances the allocator could not place or move, with its reason."""
        if self.mode in (MODE_NODE_EVACUATE, MODE_CHANGE_GROUP, MODE_MULTI_ALLOCATE):
            return [_failure(item) for item in self.result[1]]
        raise ValueError(f"'failed' is not defined for a {self.mode} answer")

    @property
    def opcodes(self) -> list[list[dict[str, Any]]]:
        """node-evacuate / change-group: per moved instance the opcodes that move it."""
        if self.mode not in (MODE_NODE_EVACUATE, MODE_CHANGE_GROUP):
            raise ValueError(f"'opcodes' is not defined for a {self.mode} answer")
        return [list(ops) for ops in self.result[2]] if len(self.result) > 2 else []


def _failure(item: Any) -> tuple[str, str]:
    if isinstance(item, str):
        return (item, "")
    return (str(item[0]), str(item[1]) if len(item) > 1 else "")


def _bad(name: str, what: str) -> OpPrereqError:
    return OpPrereqError(f"Iallocator '{name}' returned an invalid answer: {what}", ECODE_FAULT)


def _check_nodes(name: str, data: Mapping[str, Any], nodes: Any, count: int | None,
                 what: str) -> list[str]:
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise _bad(name, f"{what}: expected a list of node names, got {nodes!r:.200}")
    unknown = [n for n in nodes if n not in data["nodes"]]
    if unknown:
        raise _bad(name, f"{what}: unknown node(s) {', '.join(unknown)}")
    if count is not None and len(nodes) != count:
        raise _bad(name, f"{what}: {len(nodes)} node(s) ({', '.join(nodes) or 'none'}),"
                         f" but {count} required")
    if len(set(nodes)) != len(nodes):
        raise _bad(name, f"{what}: a node is named twice ({', '.join(nodes)})")
    return nodes


def _check_pairs(name: str, items: Any, size: int, what: str) -> list[Any]:
    if not isinstance(items, list) or not all(
            isinstance(i, list) and len(i) >= size for i in items):
        raise _bad(name, f"{what}: expected a list of [{size} items] lists, got {items!r:.200}")
    return items


def parse_answer(name: str, data: Mapping[str, Any], answer: Any) -> IAllocatorResult:
    """Check ``answer`` (the decoded JSON of an allocator) against the input ``data``.

    Raises :class:`OpPrereqError`: ``ECODE_NORES`` when the allocator reports failure
    (``success`` false, with its ``info``), ``ECODE_FAULT`` for a malformed answer or one
    naming unknown nodes or the wrong number of nodes.
    """
    if not isinstance(answer, dict):
        raise _bad(name, f"expected a JSON object, got {type(answer).__name__}")
    if "result" not in answer and "nodes" in answer:
        answer = {**answer, "result": answer["nodes"]}  # pre-2.0 allocators
    for key, kind in (("success", bool), ("info", str)):
        if not isinstance(answer.get(key), kind):
            raise _bad(name, f"'{key}' missing or not a {kind.__name__}")
    if "result" not in answer:
        raise _bad(name, "'result' missing")
    request = data["request"]
    mode = request["type"]
    if not answer["success"]:
        raise OpPrereqError(f"Can't compute nodes using iallocator '{name}': {answer['info']}",
                            ECODE_NORES)
    result = answer["result"]
    if mode == MODE_ALLOCATE:
        _check_nodes(name, data, result, int(request["required_nodes"]),
                     f"allocation of {request['name']}")
        offline = [n for n in result if data["nodes"][n]["offline"]
                   or data["nodes"][n]["drained"]]
        if offline:
            raise _bad(name, f"allocation of {request['name']}: node(s) {', '.join(offline)}"
                             " are offline or drained")
    elif mode == MODE_RELOCATE:
        _check_nodes(name, data, result, int(request.get("required_nodes", 1)),
                     f"relocation of {request['name']}")
        back = [n for n in result if n in request["relocate_from"]]
        if back:
            raise _bad(name, f"relocation of {request['name']}: new node {back[0]} is one it"
                             " should move away from")
    elif mode == MODE_MULTI_ALLOCATE:
        if not isinstance(result, list) or len(result) != 2:
            raise _bad(name, f"multi-allocate: expected [allocated, failed], got {result!r:.200}")
        wanted = {r["name"]: int(r["required_nodes"]) for r in request["instances"]}
        for item in _check_pairs(name, result[0], 2, "multi-allocate allocations"):
            if item[0] not in wanted:
                raise _bad(name, f"multi-allocate: unknown instance {item[0]!r}")
            _check_nodes(name, data, item[1], wanted[item[0]], f"allocation of {item[0]}")
    else:  # node-evacuate, change-group
        if not isinstance(result, list) or len(result) not in (2, 3):
            raise _bad(name, f"{mode}: expected [moved, failed, opcodes], got {result!r:.200}")
        asked = set(request["instances"])
        for item in _check_pairs(name, result[0], 3, f"{mode} moves"):
            if item[0] not in asked:
                raise _bad(name, f"{mode}: moved instance {item[0]!r} was not asked for")
            _check_nodes(name, data, item[2], None, f"move of {item[0]}")
        _check_pairs(name, result[1], 1, f"{mode} failures")
    return IAllocatorResult(allocator=name, mode=mode, success=True, info=answer["info"],
                            result=result)
