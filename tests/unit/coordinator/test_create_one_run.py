"""Instance add in one Ansible run: disks + OS install + start are one run's plays, and the play
that failed decides what is undone (issue 11)."""

from __future__ import annotations

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes.executor import _EventCollector, play_group, play_index

NAME = "inst1.example.com"
NODE = "node1.example.com"


def _create(cluster, **kw):
    params = {"instance_name": NAME, "disk_template": "file", "disks": [{"size": "1G"}],
              "os_type": "tinylinux", "pnode": "node1", "beparams": {"memory": "256M"}}
    params.update(kw)
    return cluster.run("OP_INSTANCE_CREATE", **params)


def _runs(cluster, since):
    return [[play.role for play in plays] for plays in cluster.executor.calls[since:]]


def test_add_and_start_is_one_run(cluster):
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == SUCCESS, job.ops[0].result
    assert _runs(cluster, since) == [["instance_create", "instance_start"]]
    assert cluster.master.config.lookup("instances", NAME)["admin_state"] == "up"


def test_failed_start_keeps_the_created_instance(cluster):
    cluster.executor.fail_roles["instance_start"] = "domain did not start"
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == ERROR
    msg = job.ops[0].result["args"][0]
    assert "created but did not start" in msg and f"gnt-instance startup {NAME}" in msg
    assert "domain did not start" in msg
    assert _runs(cluster, since) == [["instance_create", "instance_start"]]   # no cleanup run
    assert cluster.master.config.lookup("instances", NAME)["admin_state"] == "down"


def test_failed_install_removes_the_instance(cluster):
    cluster.executor.fail_roles["instance_create"] = "OS create script failed"
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == ERROR and "OS create script failed" in job.ops[0].result["args"][0]
    assert _runs(cluster, since) == [["instance_create", "instance_start"], ["instance_remove"]]
    assert cluster.master.config.find("instances", NAME) is None


def test_diskless_without_start_runs_nothing(cluster):
    since = len(cluster.executor.calls)
    job = _create(cluster, disk_template="diskless", disks=[], start=False)
    assert job.status == SUCCESS and _runs(cluster, since) == []


def test_events_say_which_play_failed():
    lines: list[str] = []
    collector = _EventCollector(lines.append)
    ok = {"event": "runner_on_ok", "event_data": {"host": NODE, "task": "create",
                                                    "play_pattern": play_group(0), "res": {}}}
    failed = {"event": "runner_on_failed",
              "event_data": {"host": NODE, "task": "start", "play_pattern": play_group(1),
                             "res": {"msg": "boom"}}}
    collector(ok)
    collector(failed)
    result = collector.hosts[NODE]
    assert (result.ok, result.failed_play, result.message) == (False, 1, "boom")
    assert play_index("all") is None and play_index(play_group(12)) == 12
