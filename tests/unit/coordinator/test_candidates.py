"""The master candidate pool rules (gnt.config.candidates), pure functions."""

from __future__ import annotations

from typing import Any

from gnt.config import candidates


def node(name: str, mc: bool = False, offline: bool = False, drained: bool = False,
         capable: bool = True) -> dict[str, Any]:
    return {"uuid": f"u-{name}", "name": name, "master_candidate": mc, "offline": offline,
            "drained": drained, "master_capable": capable}


def test_eligible_needs_capable_online_and_not_drained() -> None:
    assert candidates.eligible(node("a"))
    assert not candidates.eligible(node("a", offline=True))
    assert not candidates.eligible(node("a", drained=True))
    assert not candidates.eligible(node("a", capable=False))


def test_pool_stats_counts_candidates_and_eligible_nodes() -> None:
    nodes = [node("a", mc=True), node("b", mc=True), node("c"), node("d", offline=True),
             node("e", drained=True), node("f", capable=False)]
    assert candidates.pool_stats(nodes) == (2, 3)
    assert candidates.pool_stats(nodes, exclude=["u-a"]) == (1, 2)
    assert candidates.pool_stats(nodes, exclude=["u-c", "u-d"]) == (2, 2)
    assert candidates.pool_stats([]) == (0, 0)


def test_wanted_size_is_capped_by_eligible_nodes() -> None:
    assert candidates.wanted_size(10, 3) == 3
    assert candidates.wanted_size(2, 5) == 2
    assert candidates.wanted_size(0, 5) == 0


def test_to_promote_fills_the_pool_in_name_order() -> None:
    nodes = [node("m", mc=True), node("zeta"), node("beta"), node("alpha"), node("gamma")]
    promoted = candidates.to_promote(nodes, 3)
    assert [n["name"] for n in promoted] == ["alpha", "beta"]
    # the input order does not matter: deterministic by name
    assert [n["name"] for n in candidates.to_promote(list(reversed(nodes)), 3)] == \
        ["alpha", "beta"]


def test_to_promote_skips_ineligible_and_excluded_nodes() -> None:
    nodes = [node("m", mc=True), node("a", offline=True), node("b", drained=True),
             node("c", capable=False), node("d"), node("e")]
    assert [n["name"] for n in candidates.to_promote(nodes, 10)] == ["d", "e"]
    assert [n["name"] for n in candidates.to_promote(nodes, 10, exclude=["u-d"])] == ["e"]


def test_to_promote_nothing_when_full_or_pool_larger_than_nodes() -> None:
    full = [node("m", mc=True), node("a", mc=True), node("b")]
    assert candidates.to_promote(full, 2) == []
    # pool bigger than the cluster: every eligible node, nothing more
    small = [node("m", mc=True), node("a"), node("b", offline=True)]
    assert [n["name"] for n in candidates.to_promote(small, 10)] == ["a"]
    # more candidates than the pool wants (pool shrunk): nothing promoted, nobody demoted
    assert candidates.to_promote([node("m", mc=True), node("a", mc=True), node("b")], 1) == []


def test_to_promote_excluded_candidate_is_not_counted() -> None:
    # demoting "a" (excluded) with pool size 2: "b" must come in, never "a" itself
    nodes = [node("m", mc=True), node("a", mc=True), node("b")]
    assert [n["name"] for n in candidates.to_promote(nodes, 2, exclude=["u-a"])] == ["b"]


def test_new_node_is_candidate_while_pool_short() -> None:
    nodes = [node("m", mc=True), node("a", mc=True)]
    assert candidates.new_node_is_candidate(nodes, 3, node("new"))
    assert not candidates.new_node_is_candidate(nodes, 2, node("new"))
    assert not candidates.new_node_is_candidate(nodes, 3, node("new", capable=False))
    assert not candidates.new_node_is_candidate(nodes, 3, node("new", offline=True))
    assert not candidates.new_node_is_candidate(nodes, 3, node("new", drained=True))
