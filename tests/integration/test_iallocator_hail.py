"""Ganeti's own allocator, hail (Debian package ganeti-htools), run on input from build_request.

Proves our protocol input is what a real external allocator accepts, and records which
request types and disk templates hail handles (see docs/iallocator.md).
"""

from __future__ import annotations

import os

import pytest

from gnt import iallocator as ia
from gnt.core.errors import ECODE_NORES, OpPrereqError
from gnt.iallocator import simulate as sim

HAIL = "/usr/lib/ganeti/iallocators/hail"
pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    not os.access(HAIL, os.X_OK),
    reason=f"{HAIL} is missing: install Debian's ganeti-htools (scripts/setup.sh --test)")]
# hail assumes the KVM host OS takes 4096 MiB unless told to use our reserved_memory.
EXACT = ["--static-kvm-node-memory=0"]
# hail refuses placements that break N+1 (global N+1, all templates) unless told not to.
NO_N1 = [*EXACT, "--no-capacity-checks"]


def cluster(*specs):
    """Nodes given as (name, memory MiB, options); 200 GiB disk, 8 CPUs each."""
    config = sim.new_config()
    live: dict = {}
    for name, memory, *opts in specs:
        sim.add_node(config, live, name, memory=memory, disk=204800, cpus=8,
                     **(opts[0] if opts else {}))
    return config, live


def hail(config, live, request, args=()):
    data = ia.build_request(config, live, request)
    return data, ia.run_iallocator("hail", data, args=args)


def usable(data, name):
    node = data["nodes"][name]
    return not (node["offline"] or node["drained"] or not node["vm_capable"])


@pytest.mark.parametrize(("template", "disks"), [
    ("file", [2048]), ("sharedfile", [2048]), ("diskless", []), ("plain", [2048]),
    ("drbd", [2048])])
def test_allocate_is_accepted_for_each_template(template, disks):
    config, live = cluster(("n1", 32768), ("n2", 32768), ("n3", 32768))
    sim.add_instance(config, live, "old", ["n1"], memory=4096, template="sharedfile")
    data, result = hail(config, live, ia.request_allocate("new", 1024, disks, template))
    assert len(result.nodes) == ia.required_nodes(template)
    assert all(usable(data, n) for n in result.nodes)
    assert "n1" not in result.nodes[:1]  # the loaded node is not the best primary
    assert "Request successful" in result.info


def test_allocate_never_picks_drained_offline_or_unreachable_nodes():
    config, live = cluster(("big-drained", 131072, {"drained": True}),
                           ("big-offline", 131072, {"offline": True}),
                           ("big-unreachable", 131072, {"reachable": False}),
                           ("small", 16384), ("smaller", 12288))
    for template in ("file", "sharedfile"):
        data, result = hail(config, live, ia.request_allocate("new", 2048, [1024], template))
        assert result.nodes[0] in ("small", "smaller")
        builtin = ia.run_iallocator("builtin", data)
        assert builtin.nodes[0] in ("small", "smaller")


def test_allocate_picks_the_only_node_that_fits():
    config, live = cluster(("n1", 16384), ("n2", 16384), ("n3", 16384))
    live["n1"]["free_memory"] = 2000
    live["n3"]["free_memory"] = 3000
    request = ia.request_allocate("new", 8000, [1024], "file")
    data, result = hail(config, live, request, args=NO_N1)
    assert result.nodes == ["n2"]
    assert ia.run_iallocator("builtin", data).nodes == ["n2"]


def test_hail_requires_n1_for_shared_storage_where_builtin_only_prefers_it():
    config, live = cluster(("n1", 16384), ("n2", 16384), ("n3", 16384))
    live["n1"]["free_memory"] = 2000
    live["n3"]["free_memory"] = 3000
    # On n2 the 8000 MiB instance could restart nowhere if n2 failed.
    data = ia.build_request(config, live, ia.request_allocate("new", 8000, [1024],
                                                              "sharedfile"))
    with pytest.raises(OpPrereqError, match="FailN1") as err:
        ia.run_iallocator("hail", data, args=EXACT)
    assert err.value.ecode == ECODE_NORES
    builtin = ia.run_iallocator("builtin", data)
    assert builtin.nodes == ["n2"] and "no placement keeps N+1" in builtin.info


def test_allocate_fails_clearly_when_nothing_fits():
    config, live = cluster(("n1", 8192), ("n2", 8192, {"drained": True}))
    with pytest.raises(OpPrereqError, match="iallocator 'hail'.*FailMem") as err:
        hail(config, live, ia.request_allocate("huge", 16384, [1024], "file"), args=EXACT)
    assert err.value.ecode == ECODE_NORES
    with pytest.raises(OpPrereqError, match="FailDisk") as err:
        hail(config, live, ia.request_allocate("fat", 512, [409600], "plain"), args=EXACT)
    assert err.value.ecode == ECODE_NORES


def test_hail_does_not_count_disk_for_the_file_template():
    # htools counts node disk only for plain and drbd; the built-in allocator also for file.
    config, live = cluster(("n1", 8192), ("n2", 8192))
    live["n2"]["free_disk"] = 1000
    request = ia.request_allocate("fat", 512, [409600], "file")  # 400 GiB; nodes have 200
    data, result = hail(config, live, request, args=EXACT)
    assert result.nodes[0] in ("n1", "n2")
    with pytest.raises(OpPrereqError, match="disk: 2"):
        ia.run_iallocator("builtin", data)
    with pytest.raises(OpPrereqError, match="FailDisk"):
        hail(config, live, ia.request_allocate("fat", 512, [409600], "plain"), args=EXACT)


def test_hail_reserves_4096_mib_for_a_kvm_node_unless_told_otherwise():
    config, live = cluster(("n1", 8192), ("n2", 8192), ("n3", 8192))
    request = ia.request_allocate("new", 5000, [1024], "file")
    with pytest.raises(OpPrereqError, match="FailMem"):
        hail(config, live, request)
    assert hail(config, live, request, args=EXACT)[1].nodes[0] in ("n1", "n2", "n3")


def test_relocate_shared_storage_gets_a_new_primary():
    config, live = cluster(("n1", 32768), ("n2", 32768, {"drained": True}), ("n3", 32768),
                           ("n4", 32768))
    sim.add_instance(config, live, "shared", ["n1"], memory=2048, template="sharedfile")
    sim.add_instance(config, live, "nodisk", ["n3"], memory=2048, template="diskless", disks=())
    for name, old in (("shared", "n1"), ("nodisk", "n3")):
        data, result = hail(config, live, ia.request_relocate(name, [old]))
        assert result.nodes[0] != old and usable(data, result.nodes[0])


def test_relocate_drbd_changes_the_secondary():
    config, live = cluster(("n1", 32768), ("n2", 32768), ("n3", 32768))
    sim.add_instance(config, live, "rep", ["n1", "n2"], memory=2048, template="drbd")
    assert hail(config, live, ia.request_relocate("rep", ["n2"]))[1].nodes == ["n3"]


def test_relocate_of_local_templates_is_refused_by_hail():
    config, live = cluster(("n1", 32768), ("n2", 32768))
    sim.add_instance(config, live, "local", ["n1"], memory=2048, template="file")
    with pytest.raises(OpPrereqError, match="Can't relocate non-mirrored instances") as err:
        hail(config, live, ia.request_relocate("local", ["n1"]))
    assert err.value.ecode == ECODE_NORES


def test_node_evacuate_moves_shared_instances_and_reports_local_ones_failed():
    config, live = cluster(("n1", 32768), ("n2", 32768), ("n3", 32768, {"drained": True}))
    sim.add_instance(config, live, "shared", ["n1"], memory=2048, template="sharedfile")
    sim.add_instance(config, live, "local", ["n1"], memory=2048, template="file")
    data, result = hail(config, live, ia.request_node_evacuate(["shared", "local"]))
    assert result.moved == [("shared", "default", ["n2"])]
    assert result.opcodes[0][0]["OP_ID"] == "OP_INSTANCE_MIGRATE"
    assert result.opcodes[0][0]["target_node"] == "n2"
    assert result.failed == [("local", "Instances of type file cannot be relocated")]
    # The built-in allocator moves the file instance too (OP_INSTANCE_MOVE).
    builtin = ia.run_iallocator("builtin", data)
    assert sorted(m[0] for m in builtin.moved) == ["local", "shared"]


def test_node_evacuate_secondary_only_is_for_drbd():
    config, live = cluster(("n1", 32768), ("n2", 32768), ("n3", 32768))
    sim.add_instance(config, live, "shared", ["n1"], memory=2048, template="sharedfile")
    sim.add_instance(config, live, "rep", ["n1", "n2"], memory=2048, template="drbd")
    _data, result = hail(config, live, ia.request_node_evacuate(["shared", "rep"],
                                                                "secondary-only"))
    assert result.moved == [("rep", "default", ["n1", "n3"])]
    assert [name for name, _why in result.failed] == ["shared"]


def test_multi_allocate():
    config, live = cluster(("n1", 32768), ("n2", 32768))
    request = ia.request_multi_allocate([ia.request_allocate("a", 8192, [1024], "sharedfile"),
                                         ia.request_allocate("b", 8192, [1024], "file")])
    _data, result = hail(config, live, request)
    placed = dict(result.allocated)
    assert sorted(placed) == ["a", "b"] and placed["a"] != placed["b"]
