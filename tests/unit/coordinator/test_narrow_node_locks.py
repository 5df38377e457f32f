"""Narrow node locks (issue 10): migrate/failover/move/evacuate lock only the nodes involved,
and an LU that needed all nodes to let the allocator choose gives the others back.

Real Master, LockManager and job queue; recording executor with a delay (multinode.py fakes
the hypervisors and SSH). What each job holds is read from the LockManager while its plays
run; overlap is read from the jobs' own exec/end timestamps."""

from __future__ import annotations

import time

import pytest
from multinode import MASTER, add_node, install

from gnt.core.jobstate import SUCCESS, ts_float

N2, N3, N4 = "node2.example.com", "node3.example.com", "node4.example.com"
A, B = "a.example.com", "b.example.com"


@pytest.fixture
def mn(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2 = hv
    for name, ip in ((N2, "198.18.0.12"), (N3, "198.18.0.13"), (N4, "198.18.0.14")):
        add_node(cluster, name, ip)
    # Record, at every play, the node locks of every job then holding locks.
    cluster.held_at_play = []
    inner = cluster.executor.run

    def spy(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        locks = cluster.master.locks
        snapshot = {jid: locks.held(jid).get("node", {}) for jid in range(1, 100)}
        cluster.held_at_play.append(({play.role for play in plays},
                                     {jid: held for jid, held in snapshot.items() if held}))
        return inner(plays, nodes, feedback)
    monkeypatch.setattr(cluster.executor, "run", spy)
    return cluster


def _ok(job):
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)
    return job.ops[0].result


def _uuid(cluster, node):
    return cluster.master.config.lookup("nodes", node)["uuid"]


def _create(cluster, name, pnode, start=True):
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template="sharedfile",
                    disks=[{"size": "1G"}], os_type="tinylinux", pnode=pnode, start=start,
                    beparams={"memory": "256M"}))


def _held_during(cluster, job_id, role):
    """The node locks job ``job_id`` held while a play of ``role`` ran."""
    return [held[job_id] for roles, held in cluster.held_at_play
            if role in roles and job_id in held]


def _interval(job):
    op = job.ops[0]
    return ts_float(op.exec_timestamp), ts_float(op.end_timestamp)


def test_migrations_between_disjoint_pairs_overlap(mn):
    _create(mn, A, MASTER)
    _create(mn, B, N3)
    mn.executor.delay = 0.5
    first = mn.submit("OP_INSTANCE_MIGRATE", instance_name=A, target_node=N2)
    second = mn.submit("OP_INSTANCE_MIGRATE", instance_name=B, target_node=N4)
    jobs = [mn.wait(first), mn.wait(second)]
    for job in jobs:
        _ok(job)
    (start1, end1), (start2, end2) = (_interval(job) for job in jobs)
    assert start1 < end2 and start2 < end1, "the two migrations ran one after the other"
    assert mn.hv2.where(A) == [N2] and mn.hv2.where(B) == [N4]
    held = _held_during(mn, first, "instance_migrate")
    assert held and all(h == {_uuid(mn, MASTER): "shared", _uuid(mn, N2): "shared"}
                        for h in held)


def test_migrations_sharing_a_target_do_not_overlap(mn):
    """The target's resources (node-res) are locked exclusively: same target, one at a time."""
    _create(mn, A, MASTER)
    _create(mn, B, N3)
    mn.executor.delay = 0.3
    first = mn.submit("OP_INSTANCE_MIGRATE", instance_name=A, target_node=N2)
    second = mn.submit("OP_INSTANCE_MIGRATE", instance_name=B, target_node=N2)
    jobs = [mn.wait(first), mn.wait(second)]
    for job in jobs:
        _ok(job)
    (start1, end1), (start2, end2) = sorted(_interval(job) for job in jobs)
    assert end1 <= start2


def test_migrate_with_allocator_keeps_only_primary_and_target(mn):
    _create(mn, A, N2)
    mn.hv2.mfree.update({MASTER: 300, N4: 300, N3: 16000})
    job_id = mn.submit("OP_INSTANCE_MIGRATE", instance_name=A)
    assert _ok(mn.wait(job_id))["node"] == N3
    assert _held_during(mn, job_id, "instance_migrate") == [
        {_uuid(mn, N2): "shared", _uuid(mn, N3): "shared"}]


@pytest.mark.parametrize("op_id", ["OP_INSTANCE_FAILOVER", "OP_INSTANCE_MOVE"])
def test_failover_and_move_lock_primary_and_target_only(mn, op_id):
    _create(mn, A, N2, start=False)
    if op_id == "OP_INSTANCE_MOVE":
        mn.master.config.modify("instances", mn.master.config.lookup("instances", A)["uuid"],
                                lambda obj: obj.update(disk_template="diskless", disks=[]))
    job_id = mn.submit(op_id, instance_name=A, target_node=N3)
    _ok(mn.wait(job_id))
    held = [h for _roles, snap in mn.held_at_play for jid, h in snap.items() if jid == job_id]
    assert held and all(h == {_uuid(mn, N2): "shared", _uuid(mn, N3): "shared"} for h in held)


def test_create_with_allocator_keeps_only_the_chosen_node(mn):
    mn.hv2.mfree.update({MASTER: 300, N2: 300, N4: 300, N3: 16000})
    job_id = mn.submit("OP_INSTANCE_CREATE", instance_name=A, disk_template="sharedfile",
                       disks=[{"size": "1G"}], os_type="tinylinux", iallocator="builtin",
                       start=False, beparams={"memory": "1G"})
    _ok(mn.wait(job_id))
    assert _held_during(mn, job_id, "instance_create") == [{_uuid(mn, N3): "exclusive"}]


def test_evacuate_with_allocator_keeps_node_and_targets(mn):
    _create(mn, A, N2)
    mn.hv2.mfree.update({MASTER: 200, N4: 200, N3: 16000})
    (child,) = mn.children(mn.wait(mn.submit("OP_NODE_EVACUATE", node_name=N2)))
    assert _ok(child) is not None and child.ops[0].input["instance_name"] == A
    held = _held_during(mn, child.id, "instance_migrate")
    assert held == [{_uuid(mn, N2): "shared", _uuid(mn, N3): "shared"}]


def test_evacuate_to_a_node_locks_node_and_target(mn):
    _create(mn, A, N2)
    job_id = mn.submit("OP_NODE_EVACUATE", node_name=N2, remote_node=N4)
    (child,) = mn.children(mn.wait(job_id))
    assert _held_during(mn, child.id, "instance_migrate") == [
        {_uuid(mn, N2): "shared", _uuid(mn, N4): "shared"}]


def test_node_migrate_with_allocator_plans_then_keeps_node_and_targets(mn):
    _create(mn, A, N2)
    _create(mn, B, N2)
    mn.hv2.mfree.update({MASTER: 200, N4: 200, N3: 16000})
    children = mn.children(mn.wait(mn.submit("OP_NODE_MIGRATE", node_name=N2)))
    assert sorted(job.ops[0].input["instance_name"] for job in children) == [A, B]
    assert mn.hv2.where(A) == [N3] and mn.hv2.where(B) == [N3]
    held = [h for job in children for h in _held_during(mn, job.id, "instance_migrate")]
    # each instance's own job locks the node and the planned target, nothing more
    assert {job.id for job in children} <= {job_id for _roles, h in mn.held_at_play
                                            for job_id in h}
    assert held and all(h == {_uuid(mn, N2): "shared", _uuid(mn, N3): "shared"} for h in held)


def test_shutdown_queued_behind_a_migration_follows_the_instance(mn):
    """The shutdown locked the old primary; after the migration its node locks follow the
    instance to the new primary and it stops the domain there."""
    _create(mn, A, N2)
    mn.executor.delay = 0.3
    migrate = mn.submit("OP_INSTANCE_MIGRATE", instance_name=A, target_node=N3)
    deadline = time.monotonic() + 5
    while mn.master.queue.get(migrate).status != "running" and time.monotonic() < deadline:
        time.sleep(0.005)
    shutdown = mn.submit("OP_INSTANCE_SHUTDOWN", instance_name=A)
    _ok(mn.wait(migrate))
    _ok(mn.wait(shutdown))
    stops = [(play.role, host) for plays in mn.executor.calls for play in plays
             if play.role == "instance_stop" for host in play.hosts]
    assert stops == [("instance_stop", N3)]
    assert mn.hv2.nodes[N3][A]["state"] == "shutoff"
    assert _held_during(mn, shutdown, "instance_stop") == [{_uuid(mn, N3): "shared"}]
