"""The executor in its two modes, warm worker and plain ansible-runner (issue 11): the same
results, events and artifacts; timeouts and cancel stop a run's whole process tree; the warm
worker is reused, and restarted when the collection or the shared environment changes.

Real Ansible runs on this machine through the local connection (no libvirt needed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

import gnt.nodes.executor as executor_module
from gnt.core import settings
from gnt.nodes.executor import RUN_ENV, AnsibleExecutor, NodeAccess, Play, RunResult
from gnt.nodes.proctree import alive

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NODES = {"n1": NodeAccess("n1", "127.0.0.1", True)}
MODES = ("warm", "runner")
BUILDER = "gnt warm worker: building module payloads"


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.fixture
def executors():
    made: list[AnsibleExecutor] = []

    def make(mode: str, **kwargs) -> AnsibleExecutor:
        executor = AnsibleExecutor(mode=mode, **kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.cancel_runs()
        executor.close()


def _delay(seconds) -> list[Play]:
    return [Play("test_delay", {"n1": {"gnt_delay": seconds}}, title="delay")]


def _run_pids(root: Path, needle: str = "") -> list[int]:
    """Live processes of this root's runs (their command line containing ``needle``)."""
    prefix = f"{RUN_ENV}={root}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and prefix in environ and needle in cmdline:
            found.append(int(entry.name))
    return found


def _left(root: Path, executor: AnsibleExecutor) -> list[int]:
    """Processes of the root's runs, the (idle) warm worker and its payload builder aside."""
    worker = executor._warm  # pylint: disable=protected-access
    idle = {worker.proc.pid} if worker is not None and worker.proc is not None else set()
    idle |= set(_run_pids(root, BUILDER))
    return [pid for pid in _run_pids(root) if pid not in idle]


def _summary(result: RunResult) -> dict:
    return {"ok": result.ok, "rc": result.rc, "unreachable": result.unreachable,
            "hosts": {name: (res.ok, res.changed, res.failed_task, res.message, res.failed_play,
                             res.facts) for name, res in result.hosts.items()}}


def _kept_artifacts(root: Path) -> tuple[list[str], list[str], str, str]:
    """The one kept (failed) run's artifact files, event kinds in order, status and rc."""
    [artifacts] = list((root / "var/lib/gnt/ansible/runs").glob("run-*/artifacts/*"))
    files = sorted(path.name for path in artifacts.iterdir())
    events = [json.loads(path.read_text()) for path in (artifacts / "job_events").glob("*.json")]
    # plain runs also show Ansible's own check of the role's spec, which the warm worker
    # skips (the executor made it before the run: gnt.nodes.rolespecs)
    kinds = [event["event"] for event in sorted(events, key=lambda event: event["counter"])
             if not str((event.get("event_data") or {}).get("task", "")).startswith(
                 "Validating arguments against arg spec")]
    # a fresh ansible-playbook prints the warnings of its start (from the environment it
    # inherits: seen in the project's CI, two lines) before the playbook starts; the warm
    # worker printed them once, when it started, to its own log
    while kinds and kinds[0] == "verbose":
        kinds.pop(0)
    return files, kinds, (artifacts / "status").read_text(), (artifacts / "rc").read_text()


@pytest.mark.parametrize("case", ["ok", "failing command", "no interpreter"])
def test_both_modes_give_the_same_results_events_and_artifacts(root, executors, monkeypatch, case):
    seconds = -1.0 if case == "failing command" else 0   # fits the spec; sleep refuses it
    if case == "no interpreter":  # Ansible's worker writes to a module that is not there
        monkeypatch.setattr(executor_module, "local_interpreter", lambda: "/nonexistent/python")
    seen = {}
    for mode in MODES:
        lines: list[str] = []
        result = executors(mode).run(_delay(seconds), NODES, lines.append)
        artifacts = _kept_artifacts(root) if not result.ok else None
        shutil.rmtree(root / "var/lib/gnt/ansible/runs")
        seen[mode] = (_summary(result), lines, artifacts)
    assert seen["warm"] == seen["runner"]
    summary, _lines, artifacts = seen["warm"]
    if case == "ok":
        assert summary["ok"] and summary["hosts"]["n1"][0]
        return
    expected = "sleep --help" if case == "failing command" else "/nonexistent/python"
    assert not summary["ok"] and expected in summary["hosts"]["n1"][3]
    files, kinds, status, rc = artifacts
    assert files == ["command", "job_events", "rc", "status", "stderr", "stdout"]
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    assert "runner_on_failed" in kinds
    assert (status, rc) == ("failed", "2")


@pytest.mark.parametrize("mode", MODES)
def test_vars_that_break_the_roles_spec_are_refused_before_ansible_starts(root, executors,
                                                                          mode):
    """The coordinator checks every play against its role's argument spec (the warm worker
    then skips Ansible's own check of it): refused alike in both modes, nothing run."""
    with pytest.raises(ValueError, match=r"test_delay on n1: .*gnt_delay"):
        executors(mode).run(_delay("not-a-number"), NODES, lambda _line: None)
    assert not list((root / "var/lib/gnt/ansible/runs").glob("run-*"))


@pytest.mark.parametrize("mode", MODES)
def test_a_run_past_its_timeout_is_stopped_with_its_processes(root, executors, mode):
    executor = executors(mode, timeout=3)
    started = time.monotonic()
    lines: list[str] = []
    result = executor.run(_delay(77), NODES, lines.append)
    assert time.monotonic() - started < 20
    assert not result.ok
    assert "timeout" in result.hosts["n1"].message
    assert any("stopped after its timeout" in line for line in lines)
    assert not _left(root, executor), "processes of the timed-out run are left"


@pytest.mark.parametrize("mode", MODES)
def test_cancel_stops_a_run_and_every_process_it_started(root, executors, mode):
    executor = executors(mode)
    results: list[RunResult] = []
    thread = threading.Thread(target=lambda: results.append(
        executor.run(_delay(78), NODES, lambda _line: None)))
    thread.start()
    deadline = time.monotonic() + 60
    while not _run_pids(root, "sleep 78") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _run_pids(root, "sleep 78"), "the run's sleep never started"
    executor.cancel_runs()
    thread.join(timeout=30)
    assert not thread.is_alive()
    [result] = results
    assert not result.ok and "canceled" in result.hosts["n1"].message
    assert not _left(root, executor), "processes of the canceled run are left"


def _worker_pid(executor: AnsibleExecutor) -> int:
    worker = executor._warm  # pylint: disable=protected-access
    assert worker is not None and worker.proc is not None
    return worker.proc.pid


def test_the_warm_worker_is_reused_and_shows_runs_as_ansible_playbook(root, executors):
    executor = executors("warm")
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    first = _worker_pid(executor)
    titles: list[str] = []
    thread = threading.Thread(target=executor.run, args=(_delay(1.5), NODES, lambda _line: None))
    thread.start()
    deadline = time.monotonic() + 30
    while not titles and time.monotonic() < deadline:
        titles = [Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                  for pid in _run_pids(root, "ansible-playbook")]
        time.sleep(0.05)
    thread.join()
    assert titles, "no run process titled ansible-playbook"
    assert _worker_pid(executor) == first


def test_the_warm_worker_restarts_when_a_module_changes(root, executors, tmp_path, monkeypatch):
    collection = tmp_path / "collection"
    collection.mkdir()
    for part in ("galaxy.yml", "meta", "plugins", "roles"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, collection / part)
        else:
            shutil.copy(source, collection / part)
    monkeypatch.setenv("GNT_COLLECTION_ROOT", str(collection))
    monkeypatch.setenv("GNT_PAYLOAD_CACHE", str(tmp_path / "payloads"))  # stamps of a copy
    assert settings.collection_root() == collection.resolve()
    executor = executors("warm")
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    first = _worker_pid(executor)
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    assert _worker_pid(executor) == first
    module = collection / "plugins/modules/domain.py"
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    assert _worker_pid(executor) != first
    assert not alive(first)


def test_the_warm_worker_restarts_when_the_shared_environment_changes(root, executors,
                                                                      monkeypatch):
    executor = executors("warm")
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    first = _worker_pid(executor)
    monkeypatch.setenv("GNT_TEST_SETTING", "changed")  # runs inherit the daemon's environment
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    assert _worker_pid(executor) != first


def test_a_killed_warm_worker_is_replaced(root, executors):
    executor = executors("warm")
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    first = _worker_pid(executor)
    os.kill(first, signal.SIGKILL)
    executor._warm.proc.wait()  # pylint: disable=protected-access
    assert executor.run(_delay(0), NODES, lambda _line: None).ok
    assert _worker_pid(executor) != first
