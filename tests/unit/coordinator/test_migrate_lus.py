"""Migrate, failover and move of instances, gnt-node migrate/evacuate: real LUs and Master,
recording executor; the nodes' hypervisors (which domain runs where, free memory) and SSH are
faked at the network edge (multinode.py)."""

from __future__ import annotations

import pytest
from multinode import MASTER, add_node, install

from gnt.core.jobstate import ERROR, SUCCESS

N2, N3, N4 = "node2.example.com", "node3.example.com", "node4.example.com"
SHARED, FILE = "shared1.example.com", "file1.example.com"


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    result = job.ops[0].result
    return result["args"][0], result["args"][1] if len(result["args"]) > 1 else None


def _ok(job):
    assert job.status == SUCCESS, job.ops[0].result
    return job.ops[0].result


def _moved(job, op_id=None):
    """The instance a per-instance job of node migrate/evacuate moved (it must have)."""
    assert job.status == SUCCESS, job.ops[0].result
    assert op_id is None or job.ops[0].op_id == op_id
    return job.ops[0].input["instance_name"]


@pytest.fixture
def mn(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2, cluster.ssh = hv, fake_ssh
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    add_node(cluster, N3, "198.18.0.13")
    return cluster


def _create(cluster, name=SHARED, template="sharedfile", pnode=N2, start=True, **be):
    disks = [] if template == "diskless" else [{"size": "1G"}]
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template=template,
                    disks=disks, os_type="tinylinux", pnode=pnode, start=start,
                    beparams=be or {"memory": "256M"}))
    return cluster.master.config.lookup("instances", name)


def _primary(cluster, name):
    store = cluster.master.config
    return store.get("nodes", store.lookup("instances", name)["primary_node"])["name"]


def _plays(cluster, since=0):
    """(role, host) of every play run since call ``since``."""
    return [(play.role, host) for plays in cluster.executor.calls[since:] for play in plays
            for host in play.hosts]


# --- migrate ------------------------------------------------------------------------------

def test_migrate_moves_instance_and_config(mn):
    _create(mn)
    assert mn.hv2.where(SHARED) == [N2]
    since = len(mn.executor.calls)
    result = _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    assert result["node"] == N3
    assert _primary(mn, SHARED) == N3 and mn.hv2.where(SHARED) == [N3]
    assert _plays(mn, since) == [("instance_migrate", N2)]
    migration = mn.executor.calls[-1][0].hosts[N2]["gnt_migration"]
    assert migration == {"target_uri": "qemu+ssh://root@198.18.0.13/system", "live": True,
                         "unsafe": True}


def test_migrate_non_live_mode(mn):
    _create(mn)
    _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3, mode="non-live"))
    assert mn.executor.calls[-1][0].hosts[N2]["gnt_migration"]["live"] is False


def test_migrate_live_false_means_non_live(mn):
    _create(mn)
    _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3, live=False))
    assert mn.executor.calls[-1][0].hosts[N2]["gnt_migration"]["live"] is False


def test_migrate_file_instance_refused_mentions_move(mn):
    _create(mn, FILE, "file")
    before = mn.config_bytes()
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=FILE, target_node=N3))
    assert FILE in msg and "'file'" in msg and "gnt-instance move" in msg
    assert code == "wrong_state"
    assert mn.config_bytes() == before


def test_migrate_to_own_primary_refused(mn):
    _create(mn)
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N2))
    assert "already lives on node" in msg and N2 in msg and code == "wrong_input"


@pytest.mark.parametrize("role,word", [({"offline": True}, "offline"),
                                       ({"drained": True}, "drained"),
                                       ({"vm_capable": False}, "vm-capable")])
def test_migrate_to_unusable_target_refused(mn, role, word):
    _create(mn)
    add_node(mn, N4, "198.18.0.14", **role)
    before = mn.config_bytes()
    msg, _code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N4))
    assert N4 in msg and word in msg
    assert mn.config_bytes() == before and mn.hv2.where(SHARED) == [N2]


def test_target_node_and_iallocator_together_refused(mn):
    _create(mn)
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3,
                              iallocator="builtin"))
    assert "-n" in msg and "-I" in msg and code == "wrong_input"
    msg, _code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3,
                               iallocator="builtin"))
    assert "-I" in msg


def test_migrate_without_target_uses_builtin_allocator(mn):
    _create(mn)
    mn.hv2.mfree.update({MASTER: 300, N3: 16000})
    result = _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED))
    assert result["node"] in (MASTER, N3) and result["node"] != N2
    assert _primary(mn, SHARED) == result["node"]


def test_migrate_stopped_instance_refused_unless_allow_failover(mn):
    _create(mn, start=False)
    before = mn.config_bytes()
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    assert "not running" in msg and "--allow-failover" in msg and code == "wrong_state"
    assert mn.config_bytes() == before
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3,
               allow_failover=True))
    assert _primary(mn, SHARED) == N3
    roles = [role for role, _host in _plays(mn, since)]
    assert "instance_migrate" not in roles and roles[-1] == "instance_define"


def test_migrate_reduces_memory_when_target_short(mn):
    _create(mn, maxmem="512M", minmem="128M")
    assert mn.hv2.nodes[N2][SHARED]["memory_mib"] == 512
    mn.hv2.mfree[N3] = 300
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    plays = _plays(mn, since)
    assert plays == [("instance_runtime_memory", N2), ("instance_migrate", N2)]
    assert mn.executor.calls[since][0].hosts[N2]["gnt_memory_mib"] == 300
    assert mn.hv2.nodes[N3][SHARED]["memory_mib"] == 300


def test_migrate_without_runtime_changes_is_nores(mn):
    _create(mn, maxmem="512M", minmem="128M")
    mn.hv2.mfree[N3] = 300
    before = mn.config_bytes()
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3,
                              allow_runtime_changes=False))
    assert code == "insufficient_resources"
    assert "Not enough memory" in msg and N3 in msg and "512" in msg and "300" in msg
    assert mn.config_bytes() == before and mn.hv2.where(SHARED) == [N2]


def test_migrate_below_minmem_is_nores(mn):
    _create(mn, maxmem="512M", minmem="256M")
    mn.hv2.mfree[N3] = 200
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    assert code == "insufficient_resources" and "minmem 256" in msg


def test_failed_migration_config_follows_the_domain(mn):
    _create(mn)
    mn.executor.fail_roles["instance_migrate"] = "migration aborted by libvirt"
    mn.hv2.failed_migration_lands_on = N3   # it did arrive, the play still failed
    msg, _code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    assert "now on node3.example.com" in msg
    assert _primary(mn, SHARED) == N3


def test_failed_migration_domain_stays_config_unchanged(mn):
    _create(mn)
    mn.executor.fail_roles["instance_migrate"] = "migration aborted by libvirt"
    msg, _code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, target_node=N3))
    assert f"still on {N2}" in msg and "config is unchanged" in msg
    assert _primary(mn, SHARED) == N2 and mn.hv2.where(SHARED) == [N2]


def test_migrate_cleanup_records_where_it_runs(mn):
    _create(mn)
    # an interrupted migration: it runs on node3, a stale definition is left on node2
    dom = mn.hv2.nodes[N2].pop(SHARED)
    mn.hv2.nodes.setdefault(N3, {})[SHARED] = dom
    mn.hv2.put(N2, SHARED, state="shutoff")
    result = _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, cleanup=True))
    assert result == {"node": N3}
    assert _primary(mn, SHARED) == N3
    assert ("instance_undefine", N2) in _plays(mn)
    assert mn.hv2.where(SHARED) == [N3]


def test_migrate_cleanup_running_twice_refused(mn):
    _create(mn)
    mn.hv2.put(N3, SHARED)
    job = mn.run("OP_INSTANCE_MIGRATE", instance_name=SHARED, cleanup=True)
    msg, _code = _error(job)
    assert "several nodes" in msg and N2 in msg and N3 in msg


# --- failover -----------------------------------------------------------------------------

def test_failover_running_instance(mn):
    _create(mn)
    since = len(mn.executor.calls)
    assert _ok(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3)) == \
        {"node": N3}
    assert _plays(mn, since) == [("instance_stop", N2), ("instance_start", N3)]
    # one Ansible run (was three) of a task each (the stop undefines the domain too:
    # gnt_undefine); the primary changes at a checkpoint between them
    assert [len(plays) for plays in mn.executor.calls[since:]] == [2]
    stop_play, start_play = mn.executor.calls[since]
    stop = stop_play.hosts[N2]
    assert stop["gnt_undefine"] is True and stop["gnt_shutdown_timeout"] == 120
    assert stop_play.then is not None and start_play.then is None
    assert _primary(mn, SHARED) == N3 and mn.hv2.where(SHARED) == [N3]


def test_failover_records_the_new_primary_between_the_stop_and_the_start(mn):
    _create(mn)
    seen = []
    real_run = mn.executor.run

    def run(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        for play in plays:   # the primary each checkpoint step finds, and leaves
            if play.then is not None:
                step = play.then

                def recorded(step=step) -> None:
                    seen.append(_primary(mn, SHARED))
                    step()
                    seen.append(_primary(mn, SHARED))
                play.then = recorded
        return real_run(plays, nodes, feedback)

    mn.executor.run = run
    _ok(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3))
    assert seen == [N2, N3]


def test_failover_start_failure_says_the_primary_moved(mn):
    _create(mn)
    mn.executor.fail_roles["instance_start"] = "no memory"
    since = len(mn.executor.calls)
    msg, _code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3))
    assert "no memory" in msg and f"primary is now {N3}" in msg
    assert f"gnt-instance startup {SHARED}" in msg
    assert len(mn.executor.calls) == since + 1 and _primary(mn, SHARED) == N3


def test_failover_whose_config_write_fails_stops_before_the_start(mn, monkeypatch):
    _create(mn)
    store = mn.master.config
    since = len(mn.executor.calls)

    def refuse(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "replace_many", refuse)
    job = mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3)
    monkeypatch.undo()
    assert job.status != SUCCESS and "No space left" in str(job.ops[0].result)
    # the run stopped at the checkpoint (the recording executor raised there, before the
    # start); the config still names the old primary
    assert len(mn.executor.calls) == since + 1 and _primary(mn, SHARED) == N2


def test_failover_stop_failure_changes_nothing(mn):
    _create(mn)
    mn.executor.fail_roles["instance_stop"] = "shutdown timed out"
    before, since = mn.config_bytes(), len(mn.executor.calls)
    msg, _code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3))
    assert "shutdown timed out" in msg
    # one run, stopped at its first play: the start never ran, the primary never changed
    assert _plays(mn, since) == [("instance_stop", N2), ("instance_start", N3)]
    assert len(mn.executor.calls) == since + 1 and mn.config_bytes() == before
    assert mn.hv2.where(SHARED) == [N2]


def test_move_start_failure_keeps_the_old_copy(mn):
    _create(mn, FILE, "file")
    mn.executor.fail_roles["instance_start"] = "no memory"
    msg, _code = _error(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    assert "old copy" in msg and "is kept" in msg and _primary(mn, FILE) == N3


def test_failover_unreachable_primary_needs_ignore_consistency(mn):
    _create(mn)
    mn.hv2.down.add(N2)
    before = mn.config_bytes()
    msg, code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3))
    assert N2 in msg and "--ignore-consistency" in msg and code == "environment_error"
    assert mn.config_bytes() == before
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3,
               ignore_consistency=True))
    assert _plays(mn, since) == [("instance_start", N3)]   # the dead node is not contacted
    assert _primary(mn, SHARED) == N3


def test_failover_target_without_memory_refused(mn):
    _create(mn, maxmem="512M", minmem="256M")
    mn.hv2.mfree[N3] = 100
    msg, code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=SHARED, target_node=N3))
    assert code == "insufficient_resources" and N3 in msg


def test_failover_file_instance_refused(mn):
    _create(mn, FILE, "file")
    msg, _code = _error(mn.run("OP_INSTANCE_FAILOVER", instance_name=FILE, target_node=N3))
    assert "gnt-instance move" in msg


# --- move ---------------------------------------------------------------------------------

def test_move_copies_then_switches_then_removes_source(mn):
    _create(mn, FILE, "file")
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    assert _plays(mn, since) == [("instance_stop", N2), ("instance_disk_copy", N2),
                                 ("instance_start", N3), ("instance_remove", N2)]
    # one Ansible run (was four): stop + copy on the old node, the new primary recorded at a
    # checkpoint after the copy, then start + clean up
    assert [len(plays) for plays in mn.executor.calls[since:]] == [4]
    assert [play.then is not None for play in mn.executor.calls[since]] == [
        False, True, False, False]
    copy = mn.executor.calls[since][1].hosts[N2]["gnt_copy"]
    assert copy["target_address"] == "198.18.0.13" and copy["target_port"] == 22
    assert copy["disks"][0]["src"] == copy["disks"][0]["dst"]
    assert copy["disks"][0]["src"].endswith(f"{FILE}/disk0")
    assert _primary(mn, FILE) == N3
    assert mn.hv2.where(FILE) == [N3]


def test_move_stopped_instance_defines_on_target(mn):
    _create(mn, FILE, "file", start=False)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    assert _plays(mn, since) == [("instance_disk_copy", N2), ("instance_define", N3),
                                 ("instance_remove", N2)]


def test_move_copy_failure_keeps_instance_on_source(mn):
    _create(mn, FILE, "file")
    mn.executor.fail_roles["instance_disk_copy"] = "rsync: connection refused"
    since = len(mn.executor.calls)
    msg, _code = _error(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    assert "stays on" in msg and N2 in msg
    assert _primary(mn, FILE) == N2
    # the run stopped at the copy (its start and removal never ran); the instance is
    # started again where it was, in a run of its own
    assert len(mn.executor.calls) == since + 2
    assert [(play.role, *play.hosts) for play in mn.executor.calls[-1]] == [
        ("instance_start", N2)]
    assert mn.hv2.where(FILE) == [N2]


def test_move_shared_instance_refused(mn):
    _create(mn)
    msg, _code = _error(mn.run("OP_INSTANCE_MOVE", instance_name=SHARED, target_node=N3))
    assert "'sharedfile'" in msg and "failover" in msg


def test_move_to_offline_or_same_node_refused(mn):
    _create(mn, FILE, "file")
    add_node(mn, N4, "198.18.0.14", offline=True)
    assert "offline" in _error(mn.run("OP_INSTANCE_MOVE", instance_name=FILE,
                                      target_node=N4))[0]
    assert "already lives" in _error(mn.run("OP_INSTANCE_MOVE", instance_name=FILE,
                                            target_node=N2))[0]


def test_move_not_enough_disk_space_refused(mn):
    _create(mn, FILE, "file")
    mn.hv2.dfree[N3] = 100
    msg, code = _error(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    assert code == "insufficient_resources" and "1024" in msg and N3 in msg


def test_move_updates_disk_nodes(mn):
    _create(mn, FILE, "file")
    _ok(mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3))
    store = mn.master.config
    inst = store.lookup("instances", FILE)
    assert [d["nodes"] for d in store.instance_disks(inst)] == [[inst["primary_node"]]]


# --- gnt-node migrate / evacuate ----------------------------------------------------------

def test_node_migrate_moves_running_shared_instances(mn):
    _create(mn)
    _create(mn, "stopped.example.com", start=False)
    children = mn.children(mn.run("OP_NODE_MIGRATE", node_name=N2, target_node=N3))
    assert [_moved(job, "OP_INSTANCE_MIGRATE") for job in children] == [SHARED]
    assert _primary(mn, SHARED) == N3 and _primary(mn, "stopped.example.com") == N2


def test_node_migrate_refuses_running_file_instances(mn):
    _create(mn)
    _create(mn, FILE, "file")
    msg, _code = _error(mn.run("OP_NODE_MIGRATE", node_name=N2, target_node=N3))
    assert FILE in msg and "gnt-instance move" in msg
    assert _primary(mn, SHARED) == N2


def test_node_evacuate_picks_migrate_failover_move(mn):
    _create(mn)
    _create(mn, "stopped.example.com", start=False)
    _create(mn, FILE, "file")
    children = mn.children(mn.run("OP_NODE_EVACUATE", node_name=N2, remote_node=N3))
    assert sorted((job.ops[0].op_id, _moved(job)) for job in children) == [
        ("OP_INSTANCE_FAILOVER", "stopped.example.com"), ("OP_INSTANCE_MIGRATE", SHARED),
        ("OP_INSTANCE_MOVE", FILE)]
    for name in (SHARED, "stopped.example.com", FILE):
        assert _primary(mn, name) == N3
    roles = mn.executor.roles()
    assert "instance_migrate" in roles and "instance_disk_copy" in roles
    assert mn.master.config.node_instances(mn.master.config.lookup("nodes", N2)["uuid"]) == []


def test_node_evacuate_bad_targets_refused(mn):
    _create(mn)
    msg, _code = _error(mn.run("OP_NODE_EVACUATE", node_name=N2, remote_node=N2))
    assert "being emptied" in msg
    msg, _code = _error(mn.run("OP_NODE_EVACUATE", node_name=N2, remote_node=N3,
                               iallocator="builtin"))
    assert "-I" in msg


def test_node_evacuate_reports_each_failure(mn):
    _create(mn)
    _create(mn, FILE, "file")
    mn.executor.fail_roles["instance_disk_copy"] = "copy failed"
    parent = _ok(mn.run("OP_NODE_EVACUATE", node_name=N2, remote_node=N3))
    jobs = [mn.wait(job_id) for _ok_, job_id in parent["jobs"]]
    failed = [job for job in jobs if job.status == ERROR]
    assert [job.ops[0].input["instance_name"] for job in failed] == [FILE]
    assert "copy failed" in failed[0].ops[0].result["args"][0]
    assert _primary(mn, SHARED) == N3 and _primary(mn, FILE) == N2


def test_node_evacuate_secondary_only_has_nothing_to_do(mn):
    _create(mn)
    assert _ok(mn.run("OP_NODE_EVACUATE", node_name=N2, mode="secondary-only")) == {"jobs": []}
    assert _primary(mn, SHARED) == N2


def test_move_running_instance_target_without_memory_refused(mn):
    _create(mn, FILE, "file", maxmem="512M", minmem="256M")
    mn.hv2.mfree[N3] = 100
    before = mn.config_bytes()
    job = mn.run("OP_INSTANCE_MOVE", instance_name=FILE, target_node=N3)
    assert job.status == ERROR
    assert job.ops[0].result["args"][1] == "insufficient_resources"
    assert mn.config_bytes() == before


def test_node_evacuate_with_builtin_allocator(mn):
    _create(mn)
    _create(mn, FILE, "file")
    mn.hv2.mfree.update({MASTER: 200, N3: 16000})
    children = mn.children(mn.run("OP_NODE_EVACUATE", node_name=N2))
    assert sorted(_moved(job) for job in children) == [FILE, SHARED]
    assert {_primary(mn, SHARED), _primary(mn, FILE)} <= {MASTER, N3}


def test_node_migrate_target_is_the_node_refused(mn):
    _create(mn)
    msg, _code = _error(mn.run("OP_NODE_MIGRATE", node_name=N2, target_node=N2))
    assert "being emptied" in msg
