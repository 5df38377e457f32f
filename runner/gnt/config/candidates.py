"""The master candidate pool: who may be promoted, how many there should be, whom to promote.

Ganeti's rules: the pool size is ``candidate_pool_size`` (capped by the number of eligible
nodes); eligible means master-capable, online and not drained; the master is always a
candidate. New nodes are promoted while the pool is short; demoting a candidate (directly or by
offlining/draining it) is refused while it would leave the pool short, unless another node is
promoted in its place (``--auto-promote``) or the operator forces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def eligible(node: dict[str, Any]) -> bool:
    """May ``node`` be a master candidate at all?"""
    return bool(node["master_capable"] and not node["offline"] and not node["drained"])


def pool_stats(nodes: Iterable[dict[str, Any]], exclude: Iterable[str] = ()
               ) -> tuple[int, int]:
    """(current candidates, eligible nodes), leaving out the uuids in ``exclude``."""
    skip = set(exclude)
    current = possible = 0
    for node in nodes:
        if node["uuid"] in skip:
            continue
        if node["master_candidate"]:
            current += 1
        if eligible(node):
            possible += 1
    return current, possible


def wanted_size(pool_size: int, possible: int) -> int:
    """How many candidates there should be."""
    return min(pool_size, possible)


def to_promote(nodes: list[dict[str, Any]], pool_size: int,
               exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Non-candidate eligible nodes to promote (by name) until the pool is full."""
    skip = set(exclude)
    current, possible = pool_stats(nodes, skip)
    missing = wanted_size(pool_size, possible) - current
    if missing <= 0:
        return []
    spare = sorted((n for n in nodes if n["uuid"] not in skip and not n["master_candidate"]
                    and eligible(n)), key=lambda n: n["name"])
    return spare[:missing]


def new_node_is_candidate(nodes: list[dict[str, Any]], pool_size: int,
                          node: dict[str, Any]) -> bool:
    """Does a node joining now (not in ``nodes``) become a candidate?"""
    if not eligible(node):
        return False
    current, _possible = pool_stats(nodes)
    return current < pool_size
