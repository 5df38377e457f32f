"""Bad input on a real 3-node cluster (plus a fourth lab node that is not in the cluster):
every command exits non-zero, names the value and the cause, and leaves the master's
config.data byte for byte unchanged.

Run: ``GNT_LAB_SLOT=2 .venv/bin/pytest -q tests/integration/test_multinode_bad_input.py``
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks()

SHARED = "inst1"   # sharedfile, running on node2
LOCAL = "inst2"    # file, on node2


@pytest.fixture(scope="module")
def cluster() -> Iterator[LabCluster]:
    """node1 (master), node2 and node3 in the cluster; node4 up but not added."""
    with running_cluster("badinput", 4, add=2) as c:
        c.gnt(f"gnt-instance add -t sharedfile --disk 0:size=64M -o tinylinux -n node2 {SHARED}")
        c.gnt(f"gnt-instance add -t file --disk 0:size=64M -o tinylinux -n node2 {LOCAL}")
        yield c


def refused(cluster: LabCluster, command: str, *needles: str, node: str = "node1") -> str:
    """Run a command that must fail: non-zero exit, every needle in its output, no
    traceback, master config unchanged. Returns the output."""
    master = cluster.master()
    before = cluster.config_bytes(master)
    proc = cluster.gnt(command, node=node, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{command!r} succeeded:\n{out}"
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, f"{command!r}: {needle!r} not in:\n{out}"
    assert cluster.config_bytes(master) == before, f"{command!r} changed config.data"
    return out


# --- migrate / failover / move ---------------------------------------------------------

def test_migrate_local_disk_instance(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f -n node3 {LOCAL}", LOCAL, "'file'",
            "cannot be migrated")


def test_failover_local_disk_instance(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance failover -f {LOCAL}", LOCAL, "'file'",
            "cannot be failed over")
    refused(cluster, f"gnt-instance failover -f -n node3 {LOCAL}", LOCAL, "'file'")


def test_move_shared_instance(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance move -f -n node3 {SHARED}", SHARED, "'sharedfile'",
            "migrate")


def test_migrate_to_own_node(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f -n node2 {SHARED}", SHARED,
            "node2.lab.example", "already")
    refused(cluster, f"gnt-instance failover -f -n node2 {SHARED}", SHARED,
            "node2.lab.example", "already")


def test_unknown_target_node(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f -n nosuchnode {SHARED}", "nosuchnode",
            "not known")
    refused(cluster, f"gnt-instance failover -f -n nosuchnode {SHARED}", "nosuchnode",
            "not known")
    refused(cluster, f"gnt-instance move -f -n nosuchnode {LOCAL}", "nosuchnode", "not known")


def test_unknown_instance(cluster: LabCluster) -> None:
    refused(cluster, "gnt-instance migrate -f -n node3 nosuchinst", "nosuchinst")


def test_target_node_and_iallocator_together(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f -n node3 -I builtin {SHARED}", "-n", "-I")
    refused(cluster, f"gnt-instance failover -f -n node3 -I builtin {SHARED}", "-n", "-I")


def test_unknown_iallocator(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f -I nosuchalloc {SHARED}", "nosuchalloc",
            "not found")


@pytest.mark.parametrize("flag,word", [("-O", "offline"), ("-D", "drained")])
def test_migrate_to_offline_or_drained_node(cluster: LabCluster, flag: str, word: str) -> None:
    cluster.gnt(f"gnt-node modify {flag} yes --auto-promote node3")
    try:
        refused(cluster, f"gnt-instance migrate -f -n node3 {SHARED}", "node3.lab.example",
                word)
        refused(cluster, f"gnt-instance failover -f -n node3 {SHARED}", "node3.lab.example",
                word)
        refused(cluster, f"gnt-instance move -f -n node3 {LOCAL}", "node3.lab.example", word)
    finally:
        cluster.gnt(f"gnt-node modify {flag} no node3")
    assert cluster.instance_node(SHARED) == "node2"


# --- gnt-node remove -------------------------------------------------------------------

def test_remove_node_with_instances(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node remove node2", "node2.lab.example", SHARED, LOCAL, "instances")


def test_remove_master(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node remove node1", "node1.lab.example", "master")


def test_remove_unknown_node(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node remove nosuchnode", "nosuchnode", "not known")
    refused(cluster, "gnt-node remove node4", "node4")   # resolves, but not in the cluster


# --- gnt-node add ----------------------------------------------------------------------

def test_add_existing_node(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node add node2", "node2.lab.example", "already", "--readd")


def test_add_unresolvable_name(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node add nosuch.lab.example", "nosuch.lab.example",
            "does not resolve")


def test_readd_unknown_node(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node add --readd node4", "node4.lab.example",
            "not in the configuration")
    refused(cluster, "gnt-node add --readd nosuchnode", "nosuchnode")


def test_add_secondary_ip_on_single_homed_cluster(cluster: LabCluster) -> None:
    address = cluster.lab.net.instance_address(20)
    refused(cluster, f"gnt-node add -s {address} node4", address, "single-homed")
    refused(cluster, "gnt-node add -s 300.1.2.3 node4", "300.1.2.3")
    assert "node4" not in cluster.ssconf("node1", "node_list")


# --- gnt-node modify -------------------------------------------------------------------

def test_modify_master_roles(cluster: LabCluster) -> None:
    for opt in ("-C no", "-O yes", "-D yes"):
        refused(cluster, f"gnt-node modify {opt} node1", "node1.lab.example", "master")


def test_modify_two_roles_at_once(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node modify -C yes -D yes node3", "master_candidate", "drained")
    refused(cluster, "gnt-node modify -C yes -O yes node3", "master_candidate", "offline")


def test_modify_unknown_node(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node modify -D yes nosuchnode", "nosuchnode", "not known")


def candidates(cluster: LabCluster) -> dict[str, bool]:
    cfg = cluster.config(cluster.master())
    return {n["name"].split(".")[0]: bool(n["master_candidate"]) for n in cfg["nodes"].values()}


def test_demote_below_pool_size_then_auto_promote(cluster: LabCluster) -> None:
    """Pool size 2 with node1+node3 candidates and node2 not: demoting node3 needs
    --auto-promote, which promotes node2."""
    cluster.gnt("gnt-cluster modify --candidate-pool-size 2")
    try:
        if candidates(cluster)["node2"]:
            cluster.gnt("gnt-node modify -C no node2")
        if not candidates(cluster)["node3"]:
            cluster.gnt("gnt-node modify -C yes node3")
        assert candidates(cluster) == {"node1": True, "node2": False, "node3": True}
        refused(cluster, "gnt-node modify -C no node3", "node3.lab.example", "pool size 2",
                "--auto-promote")
        refused(cluster, "gnt-node modify -D yes node3", "node3.lab.example", "pool size 2")
        cluster.gnt("gnt-node modify -C no --auto-promote node3")
        assert candidates(cluster) == {"node1": True, "node2": True, "node3": False}
        # the promoted node got the config, the demoted one lost it (ssconf stays everywhere)
        master_cfg = cluster.config_bytes("node1")
        assert cluster.config_bytes("node2") == master_cfg
        assert not (cluster.root_on_host("node3") / "var/lib/gnt/config.data").exists()
        assert cluster.ssconf("node3", "master_node").strip() == "node1.lab.example"
    finally:
        cluster.gnt("gnt-cluster modify --candidate-pool-size 10")


# --- master role -----------------------------------------------------------------------

def test_master_failover_on_non_candidate(cluster: LabCluster) -> None:
    cands = candidates(cluster)
    if cands["node3"]:
        cluster.gnt("gnt-node modify -C no --auto-promote node3")
    cands = candidates(cluster)
    assert not cands["node3"]
    valid = sorted(f"{n}.lab.example" for n, c in cands.items() if c)
    out = refused(cluster, "gnt-cluster master-failover", "node3.lab.example", *valid,
                  node="node3")
    assert "candidate" in out
    assert cluster.master() == "node1"


def test_master_failover_on_master(cluster: LabCluster) -> None:
    refused(cluster, "gnt-cluster master-failover", "node1.lab.example", "already the master")
    assert cluster.master() == "node1"


@pytest.mark.parametrize("command", [
    "gnt-instance list", "gnt-node list", "gnt-job list", "gnt-cluster verify",
    f"gnt-instance migrate -f -n node3 {SHARED}", "gnt-node add node4",
    "gnt-cluster modify --candidate-pool-size 3",
])
@pytest.mark.parametrize("node", ["node2", "node3"])
def test_command_on_non_master(cluster: LabCluster, node: str, command: str) -> None:
    refused(cluster, command, "This is not the master node", "the master is node1.lab.example",
            node=node)


@pytest.mark.parametrize("node", ["node1", "node2", "node3"])
def test_getmaster_on_every_node(cluster: LabCluster, node: str) -> None:
    out = cluster.gnt("gnt-cluster getmaster", node=node).stdout
    assert out.strip() == "node1.lab.example"


# --- more node commands ----------------------------------------------------------------

def test_readd_master(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node add --readd node1", "master")


def test_modify_without_changes(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node modify node3", "at least one")


def test_modify_secondary_ip_of_another_node(cluster: LabCluster) -> None:
    address = cluster.lab.node("node2").address
    refused(cluster, f"gnt-node modify -s {address} node3", address, "already used")


def test_node_migrate_evacuate_unknown_node(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node migrate -f nosuchnode", "nosuchnode")
    refused(cluster, "gnt-node evacuate -f nosuchnode", "nosuchnode")


def test_node_migrate_to_itself(cluster: LabCluster) -> None:
    refused(cluster, "gnt-node migrate -f -n node2 node2", "node2.lab.example")


def test_cleanup_of_local_disk_instance(cluster: LabCluster) -> None:
    refused(cluster, f"gnt-instance migrate -f --cleanup {LOCAL}", LOCAL, "'file'")


def test_master_failover_outside_the_cluster(cluster: LabCluster) -> None:
    refused(cluster, "gnt-cluster master-failover", "node4.lab.example",
            "cannot become the master", node="node4")


# --- messages on nodes that are not the master ------------------------------------------

def test_master_failover_on_non_candidate_says_why(cluster: LabCluster) -> None:
    if candidates(cluster)["node3"]:
        cluster.gnt("gnt-node modify -C no --auto-promote node3")
    out = refused(cluster, "gnt-cluster master-failover", node="node3")
    assert "not a master candidate" in out and "part of a cluster?" not in out, out


@pytest.mark.parametrize("command", ["gnt-cluster getmaster", "gnt-instance list"])
def test_command_outside_the_cluster(cluster: LabCluster, command: str) -> None:
    out = refused(cluster, command, node="node4")
    assert "gnt-masterd start" not in out and "cluster" in out, out
