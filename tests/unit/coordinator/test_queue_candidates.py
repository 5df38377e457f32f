"""The job queue on the master candidates: the drain flag pushed before ``queue drain``
returns, serial and job files copied in the background (never during a submission), a new
candidate getting the whole queue, and master-failover continuing with the old master's queue
(or this node's copy when the old master is down).

"Nodes" are directories on this machine: a fake ``gnt.nodes.ssh.run`` runs each node's command
here with the real ``/bin/sh`` and ``python3``, the master's queue path swapped for the node's.
Every test runs twice: with the pushes over SSH, and relayed (a fake of the relay's connection
runs the script for the node's warm interpreter here, in a Python of its own).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from multinode import add_node

from gnt.admin import masterrole
from gnt.cli import cluster as cluster_cli
from gnt.cli import common as cli_common
from gnt.config.store import ConfigStore, read_config
from gnt.core import settings
from gnt.core.errors import JobQueueDrainError
from gnt.daemon import control
from gnt.jobs.queue import JobQueue
from gnt.nodes import queuecopy, queuesync, relay, ssh

N1, N2, N3, N4 = (f"node{i}.example.com" for i in range(1, 5))
DELAY = [{"OP_ID": "OP_TEST_DELAY", "duration": 0}]


class LocalNodes:
    """Stands in for ``ssh.run``: node name -> a directory playing its queue dir; nodes in
    :attr:`dead` answer like an unreachable host; every call is recorded."""

    def __init__(self, base: Path, queue_dir: Path) -> None:
        self.base = base
        self.queue_dir = str(queue_dir)
        self.dead: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.real_run = ssh.run
        self.way = "ssh"

    def queue(self, name: str) -> Path:
        return self.base / name / "queue"

    def __call__(self, target: ssh.Target, command: str, stdin: bytes | None = None,
                 timeout: float = 60.0, forward: tuple[str, str] | None = None) -> ssh.Result:
        self.calls.append((target.name, command))
        if target.name in self.dead:
            return ssh.Result(target.name, 255, "", f"ssh: connect to host {target.address}"
                              " port 22: No route to host\n")
        mine = str(self.queue(target.name))
        if stdin is not None:
            stdin = stdin.replace(json.dumps(self.queue_dir).encode(), json.dumps(mine).encode())
        if "gnt-masterd" in command:
            return ssh.Result(target.name, 0, "master daemon stopped\n", "")
        if "python3" not in command:
            return ssh.Result(target.name, 0, "", "")    # config pushes, votes, IP commands
        local = ssh.Target(target.name, target.address, local=True)
        return self.real_run(local, command.replace(self.queue_dir, mine), stdin=stdin,
                             timeout=timeout)

    def relayed(self, target: ssh.Target, _local: str, script: bytes, timeout: float
                ) -> ssh.Result | None:
        """Stands in for the relay's connection to the node's warm interpreter: the script
        run here in a Python of its own; a dead node's relay is not there (None: the call
        then goes over SSH, which fails). Other relayed calls (config pushes) go the SSH way
        too (the fake there takes them)."""
        if target.name in self.dead or not script.startswith(b"import json\nreq = json.loads("):
            return None
        self.calls.append((target.name, "relayed"))
        script = script.replace(json.dumps(self.queue_dir).encode(),
                                json.dumps(str(self.queue(target.name))).encode())
        proc = subprocess.run([sys.executable, "-I", "-c", "import sys; exec(sys.stdin.read())"],
                              input=script, capture_output=True, timeout=timeout, check=False)
        return ssh.Result(target.name, proc.returncode, proc.stdout.decode(),
                          proc.stderr.decode())


@pytest.fixture(params=["ssh", "relayed"])
def nodes(request: pytest.FixtureRequest, cluster: Any, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> LocalNodes:
    """The ``cluster`` fixture's master plus node2 (candidate), node3 (not a candidate) and
    node4 (an offline candidate); the background copy thread stopped (rounds run by hand).
    Pushes go over SSH, or relayed (``request.param``)."""
    fake = LocalNodes(tmp_path / "nodes", settings.paths().queue_dir)
    fake.way = request.param
    monkeypatch.setattr(ssh, "run", fake)
    if request.param == "relayed":
        monkeypatch.setattr(relay, "_relayed", fake.relayed)
    cluster.master.queue_sync.stop()
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    add_node(cluster, N3, "198.18.0.13")
    add_node(cluster, N4, "198.18.0.14", master_candidate=True, offline=True)
    fake.calls.clear()
    return fake


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- the drain flag ---------------------------------------------------------------------------

def test_drain_reaches_every_online_candidate_before_the_call_returns(cluster, nodes):
    assert cluster.api.set_drain_flag(True) is True
    queue = nodes.queue(N2)
    assert (queue / "drain").exists()
    assert _mode(queue) == 0o700 and _mode(queue / "archive") == 0o700
    assert _mode(queue / "drain") == 0o600 and _mode(queue / "serial") == 0o600
    assert not nodes.queue(N3).exists()          # not a candidate
    assert not nodes.queue(N4).exists()          # offline: not contacted
    assert {name for name, _c in nodes.calls} == {N2}
    assert cluster.api.query_queue_info() == {"drained": True}
    cluster.api.set_drain_flag(False)
    assert not (queue / "drain").exists()
    assert cluster.api.query_queue_info() == {"drained": False}


def test_unreachable_candidate_is_named_and_the_master_is_drained_all_the_same(
        cluster, nodes, monkeypatch, capsys):
    add_node(cluster, "node5.example.com", "198.18.0.15", master_candidate=True)
    nodes.dead = {N2}
    assert cluster.api.set_drain_flag(True) is True
    assert cluster.master.queue.is_drained()
    assert (nodes.queue("node5.example.com") / "drain").exists()
    info = cluster.api.query_queue_info()
    assert info["drained"] is True
    assert list(info["unsynced"]) == [N2] and "No route to host" in info["unsynced"][N2]
    # the command says so (stderr), and still succeeds
    monkeypatch.setattr(cli_common, "get_client", lambda: _ApiClient(cluster.api))
    assert cluster_cli.queue_ops(argparse.Namespace(queue_command="drain")) == 0
    err = capsys.readouterr().err
    assert f"WARNING: master candidate {N2} did not get the drain flag" in err
    nodes.dead = set()
    cluster.api.set_drain_flag(True)
    assert "unsynced" not in cluster.api.query_queue_info()
    assert (nodes.queue(N2) / "drain").exists()


class _ApiClient:
    """The daemon's handlers as the CLI's client."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def call(self, method: str, **args: Any) -> Any:
        return self.api.dispatch(method, args)


# --- serial and job files -----------------------------------------------------------------------

def test_submission_opens_no_connection_and_wakes_the_copy_thread(cluster, nodes):
    sync = cluster.master.queue_sync
    sync._wake.clear()
    job_id = cluster.api.submit_job(DELAY)
    assert nodes.calls == []                      # no SSH round trip in the submission
    assert sync._wake.is_set()
    cluster.wait(job_id)
    sync.start()                                  # the thread copies it on its own
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if queuesync.read_serial(nodes.queue(N2)) >= job_id:
            break
        time.sleep(0.05)
    sync.stop()
    assert queuesync.read_serial(nodes.queue(N2)) == job_id


def test_rounds_copy_serial_jobs_and_archive_moves(cluster, nodes):
    ids = [cluster.api.submit_job(DELAY) for _unused in range(3)]
    for job_id in ids:
        cluster.wait(job_id)
    cluster.master.queue_sync.sync()
    queue = nodes.queue(N2)
    assert queuesync.read_serial(queue) == ids[-1]
    for job_id in ids:
        copy = json.loads((queue / f"job-{job_id}").read_text())
        assert copy["id"] == job_id and copy["ops"][0]["status"] == "success"
        assert _mode(queue / f"job-{job_id}") == 0o600
    # relayed: no SSH command at all; else one per candidate
    assert [how for _name, how in nodes.calls] == (
        ["relayed"] if nodes.way == "relayed" else [queuesync.apply_command()])
    nodes.calls.clear()
    cluster.master.queue_sync.sync()
    assert nodes.calls == []                      # nothing changed: no connection
    assert cluster.api.archive_job(ids[0]) is True
    cluster.master.queue_sync.sync()
    assert not (queue / f"job-{ids[0]}").exists()
    archived = json.loads((queue / "archive" / "0" / f"job-{ids[0]}").read_text())
    assert archived["id"] == ids[0]
    (queue / "job-999999").write_text("{}")     # stale: not in the master's queue
    cluster.master.queue_sync.copies.clear()      # e.g. a new master daemon: a full round
    cluster.master.queue_sync.sync()
    assert not (queue / "job-999999").exists()
    assert sorted(p.name for p in queue.glob("job-*")) == [f"job-{i}" for i in ids[1:]]


def test_serial_on_a_candidate_never_goes_back(cluster, nodes):
    queue = nodes.queue(N2)
    queue.mkdir(parents=True)
    (queue / "serial").write_text("500\n")
    job_id = cluster.api.submit_job(DELAY)
    cluster.wait(job_id)
    cluster.master.queue_sync.sync()
    assert job_id < 500 and queuesync.read_serial(queue) == 500


def test_a_promoted_candidate_gets_the_whole_queue(cluster, nodes):
    job_id = cluster.api.submit_job(DELAY)
    cluster.wait(job_id)
    cluster.api.set_drain_flag(True)
    cluster.master.queue_sync.sync()
    assert not nodes.queue(N3).exists()
    node3 = cluster.master.config.find("nodes", N3)
    cluster.master.config.modify("nodes", node3["uuid"],
                                 lambda obj: obj.update(master_candidate=True))
    cluster.master.queue_sync.sync()
    queue = nodes.queue(N3)
    assert _mode(queue) == 0o700
    assert (queue / "drain").exists() and (queue / f"job-{job_id}").exists()
    assert queuesync.read_serial(queue) == job_id


# --- taking over the old master's queue -----------------------------------------------------------

def _queue_with(path: Path, serial: int, jobs: dict[int, str], archived: dict[int, str],
                drained: bool) -> None:
    (path / "archive").mkdir(parents=True, mode=0o700)
    (path / "serial").write_text(f"{serial}\n")
    for job_id, text in jobs.items():
        (path / f"job-{job_id}").write_text(text)
    for job_id, text in archived.items():
        bucket = path / "archive" / str(job_id // 10000)
        bucket.mkdir(exist_ok=True)
        (bucket / f"job-{job_id}").write_text(text)
    if drained:
        (path / "drain").write_text("")


@pytest.fixture
def two_queues(tmp_path, monkeypatch):
    """This node's queue (``local``) and the old master's (node1's ``remote``)."""
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "me"))
    local = settings.paths().queue_dir
    fake = LocalNodes(tmp_path / "nodes", local)
    monkeypatch.setattr(ssh, "run", fake)
    return local, fake.queue(N1), fake


def test_take_over_unites_both_queues_and_keeps_the_highest_serial(two_queues):
    local, remote, _fake = two_queues
    _queue_with(remote, 42, {41: "a", 42: "b"}, {7: "old"}, drained=True)
    _queue_with(local, 40, {40: "stale"}, {3: "only-here"}, drained=False)
    copy = queuecopy.take_over(ssh.Target(N1, "198.18.0.11"), local)
    assert copy == queuecopy.QueueCopy(jobs=2, archived=2, serial=42, drained=True)
    assert sorted(p.name for p in local.glob("job-*")) == ["job-41", "job-42"]
    assert (local / "archive" / "0" / "job-3").read_text() == "only-here"
    assert (local / "archive" / "0" / "job-7").read_text() == "old"
    assert _mode(local) == 0o700 and _mode(local / "job-41") == 0o600
    assert not list(local.parent.glob(".queue-*"))        # no staging left behind
    # a local copy ahead of the old master's: ids still continue after the higher one
    _queue_with(remote.parent / "again", 42, {}, {}, drained=False)
    os.rename(remote, remote.parent / "was")
    os.rename(remote.parent / "again", remote)
    (local / "serial").write_text("45\n")
    assert queuecopy.take_over(ssh.Target(N1, "198.18.0.11"), local).serial == 45
    queue = JobQueue(local)
    queue.load()
    assert queue.submit(DELAY, 0).id == 46


def test_an_unusable_copy_leaves_the_local_queue_alone(two_queues):
    local, _remote, _fake = two_queues
    _queue_with(local, 40, {40: "mine"}, {}, drained=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="unsafe path"):
        queuecopy.install(buf.getvalue(), local)
    assert (local / "job-40").read_text() == "mine" and (local / "drain").exists()
    assert not (local.parent / "escape").exists()
    with pytest.raises(OSError, match="reading its queue failed"):
        queuecopy.take_over(ssh.Target(N1, "198.18.0.11"), local)   # node1 has no queue
    assert (local / "job-40").read_text() == "mine"


# --- master-failover end to end ---------------------------------------------------------------------

def _config(names: list[str]) -> dict[str, Any]:
    from gnt.admin import bootstrap

    data = bootstrap.build_config(
        "cluster.example.com", "198.18.0.10", N1, "198.18.0.11", "", ["kvm"],
        ["file"], "/srv/gnt/file-storage", "/srv/gnt/shared-file-storage", {}, {}, {}, 10,
        "aa:00:00")
    group = next(iter(data["nodegroups"]))
    for index, name in enumerate(names[1:], start=2):
        data["nodes"][f"uuid-{name}"] = {
            "uuid": f"uuid-{name}", "name": name, "primary_ip": f"198.18.0.{10 + index}",
            "secondary_ip": f"198.18.0.{10 + index}", "master_candidate": True,
            "offline": False, "drained": False, "master_capable": True, "vm_capable": True,
            "group": group, "ndparams": {}, "tags": [], "serial_no": 1, "ctime": 0, "mtime": 0}
    return data


@pytest.fixture
def on_node2(two_queues, monkeypatch):
    """This machine is node2 (a candidate) of a three-node cluster whose master is node1."""
    local, remote, fake = two_queues
    monkeypatch.setenv("GNT_NODE_NAME", N2)
    settings.paths().data_dir.mkdir(parents=True)
    ConfigStore.create(_config([N1, N2, N3]), settings.paths().config_file)
    monkeypatch.setattr(control, "daemon_alive", lambda *a, **k: False)
    monkeypatch.setattr(control, "start_daemon", lambda *a, **k: None)
    return local, remote, fake


def _refuses_jobs(queue_dir: Path) -> str:
    queue = JobQueue(queue_dir)
    queue.load()
    with pytest.raises(JobQueueDrainError) as err:
        queue.submit(DELAY, 0)
    return str(err.value)


def test_failover_takes_over_the_old_masters_queue(on_node2):
    local, remote, fake = on_node2
    _queue_with(remote, 12, {11: json.dumps({"x": 1}), 12: "{}"}, {5: "{}"}, drained=True)
    lines: list[str] = []
    assert masterrole.master_failover(feedback=lines.append) == N1
    assert any(f"Took over the job queue of {N1}: 2 job(s) in the queue, 1 archived, last"
               " job id 12, drain flag set" in line for line in lines)
    assert _refuses_jobs(local) == "Job queue is drained, refusing job"
    (local / "drain").unlink()
    queue = JobQueue(local)
    queue.load()
    assert queue.submit(DELAY, 0).id == 13
    fetch = [i for i, (name, c) in enumerate(fake.calls) if name == N1 and "python3" in c]
    stop = [i for i, (name, c) in enumerate(fake.calls) if name == N1 and "gnt-masterd" in c]
    assert stop and fetch and stop[0] < fetch[0]     # copied only once its daemon stopped
    assert read_config(settings.paths().config_file)["cluster"]["master_node"] == "uuid-" + N2


def test_failover_with_the_old_master_down_keeps_the_replicated_copy(on_node2):
    local, _remote, fake = on_node2
    _queue_with(local, 30, {}, {}, drained=True)       # as node1's daemon last pushed it
    fake.dead = {N1}
    lines: list[str] = []
    masterrole.master_failover(feedback=lines.append)
    assert any("Continuing with this node's copy of the job queue: last job id 30, drain flag"
               " set" in line for line in lines)
    assert not any("Took over" in line for line in lines)
    assert _refuses_jobs(local) == "Job queue is drained, refusing job"
    (local / "drain").unlink()
    queue = JobQueue(local)
    queue.load()
    assert queue.submit(DELAY, 0).id == 31
