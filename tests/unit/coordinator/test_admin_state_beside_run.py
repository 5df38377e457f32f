"""startup, shutdown and reboot record the instance's admin state while their Ansible run goes
on (the config write and its replication beside the run, as Ganeti marks the instance
first); a failed run puts the previous state back; a failed config write fails the job."""

from __future__ import annotations

import threading
import time
from typing import Any

from gnt.core.jobstate import ERROR, SUCCESS

NAME = "inst1.example.com"


def _create(cluster: Any, start: bool = True) -> None:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="file",
                      disks=[{"size": "1G"}], os_type="tinylinux", pnode="node1",
                      beparams={"memory": "256M"}, start=start)
    assert job.status == SUCCESS, job.ops[0].log


def _admin_state(cluster: Any) -> str:
    return str(cluster.master.config.lookup("instances", NAME)["admin_state"])


def _record_writes(cluster: Any) -> list[tuple[float, str]]:
    """(time, admin state) of every config write from now on."""
    store, writes = cluster.master.config, []
    previous = store.on_commit

    def on_commit(data: dict[str, Any], blob: bytes, **kw: Any) -> Any:
        inst = next(i for i in data["instances"].values() if i["name"] == NAME)
        writes.append((time.monotonic(), inst["admin_state"]))
        return previous(data, blob, **kw) if previous else None

    store.on_commit = on_commit
    return writes


def _timed_run(cluster: Any, delay: float) -> list[tuple[float, float]]:
    """Make each Ansible run take ``delay`` seconds; returns their (start, end) times."""
    runs: list[tuple[float, float]] = []
    executor, real = cluster.executor, cluster.executor.run
    lock = threading.Lock()

    def run(plays: Any, nodes: Any, feedback: Any) -> Any:
        start = time.monotonic()
        time.sleep(delay)
        try:
            return real(plays, nodes, feedback)
        finally:
            with lock:
                runs.append((start, time.monotonic()))

    executor.run = run
    return runs


def test_startup_and_shutdown_write_the_state_during_the_run(cluster: Any) -> None:
    _create(cluster, start=False)
    for op, state, extra in (("OP_INSTANCE_STARTUP", "up", {}),
                             ("OP_INSTANCE_SHUTDOWN", "down", {"timeout": 0}),
                             ("OP_INSTANCE_REBOOT", "up", {"reboot_type": "hard"})):
        writes, runs = _record_writes(cluster), _timed_run(cluster, 0.4)
        job = cluster.run(op, instance_name=NAME, **extra)
        assert job.status == SUCCESS, job.ops[0].log
        assert _admin_state(cluster) == state
        assert [w[1] for w in writes] == [state], op          # one write
        (_start, end), = runs
        assert writes[0][0] < end, op       # made beside the run, not after it (the old way)
        del cluster.executor.run


def test_a_failed_start_puts_the_previous_state_back(cluster: Any) -> None:
    _create(cluster, start=False)
    serial = cluster.master.config.serial_no
    writes = _record_writes(cluster)
    cluster.executor.fail_roles["instance_start"] = "domain did not start"
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME)
    assert job.status == ERROR
    assert "domain did not start" in job.ops[0].result["args"][0]
    assert _admin_state(cluster) == "down"
    assert [w[1] for w in writes] == ["up", "down"]
    assert cluster.master.config.serial_no == serial + 2


def test_a_failed_stop_keeps_the_instance_up(cluster: Any) -> None:
    _create(cluster)
    cluster.executor.fail_roles["instance_stop"] = "cannot force off"
    job = cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME, timeout=0)
    assert job.status == ERROR and "cannot force off" in job.ops[0].result["args"][0]
    assert _admin_state(cluster) == "up"


def test_a_failed_config_write_fails_the_job(cluster: Any) -> None:
    _create(cluster, start=False)
    store = cluster.master.config

    def refuse(data: dict[str, Any], blob: bytes, **kw: Any) -> None:
        raise OSError("disk full")

    store.on_commit = refuse
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME)
    assert job.status == ERROR
    assert "disk full" in job.ops[0].result["args"][0]


def test_the_run_does_not_wait_for_the_write_s_replication(cluster: Any) -> None:
    """The write holds the config's lock until its replication is done (slow here): the run
    starts while it is still going on, since the run's nodes were read before the write."""
    _create(cluster, start=False)
    store, previous = cluster.master.config, cluster.master.config.on_commit
    committed: list[float] = []

    def slow_replication(data: dict[str, Any], blob: bytes, **kw: Any) -> Any:
        time.sleep(0.5)
        committed.append(time.monotonic())
        return previous(data, blob, **kw) if previous else None

    store.on_commit = slow_replication
    runs = _timed_run(cluster, 0.0)
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME)
    assert job.status == SUCCESS, job.ops[0].log
    (start, _end), = runs
    assert start < committed[0] - 0.3     # reading the nodes waited for the lock before
    assert _admin_state(cluster) == "up"
