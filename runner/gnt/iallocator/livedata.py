"""Turn the coordinator's live node info (``gnt.nodes.rpc.live_info_many``) into the ``live``
argument of :func:`gnt.iallocator.build_request`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RUNNING_STATES = ("running", "paused", "blocked")


def live_from_node_info(config: Mapping[str, Any],
                        infos: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """``infos`` maps node uuid to the node's live info (``mtotal``, ``mfree``, ``mnode``,
    ``ctotal``, ``dtotal``, ``dfree``, ``domains``) or None; returns node name -> the
    IAllocator live dict (or None for a node without an answer).

    The memory running domains use is passed as ``instance_memory`` so that an instance
    that should run but does not still has its memory reserved.
    """
    live: dict[str, Any] = {}
    for uuid, node in config["nodes"].items():
        info = infos.get(uuid)
        if not info or info.get("mfree") is None:
            live[node["name"]] = None
            continue
        domains = info.get("domains") or {}
        live[node["name"]] = {
            "total_memory": int(info.get("mtotal") or 0),
            "free_memory": int(info["mfree"]),
            "reserved_memory": int(info.get("mnode") or 0),
            "total_disk": int(info.get("dtotal") or 0),
            "free_disk": int(info.get("dfree") or 0),
            "total_cpus": int(info.get("ctotal") or 0),
            "instance_memory": {name: int(dom.get("memory_mib") or 0)
                                for name, dom in domains.items()
                                if dom.get("state") in RUNNING_STATES},
        }
    return live
