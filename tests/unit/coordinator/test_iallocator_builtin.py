"""The built-in allocator on protocol input built from synthetic clusters."""

from __future__ import annotations

import pytest

from gnt import iallocator as ia
from gnt.core.errors import ECODE_NORES, OpPrereqError
from gnt.iallocator import simulate as sim


def run(config, live, request):
    return ia.run_iallocator("builtin", ia.build_request(config, live, request))


def alloc(name="new", memory=512, disks=(1024,), template="file", **kw):
    return ia.request_allocate(name, memory, list(disks), template, **kw)


def nodes(*specs, **kw):
    """A cluster of nodes given as (name, memory MiB[, disk MiB[, cpus]])."""
    config = sim.new_config()
    live: dict = {}
    for spec in specs:
        name, memory, *rest = spec
        sim.add_node(config, live, name, memory=memory, disk=rest[0] if rest else 100000,
                     cpus=rest[1] if len(rest) > 1 else 4, **kw)
    return config, live


def test_picks_the_node_with_most_free_memory_share():
    config, live = nodes(("a", 8192), ("b", 16384), ("c", 4096))
    live["b"]["free_memory"] = 6000  # 37% free; a has 100%
    assert run(config, live, alloc()).nodes == ["a"]


def test_tie_is_broken_by_name_and_both_empty_builtin_names_work():
    config, live = nodes(("n2", 8192), ("n1", 8192), ("n3", 8192))
    data = ia.build_request(config, live, alloc())
    assert ia.run_iallocator("", data).nodes == ["n1"]
    assert ia.run_iallocator("builtin", data).nodes == ["n1"]


@pytest.mark.parametrize("flag", ["offline", "drained", "vm_capable", "unreachable"])
def test_never_uses_unusable_nodes(flag):
    config, live = nodes(("big", 65536), ("small", 2048))
    node = config["nodes"][sim.node_uuid(config, "big")]
    if flag == "vm_capable":
        node["vm_capable"] = False
    elif flag == "unreachable":
        live["big"] = None
    else:
        node[flag] = True
    assert run(config, live, alloc(memory=1024)).nodes == ["small"]
    with pytest.raises(OpPrereqError, match="no node fits instance new") as err:
        run(config, live, alloc(memory=4096))
    assert err.value.ecode == ECODE_NORES


def test_not_enough_memory_anywhere_says_why():
    config, live = nodes(("a", 2048), ("b", 2048))
    with pytest.raises(OpPrereqError, match=r"iallocator 'builtin'.*memory: 2") as err:
        run(config, live, alloc(memory=3000))
    assert err.value.ecode == ECODE_NORES


def test_local_template_needs_disk_on_the_node_shared_does_not():
    config, live = nodes(("roomy", 4096, 100000), ("full", 8192, 500))
    assert run(config, live, alloc(disks=[2048], template="file")).nodes == ["roomy"]
    assert run(config, live, alloc(disks=[2048], template="sharedfile")).nodes == ["full"]
    assert run(config, live, alloc(disks=[], template="diskless")).nodes == ["full"]
    with pytest.raises(OpPrereqError, match="disk: 2"):
        run(config, live, alloc(disks=[200000], template="plain"))


def test_vcpu_ratio_limits_vcpus_per_physical_cpu():
    config, live = nodes(("one", 65536, 100000, 1), ("two", 8192, 100000, 2))
    for idx in range(4):
        sim.add_instance(config, live, f"i{idx}", ["one"], memory=128, vcpus=1)
    # "one" has most memory free but its 1 CPU already carries 4 vCPUs (ratio 4.0).
    assert run(config, live, alloc(vcpus=1)).nodes == ["two"]
    config["cluster"]["ipolicy"] = {"vcpu-ratio": 8.0}
    assert run(config, live, alloc(vcpus=1)).nodes == ["one"]
    with pytest.raises(OpPrereqError, match="vcpus: 2"):
        run(config, live, alloc(vcpus=33))


def test_groups_unallocable_preferred_last_resort_and_group_name():
    config, live = nodes(("p1", 4096))
    spare = sim.add_group(config, "spare", alloc_policy="last_resort")
    never = sim.add_group(config, "never", alloc_policy="unallocable")
    sim.add_node(config, live, "s1", memory=65536, group="spare")
    sim.add_node(config, live, "u1", memory=131072, group="never")
    assert spare and never
    # The preferred group wins although the others have more memory.
    assert run(config, live, alloc(memory=1024)).nodes == ["p1"]
    # Too big for the preferred group: the last_resort one, never the unallocable one.
    assert run(config, live, alloc(memory=30000)).nodes == ["s1"]
    with pytest.raises(OpPrereqError, match="no node fits"):
        run(config, live, alloc(memory=100000))
    assert run(config, live, alloc(memory=1024, group_name="spare")).nodes == ["s1"]


def test_group_ipolicy_disk_templates_are_respected():
    config, live = nodes(("a", 4096))
    config["cluster"]["enabled_disk_templates"] = ["file"]
    with pytest.raises(OpPrereqError, match="no node group accepts disk template sharedfile"):
        run(config, live, alloc(template="sharedfile"))


def test_drbd_gets_two_distinct_nodes_of_one_group():
    config, live = nodes(("a", 8192), ("b", 8192))
    sim.add_group(config, "other")
    sim.add_node(config, live, "c", memory=65536, group="other")
    result = run(config, live, alloc(template="drbd"))
    assert len(result.nodes) == 2 and len(set(result.nodes)) == 2
    groups = {config["nodes"][sim.node_uuid(config, n)]["group"] for n in result.nodes}
    assert len(groups) == 1


def n1_cluster():
    """a runs a 6000 MiB sharedfile instance; b is empty; c has 5500 MiB free."""
    config, live = nodes(("a", 10000), ("b", 10000), ("c", 10000))
    sim.add_instance(config, live, "big", ["a"], memory=6000, template="sharedfile")
    sim.add_instance(config, live, "local", ["c"], memory=4500, template="file")
    return config, live


def test_n1_prefers_a_placement_that_survives_any_node_failure():
    config, live = n1_cluster()
    # By score b is best (50% left vs 5%), but then a's 6000 MiB instance could restart
    # nowhere (b 5000, c 5500 free). On c, b keeps 10000 MiB for it.
    result = run(config, live, alloc(memory=5000, template="sharedfile"))
    assert result.nodes == ["c"]
    assert "N+1" not in result.info


def test_n1_is_a_preference_not_a_requirement():
    config, live = n1_cluster()
    live["c"]["free_memory"] = 400  # now only b fits, and it breaks N+1
    result = run(config, live, alloc(memory=5000, template="sharedfile"))
    assert result.nodes == ["b"]
    assert "no placement keeps N+1 redundancy" in result.info


def test_n1_ignored_when_the_group_is_already_not_redundant():
    config, live = nodes(("a", 10000), ("b", 4000))
    sim.add_instance(config, live, "huge", ["a"], memory=8000, template="sharedfile")
    result = run(config, live, alloc(memory=1000, template="sharedfile"))
    assert result.nodes == ["b"]
    assert "already not N+1" in result.info


def test_multi_allocate_accounts_each_placement():
    config, live = nodes(("a", 4096), ("b", 4096))
    request = ia.request_multi_allocate([alloc("x", 3000), alloc("y", 3000), alloc("z", 3000)])
    result = run(config, live, request)
    placed = dict(result.allocated)
    assert sorted(placed) == ["x", "y"] and placed["x"] != placed["y"]
    assert [name for name, _why in result.failed] == ["z"]


def test_relocate_moves_inside_the_group_away_from_given_nodes():
    config, live = nodes(("a", 8192), ("b", 4096), ("c", 8192))
    sim.add_group(config, "other")
    sim.add_node(config, live, "far", memory=65536, group="other")
    sim.add_instance(config, live, "vm", ["a"], memory=1024, template="sharedfile")
    data = ia.build_request(config, live, ia.request_relocate("vm", ["a"]))
    assert ia.run_iallocator("builtin", data).nodes == ["c"]


def test_relocate_fails_when_nothing_else_fits():
    config, live = nodes(("a", 8192), ("b", 2048))
    sim.add_instance(config, live, "vm", ["a"], memory=4096, template="sharedfile")
    with pytest.raises(OpPrereqError, match="no node fits instance vm") as err:
        run(config, live, ia.request_relocate("vm", ["a"]))
    assert err.value.ecode == ECODE_NORES


def test_node_evacuate_moves_in_protocol_shape_and_never_onto_evacuated_nodes():
    config, live = nodes(("a", 8192), ("b", 8192), ("c", 3000), ("d", 3000))
    sim.add_instance(config, live, "s1", ["a"], memory=2000, template="sharedfile")
    sim.add_instance(config, live, "s2", ["a"], memory=2000, template="sharedfile")
    sim.add_instance(config, live, "f1", ["b"], memory=2000, template="file")
    sim.add_instance(config, live, "s3", ["b"], memory=2500, template="sharedfile")
    # Evacuating a and b: c and d take 3000 MiB each, so one of the four cannot move, and
    # a/b (with more free memory) must not be used as targets.
    result = run(config, live, ia.request_node_evacuate(["s1", "s2", "f1", "s3"]))
    moved = {name: nodes_ for name, _group, nodes_ in result.moved}
    assert all(n[0] in ("c", "d") for n in moved.values())
    assert len(moved) == 2 and len(result.failed) == 2
    assert all("no node fits" in why for _name, why in result.failed)
    ops = {op[0]["instance_name"]: op[0] for op in result.opcodes}
    assert set(ops) == set(moved)
    for name, op in ops.items():
        assert op["target_node"] == moved[name][0]
        assert op["OP_ID"] == ("OP_INSTANCE_MOVE" if name == "f1" else "OP_INSTANCE_MIGRATE")
    assert result.moved[0][1] == "default"


def test_node_evacuate_secondary_only_for_single_node_instances_fails_per_instance():
    config, live = nodes(("a", 8192), ("b", 8192))
    sim.add_instance(config, live, "s1", ["a"], memory=1000, template="sharedfile")
    result = run(config, live, ia.request_node_evacuate(["s1"], "secondary-only"))
    assert result.moved == [] and result.failed[0][0] == "s1"
    assert "no secondary node" in result.failed[0][1]


def test_drbd_evacuation_primary_only_and_secondary_only():
    config, live = nodes(("a", 8192), ("b", 8192), ("c", 8192))
    sim.add_instance(config, live, "d", ["a", "b"], memory=1000, template="drbd")
    pri = run(config, live, ia.request_node_evacuate(["d"], "primary-only"))
    assert pri.moved == [("d", "default", ["b", "a"])]
    sec = run(config, live, ia.request_node_evacuate(["d"], "secondary-only"))
    assert sec.moved == [("d", "default", ["a", "c"])]
    assert sec.opcodes[0][0]["OP_ID"] == "OP_INSTANCE_REPLACE_DISKS"


def test_change_group_is_refused_clearly():
    config, live = nodes(("a", 8192))
    sim.add_instance(config, live, "s1", ["a"], memory=1000, template="sharedfile")
    with pytest.raises(OpPrereqError, match="not supported by the built-in allocator"):
        run(config, live, ia.request_change_group(["s1"]))


def test_repeated_allocations_stay_balanced_and_within_capacity():
    config, live = sim.cluster(10, memory=16384, disk=200000, cpus=8)
    counts: dict[str, int] = {}
    for idx in range(300):
        request = alloc(f"i{idx}", memory=512, disks=[1000], template="sharedfile")
        try:
            target = run(config, live, request).nodes[0]
        except OpPrereqError:
            break
        sim.add_instance(config, live, f"i{idx}", [target], memory=512, disks=[1000],
                         template="sharedfile")
        counts[target] = counts.get(target, 0) + 1
    assert all(v["free_memory"] >= 0 for v in live.values())
    # Balanced: no node carries more than one instance above any other.
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) > 200


def test_instances_added_down_spread_by_vcpu_load_despite_memory_jitter():
    """Instances added without starting take no memory: alike nodes whose live free memory
    differs by a few MiB (nodes sharing one host, readings a moment apart) still share them
    out by vCPU load, not all onto the node that read a little more free memory."""
    config, live = nodes(("a", 16384), ("b", 16384), ("c", 16384))
    config["cluster"]["ipolicy"] = {"vcpu-ratio": 64.0}
    live["a"]["free_memory"] += 12  # a reads 12 MiB more free memory than b and c
    counts = {"a": 0, "b": 0, "c": 0}
    for idx in range(30):
        target = run(config, live, alloc(f"i{idx}", memory=64, disks=[32])).nodes[0]
        sim.add_instance(config, live, f"i{idx}", [target], memory=64, disks=[32],
                         vcpus=1, admin_state="down")
        counts[target] += 1
    assert counts == {"a": 10, "b": 10, "c": 10}
