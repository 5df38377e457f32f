"""Instance allocators: Ganeti's IAllocator protocol, our built-in allocator, external ones.

Typical use from a logical unit::

    from gnt import iallocator as ia
    data = ia.build_request(config, live, ia.request_allocate("inst1", 512, [1024], "file"))
    answer = ia.run_iallocator(op["iallocator"], data)   # "" / "builtin" / "hail" / path
    primary = answer.nodes[0]

See docs/iallocator.md for the protocol fields, the built-in policy and hail compatibility.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.iallocator import builtin
from gnt.iallocator.external import find_allocator, run_external, search_path
from gnt.iallocator.livedata import live_from_node_info
from gnt.iallocator.request import (
    EVAC_ALL,
    EVAC_PRIMARY,
    EVAC_SECONDARY,
    MODE_ALLOCATE,
    MODE_CHANGE_GROUP,
    MODE_MULTI_ALLOCATE,
    MODE_NODE_EVACUATE,
    MODE_RELOCATE,
    build_request,
    disk_space_total,
    mirror_type,
    request_allocate,
    request_change_group,
    request_multi_allocate,
    request_node_evacuate,
    request_relocate,
    required_nodes,
)
from gnt.iallocator.result import IAllocatorResult, parse_answer

BUILTIN_NAMES = ("", "builtin")


def run_iallocator(name: str, data: Mapping[str, Any], timeout: float = 60,
                   args: Sequence[str] = ()) -> IAllocatorResult:
    """Run allocator ``name`` on the protocol input ``data`` and check its answer.

    ``name``: ``""`` or ``"builtin"`` for the built-in allocator, an absolute path, or a
    program name looked up in :func:`search_path` (e.g. ``"hail"``). ``args`` go before the
    input file name (external allocators only). Every failure raises
    :class:`~gnt.core.errors.OpPrereqError`: ``ECODE_NORES`` when no placement exists,
    ``ECODE_INVAL`` for an unknown or invalid name, ``ECODE_ENVIRON`` when the program fails,
    ``ECODE_FAULT`` for an answer that breaks the protocol.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("request"), Mapping):
        raise OpPrereqError("Iallocator input has no 'request' (use build_request)",
                            ECODE_INVAL)
    if name in BUILTIN_NAMES:
        answer = builtin.allocate(data)
        return parse_answer("builtin", data, answer)
    answer = run_external(name, data, timeout=timeout, args=args)
    return parse_answer(name, data, answer)


__all__ = [
    "BUILTIN_NAMES", "EVAC_ALL", "EVAC_PRIMARY", "EVAC_SECONDARY", "IAllocatorResult",
    "MODE_ALLOCATE", "MODE_CHANGE_GROUP", "MODE_MULTI_ALLOCATE", "MODE_NODE_EVACUATE",
    "MODE_RELOCATE", "build_request", "disk_space_total", "find_allocator",
    "live_from_node_info", "mirror_type",
    "parse_answer", "request_allocate", "request_change_group", "request_multi_allocate",
    "request_node_evacuate", "request_relocate", "required_nodes", "run_iallocator",
    "search_path",
]
