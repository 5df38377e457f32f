"""Opportunistic locking (Ganeti's ``opportunistic_locking`` of instance creation): the lock
manager takes the free names only, the allocator chooses among the nodes locked that way, and a
shortage there is retried with every node locked (Ganeti's ECODE_TEMP_NORES retry)."""

from __future__ import annotations

import threading
import time

import pytest
from multinode import MASTER, add_node, install

from gnt.core.errors import LockError
from gnt.core.jobstate import SUCCESS
from gnt.core.locklevels import ALL
from gnt.jobs.locking import LockManager

N2, N3 = "node2.example.com", "node3.example.com"


# --- the lock manager ----------------------------------------------------------------------

def test_takes_only_the_free_names():
    locks = LockManager()
    locks.acquire("other", "node", ["a", "c"], shared=False)
    assert locks.acquire_opportunistic("job", "node", ["a", "b", "c", "d"], shared=False) == [
        "b", "d"]
    assert set(locks.held("job")["node"]) == {"b", "d"}
    locks.release("other")
    # a and c were not taken: another job gets them without waiting for "job"
    locks.acquire("third", "node", ["a", "c"], shared=False)


def test_waits_until_the_minimum_is_free():
    locks = LockManager()
    locks.acquire("other", "node", ["a", "b"], shared=False)
    got: list[list[str]] = []
    worker = threading.Thread(target=lambda: got.append(
        locks.acquire_opportunistic("job", "node", ["a", "b"], shared=False)))
    worker.start()
    time.sleep(0.2)
    assert not got  # nothing free yet: it waits, it does not come back empty
    locks.release_names("other", "node", ["b"])
    worker.join(5)
    assert got == [["b"]]


def test_a_holder_of_the_whole_level_blocks_and_cancel_ends_the_wait():
    locks = LockManager()
    locks.acquire("verify", "node", ALL, shared=False)
    with pytest.raises(LockError, match="canceled"):
        locks.acquire_opportunistic("job", "node", ["a", "b"], shared=False,
                                    should_cancel=lambda: True)
    assert locks.held("job") == {}
    locks.release("verify")
    assert locks.acquire_opportunistic("job", "node", ["a", "b"], shared=False) == ["a", "b"]


def test_lock_order_is_enforced():
    locks = LockManager()
    locks.acquire("job", "node-res", ["a"], shared=False)
    with pytest.raises(LockError, match="Lock order violation"):
        locks.acquire_opportunistic("job", "node", ["a"], shared=False)


# --- instance creation -----------------------------------------------------------------------

@pytest.fixture
def mn(cluster, monkeypatch):
    hv, _ssh = install(cluster, monkeypatch)
    cluster.hv2 = hv
    for name, ip in ((N2, "198.18.0.12"), (N3, "198.18.0.13")):
        add_node(cluster, name, ip)
    return cluster


def _uuid(cluster, node):
    return cluster.master.config.lookup("nodes", node)["uuid"]


def _create(cluster, name, **extra):
    return cluster.submit("OP_INSTANCE_CREATE", instance_name=name, disk_template="sharedfile",
                          disks=[{"size": "1G"}], os_type="tinylinux", iallocator="builtin",
                          start=False, beparams={"memory": "1G"}, **extra)


def _primary(cluster, name):
    inst = cluster.master.config.lookup("instances", name)
    return cluster.master.config.get("nodes", inst["primary_node"])["name"]


def test_creation_uses_a_free_node_instead_of_waiting_for_the_best(mn):
    mn.hv2.mfree.update({MASTER: 300, N2: 16000, N3: 4000})  # N2 would be the best
    mn.master.locks.acquire("busy", "node", [_uuid(mn, N2)], shared=False)
    try:
        job = mn.wait(_create(mn, "a.example.com", opportunistic_locking=True))
    finally:
        mn.master.locks.release("busy")
    assert job.status == SUCCESS, job.ops[0].log
    assert _primary(mn, "a.example.com") == N3


def test_without_it_creation_waits_for_every_node(mn):
    mn.hv2.mfree.update({MASTER: 300, N2: 16000, N3: 4000})
    mn.master.locks.acquire("busy", "node", [_uuid(mn, N2)], shared=False)
    job_id = _create(mn, "a.example.com")
    time.sleep(0.5)
    assert mn.master.queue.get(job_id).status == "waiting"
    mn.master.locks.release("busy")
    assert mn.wait(job_id).status == SUCCESS
    assert _primary(mn, "a.example.com") == N2


def test_too_little_room_on_the_free_nodes_is_retried_with_every_node(mn):
    mn.hv2.mfree.update({MASTER: 300, N2: 16000, N3: 300})  # only N2 fits 1 GiB
    mn.master.locks.acquire("busy", "node", [_uuid(mn, N2)], shared=False)
    job_id = _create(mn, "a.example.com", opportunistic_locking=True)
    deadline = time.monotonic() + 10
    while not any("trying again with the locks of every node" in str(line)
                  for line in mn.master.queue.get(job_id).ops[0].log):
        assert time.monotonic() < deadline, mn.master.queue.get(job_id).ops[0].log
        time.sleep(0.05)
    assert mn.master.queue.get(job_id).status == "waiting"  # now for N2's lock
    mn.master.locks.release("busy")
    job = mn.wait(job_id)
    assert job.status == SUCCESS, job.ops[0].log
    assert _primary(mn, "a.example.com") == N2
    log = " ".join(str(line) for line in job.ops[0].log)
    assert "Can't compute nodes using iallocator" in log


def test_explicit_node_ignores_it(mn):
    job = mn.wait(mn.submit("OP_INSTANCE_CREATE", instance_name="b.example.com",
                            disk_template="sharedfile", disks=[{"size": "1G"}],
                            os_type="tinylinux", pnode=N3, start=False,
                            opportunistic_locking=True))
    assert job.status == SUCCESS and _primary(mn, "b.example.com") == N3
