"""The executor: the only place that runs Ansible (through ansible-runner).

A logical unit hands it a list of :class:`Play` (a role and, per node, the role's vars). The
executor writes an inventory of just those nodes (the master through the local connection,
others over SSH with ControlPersist and pipelining), one playbook with one play per step, runs it
once, streams task events into the job log as they happen and returns per-node results,
including any ``gnt_*`` facts the roles set.

Every value reaches Ansible as data: the inventory marks each string as not a template
(:mod:`gnt.nodes.runfiles`), and the playbook names hosts by group and role vars by reference,
so no value from an operator, an export, the config or a node is ever evaluated as a template
(DESIGN.md safety rules). All of
Ansible's directories (home, temp, control sockets, remote temp) are private, under GNT_ROOT.

Unit tests swap in :class:`gnt.nodes.recording.RecordingExecutor`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gnt.core import settings
from gnt.core.collection import link_collection
from gnt.nodes import modexec, ssh
from gnt.nodes.checkpoints import (  # noqa: F401 -- part of this module's interface
    CHECKPOINT_ACTION,
    CHECKPOINT_GO,
    checkpoint_path,
    checkpoint_task,
)
from gnt.nodes.modexec import launcher_script
from gnt.nodes.rolespecs import check_plays
from gnt.nodes.runfiles import UnsafeText, dump_data, dump_yaml
from gnt.nodes.runprocs import RUN_ENV, stop_run_leftovers
from gnt.nodes.warmclient import WarmWorker

Feedback = Callable[[str], None]


@dataclass
class NodeAccess:
    """How to reach a node: its name, address and whether it is this (master) node; for the
    other nodes, their warm module interpreter when they have one (see
    :mod:`gnt.nodes.modexec_bundle`)."""

    name: str
    address: str
    local: bool
    ssh_port: int = 22
    interpreter: str = ""


@dataclass
class Play:
    """One step: run ``role`` (``gnt.cluster.<role>``) on each node with that node's vars.

    ``then``: a step of the coordinator's own, taken once the play has succeeded on all its
    hosts and before the next play of the run starts (the run waits at a checkpoint, see
    :func:`checkpoint_task`); when it raises, the run stops there and :meth:`Executor.run`
    raises that exception once the run has ended."""

    role: str
    hosts: dict[str, dict[str, Any]]
    title: str = ""
    then: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass
class HostResult:
    """What the plays of one run did on one node; ``failed_play`` is the index (in the run's
    list of plays) of the play that failed there."""

    ok: bool = True
    changed: bool = False
    failed_task: str | None = None
    message: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    failed_play: int | None = None


@dataclass
class RunResult:
    ok: bool
    hosts: dict[str, HostResult]
    rc: int = 0
    unreachable: list[str] = field(default_factory=list)

    def failure_summary(self) -> str:
        """One line per failed node: node, task, message."""
        lines = []
        for name, res in sorted(self.hosts.items()):
            if not res.ok:
                task = f" in task '{res.failed_task}'" if res.failed_task else ""
                lines.append(f"{name}{task}: {res.message}")
        for name in self.unreachable:
            lines.append(f"{name}: unreachable")
        return "\n".join(lines) or f"ansible-runner exited with code {self.rc}"

    def first_failed_play(self) -> int | None:
        """Index of the earliest play that failed on some node; None when the run succeeded
        or when it failed without saying where (then assume the first play)."""
        failed = [res.failed_play for res in self.hosts.values()
                  if not res.ok and res.failed_play is not None]
        if failed:
            return min(failed)
        return None if self.ok else 0


class Executor(Protocol):
    def run(self, plays: list[Play], nodes: dict[str, NodeAccess],
            feedback: Feedback) -> RunResult: ...


def collections_path() -> Path:
    """This cluster's collections dir (``ansible_collections/gnt/cluster`` -> this checkout)."""
    return link_collection(settings.paths().collections_dir)


_ROLE_VAR_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


_PLAY_GROUP = "gnt_play_"


def play_group(index: int) -> str:
    """The inventory group holding the hosts of play ``index``."""
    return f"{_PLAY_GROUP}{index}"


def play_index(pattern: str) -> int | None:
    """The play index of a play's host pattern (:func:`play_group`), None for others."""
    if pattern.startswith(_PLAY_GROUP) and pattern[len(_PLAY_GROUP):].isdigit():
        return int(pattern[len(_PLAY_GROUP):])
    return None


#: The warm module interpreter's program (client and server), as the master runs it.
MODEXEC_PROGRAM = Path(modexec.PROGRAM)


def local_interpreter() -> str:
    """The module interpreter on the master node: this daemon's Python, through the warm
    module interpreter (:mod:`gnt.nodes.modexec`) unless ``GNT_MODULE_INTERPRETER=fresh``.
    Ansible takes the interpreter as one path, so the warm one is a launcher script in a
    private directory."""
    if settings.module_interpreter() == "fresh":
        return sys.executable
    launcher = private_dir(settings.paths().ansible_dir) / "modexec-python"
    text = launcher_script(sys.executable, str(MODEXEC_PROGRAM),
                           "written by the gnt master daemon: Ansible's module interpreter")
    try:
        current = launcher.read_text()
    except OSError:
        current = ""
    if current != text:
        temp = launcher.with_name(f".{launcher.name}.{os.getpid()}.{threading.get_ident()}")
        temp.write_text(text)
        os.chmod(temp, 0o700)
        os.replace(temp, launcher)
    return str(launcher)


#: The connection of the master node's runs with the warm module interpreter: Ansible's local
#: connection, with module tasks handed to that interpreter from the Ansible worker itself.
LOCAL_WARM_CONNECTION = "gnt.cluster.local"


def local_connection() -> dict[str, str]:
    """The connection variables of the master node in a run: :data:`LOCAL_WARM_CONNECTION`
    told where the launcher's interpreter and program are, or Ansible's local connection
    with a fresh interpreter when ``GNT_MODULE_INTERPRETER=fresh``."""
    interpreter = local_interpreter()
    if interpreter == sys.executable:
        return {"ansible_connection": "local", "ansible_python_interpreter": interpreter}
    return {"ansible_connection": LOCAL_WARM_CONNECTION, "ansible_python_interpreter": interpreter,
            "gnt_modexec_python": sys.executable, "gnt_modexec_path": str(MODEXEC_PROGRAM)}


def remote_interpreter(node: NodeAccess) -> str:
    """The module interpreter on a node other than the master: its warm one when it has one
    and ``GNT_MODULE_INTERPRETER`` is not ``fresh``, else its ``/usr/bin/python3``."""
    if node.interpreter and settings.module_interpreter() != "fresh":
        return node.interpreter
    return "/usr/bin/python3"


#: The connection of the other nodes' runs with a warm module interpreter: Ansible's ssh
#: connection, with module tasks relayed to that interpreter over the SSH control master.
SSH_WARM_CONNECTION = "gnt.cluster.ssh"


def remote_connection(node: NodeAccess) -> dict[str, str]:
    """The connection variables of a node other than the master: :data:`SSH_WARM_CONNECTION`
    told where the node's warm module interpreter lives when it has one (see
    :func:`remote_interpreter`), else Ansible's ssh connection."""
    interpreter = remote_interpreter(node)
    if interpreter != node.interpreter:
        return {"ansible_connection": "ssh", "ansible_python_interpreter": interpreter}
    return {"ansible_connection": SSH_WARM_CONNECTION, "ansible_python_interpreter": interpreter,
            "gnt_modexec_path": str(MODEXEC_PROGRAM),
            "gnt_modexec_relay_dir": os.path.dirname(interpreter)}


def build_inventory(plays: list[Play], nodes: dict[str, NodeAccess]) -> dict[str, Any]:
    """Inventory of the involved nodes with every play's vars under ``gnt_play_<n>``; the
    hosts of play ``n`` form the group ``gnt_play_<n>``."""
    hostvars: dict[str, dict[str, Any]] = {}
    for name in sorted({host for play in plays for host in play.hosts}):
        node = nodes[name]
        hv: dict[str, Any] = {"ansible_host": node.address}
        if node.local:
            hv.update(local_connection())
        else:
            hv.update(remote_connection(node))
            hv["ansible_user"] = "root"
            hv["ansible_port"] = node.ssh_port
            # the host key is looked up under the node's address in the cluster's
            # known_hosts file (ANSIBLE_SSH_ARGS, see gnt.nodes.ssh.host_key_options)
            hv["ansible_ssh_extra_args"] = f"-o HostKeyAlias={node.address}"
        hostvars[name] = hv
    groups: dict[str, Any] = {}
    for index, play in enumerate(plays):
        groups[play_group(index)] = {"hosts": {host: None for host in sorted(play.hosts)}}
        for host, role_vars in play.hosts.items():
            hostvars[host][play_group(index)] = role_vars
    return {"all": {"hosts": hostvars, "children": groups}}


#: Roles whose plain and ext volume steps are in ``tasks/main.yml`` only: for instances of the
#: other disk templates a play runs their ``no_volumes`` entry point, the same tasks without
#: those steps. Each skipped task would cost a forked worker process (~35 ms on the host).
NO_VOLUMES_ROLES = frozenset({"instance_create", "instance_remove", "instance_start"})
VOLUME_TEMPLATES = ("plain", "ext")


def entry_point(play: Play) -> str:
    """The tasks file a play runs of its role: ``no_volumes`` for a role of
    :data:`NO_VOLUMES_ROLES` when no host's instance has plain or ext disks, else ``main``."""
    if play.role not in NO_VOLUMES_ROLES or not play.hosts:
        return "main"
    templates = {(role_vars.get("gnt_instance") or {}).get("disk_template") or "diskless"
                 for role_vars in play.hosts.values()}
    return "main" if templates & set(VOLUME_TEMPLATES) else "no_volumes"


def build_playbook(plays: list[Play], run_dir: Path | None = None,
                   timeout: float = 3600.0) -> list[dict[str, Any]]:
    """One play per step; a step's vars come from the host's ``gnt_play_<n>``.

    The playbook holds no value from the cluster: hosts are named by group, role vars by
    reference, so nothing an operator typed ends up in a trusted template. A role's main
    entry point runs from the play's ``roles``; another (:func:`entry_point`) from an
    ``import_role`` task (``roles`` takes no ``tasks_from``). A play with a
    :attr:`Play.then` ends with a :func:`checkpoint_task` answered in ``run_dir``.
    """
    playbook = []
    for index, play in enumerate(plays):
        keys = sorted({key for role_vars in play.hosts.values() for key in role_vars})
        bad = [key for key in keys if not _ROLE_VAR_NAME.match(key)]
        if bad or not _ROLE_VAR_NAME.match(play.role):
            raise ValueError(f"internal: bad role or role variable name in play {play.role!r}:"
                             f" {bad}")
        group = play_group(index)
        role_vars = {key: f"{{{{ {group}[{key!r}] }}}}" for key in keys}
        entry = entry_point(play)
        role = f"gnt.cluster.{play.role}"
        steps: dict[str, Any]
        tasks: list[dict[str, Any]] = []
        if entry == "main":
            steps = {"roles": [{"role": role, "vars": role_vars}]}
        else:
            tasks.append({"name": f"{play.role} ({entry})", "vars": role_vars,
                          "ansible.builtin.import_role": {"name": role, "tasks_from": entry}})
            steps = {}
        if play.then is not None:
            if run_dir is None:
                raise ValueError(f"internal: play {play.role!r} has a checkpoint but the run"
                                 " has no directory")
            tasks.append(checkpoint_task(checkpoint_path(run_dir, index), timeout))
        if tasks:
            steps["tasks"] = tasks
        playbook.append({
            "name": UnsafeText(play.title or play.role),
            "hosts": group,
            "gather_facts": False,
            "any_errors_fatal": True,
            **steps,
        })
    return playbook


class _EventCollector:
    """Turns ansible-runner events into job log lines and per-host results, and answers the
    run's checkpoints (:attr:`Play.then`) when it reaches them."""

    def __init__(self, feedback: Feedback, plays: list[Play] | None = None,
                 run_dir: Path | None = None) -> None:
        self.feedback = feedback
        self.hosts: dict[str, HostResult] = {}
        self.unreachable: list[str] = []
        self.plays = plays or []
        self.run_dir = run_dir
        self.checkpoints_done: set[int] = set()
        self.checkpoint_error: BaseException | None = None
        #: A checkpoint's answer could not be written (say, a full disk): the run is stopped
        #: (canceled) rather than left waiting for it until the run's timeout.
        self.unanswered = False

    def _checkpoint(self, data: dict[str, Any]) -> None:
        """At a play's checkpoint: take the coordinator's step, then answer (go on, or stop
        with the step's error, kept for :meth:`AnsibleExecutor.run` to raise)."""
        index = play_index(str(data.get("play_pattern") or ""))
        if index is None or index in self.checkpoints_done or not 0 <= index < len(self.plays):
            return
        step = self.plays[index].then
        if step is None or self.run_dir is None:
            return
        self.checkpoints_done.add(index)
        answer = CHECKPOINT_GO
        try:
            step()
        except BaseException as err:  # noqa: BLE001 -- raised again after the run
            self.checkpoint_error = err
            answer = f"stopped by the coordinator: {err}"
        path = checkpoint_path(self.run_dir, index)
        temp = path.with_name(f".{path.name}.tmp")
        try:
            temp.write_text(answer)
            os.replace(temp, path)
        except OSError as err:
            self.unanswered = True
            self.checkpoint_error = self.checkpoint_error or err
            self.feedback(f"could not answer the checkpoint of play {index} ({err}): the run"
                          " is stopped")

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "runner_on_start" and data.get("task_action") == CHECKPOINT_ACTION:
            self._checkpoint(data)
            return True
        host = data.get("host")
        task = data.get("task", "")
        if not host or not kind.startswith("runner_on_"):
            return True
        res = data.get("res") or {}
        result = self.hosts.setdefault(host, HostResult())
        if kind == "runner_on_ok":
            result.changed = result.changed or bool(res.get("changed"))
            facts = res.get("ansible_facts") or {}
            result.facts.update({k: v for k, v in facts.items() if k.startswith("gnt_")})
            if res.get("changed"):
                self.feedback(f"{host}: {task}: changed")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            result.ok = False
            result.failed_task = task
            result.failed_play = play_index(str(data.get("play_pattern") or ""))
            result.message = _failure_message(res)
            self.feedback(f"{host}: {task}: FAILED: {result.message}")
        elif kind == "runner_on_unreachable":
            result.ok = False
            result.failed_task = task
            result.failed_play = play_index(str(data.get("play_pattern") or ""))
            result.message = f"unreachable: {res.get('msg', '')}".strip()
            self.unreachable.append(host)
            self.feedback(f"{host}: unreachable: {res.get('msg', '')}")
        return True


def _failure_message(res: dict[str, Any]) -> str:
    """The message of a failed task; of a loop, the first failed item's (with the item)."""
    items = res.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                label = item.get("_ansible_item_label", item.get("item"))
                if isinstance(label, dict):
                    label = label.get("path") or label.get("name") or label.get("index")
                return f"item {label}: {_failure_message(item)}"
    msg = str(res.get("msg") or "").strip()
    stderr = str(res.get("stderr") or "").strip()
    if stderr and stderr not in msg:
        msg = f"{msg}: {stderr.splitlines()[-1]}" if msg else stderr.splitlines()[-1]
    return msg or json.dumps(res)[:500]


class AnsibleExecutor:
    """Runs plays with ansible-runner: one ``ansible-playbook`` per :meth:`run`, forked from
    the warm worker (mode ``warm``) or started fresh by ansible-runner (mode ``runner``); see
    :func:`gnt.core.settings.executor_mode`. Both give the same events and artifacts."""

    def __init__(self, forks: int = 20, keep_failed_runs: bool = True,
                 mode: str | None = None, timeout: float | None = None) -> None:
        self.forks = forks
        self.keep_failed_runs = keep_failed_runs
        self.mode = mode or settings.executor_mode()
        if self.mode not in settings.EXECUTOR_MODES:
            raise ValueError(f"unknown executor mode {self.mode!r}")
        self.timeout = settings.ansible_run_timeout() if timeout is None else timeout
        self._cancel_generation = 0
        self._warm: WarmWorker | None = None
        self._warm_lock = threading.Lock()

    def close(self) -> None:
        """Stop the warm worker; runs in progress go on (as the processes of plain
        ansible-runner runs do when the daemon stops) and a restarted daemon stops them."""
        with self._warm_lock:
            if self._warm is not None:
                self._warm.stop()
                self._warm = None

    def cancel_runs(self) -> None:
        """Stop every run in progress (its whole process tree); each ends ``canceled``."""
        self._cancel_generation += 1

    def _cancel_check(self) -> Callable[[], bool]:
        generation = self._cancel_generation
        return lambda: self._cancel_generation != generation

    def _warm_worker(self) -> WarmWorker:
        with self._warm_lock:
            if self._warm is None:
                marker = settings.paths().ansible_dir / "runs" / "warm-worker"
                self._warm = WarmWorker(str(marker))
            return self._warm

    def _env(self, run_dir: Path) -> dict[str, str]:
        ans = private_dir(settings.paths().ansible_dir)
        private_dir(ans / "tmp")
        return {
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path()),
            "ANSIBLE_HOME": str(ans),
            "ANSIBLE_LOCAL_TEMP": str(ans / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(settings.paths().ansible_remote_tmp),
            "ANSIBLE_PIPELINING": "True",
            # the coordinator's own SSH options and control sockets: one master per node
            "ANSIBLE_SSH_ARGS": " ".join(ssh.shared_options()),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(ssh.control_dir()),
            "ANSIBLE_SSH_CONTROL_PATH": f"%(directory)s/{ssh.CONTROL_PATH_NAME.replace('%', '%%')}",
            # host keys are checked, strictly, by the options in ANSIBLE_SSH_ARGS
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_FORKS": str(self.forks),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            # facts travel in the task events; no per-run fact cache directory (which would
            # also make the warm worker's shared environment differ from run to run)
            "ANSIBLE_CACHE_PLUGIN": "memory",
            # our inventories are YAML files: do not load the other inventory plugins
            "ANSIBLE_INVENTORY_ENABLED": "ansible.builtin.yaml",
            # no vars plugins: a run's inventory and playbook are its private dir's alone, with
            # no group_vars/host_vars beside them to look for (per host and task, ~5 ms a run)
            "ANSIBLE_VARS_ENABLED": "",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                     os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")]),
            "GNT_ROOT": str(settings.paths().root),
        }

    @staticmethod
    def _new_run_dir(plays: list[Play], nodes: dict[str, NodeAccess],
                     timeout: float = 3600.0) -> Path:
        """A private data dir for ansible-runner with the run's playbook and inventory."""
        runs = private_dir(settings.paths().ansible_dir / "runs")
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
        (run_dir / "project").mkdir()
        (run_dir / "inventory").mkdir()
        (run_dir / "project" / "main.yml").write_text(
            dump_yaml(build_playbook(plays, run_dir, timeout), data_only=False))
        (run_dir / "inventory" / "hosts.yml").write_text(dump_data(build_inventory(plays, nodes)))
        return run_dir

    def _runner_kwargs(self, run_dir: Path, collector: Callable[[dict[str, Any]], bool],
                       should_cancel: Callable[[], bool]) -> dict[str, Any]:
        """ansible-runner's arguments for the run in ``run_dir`` (the same in both modes)."""
        return {
            "private_data_dir": str(run_dir), "playbook": "main.yml",
            "inventory": str(run_dir / "inventory" / "hosts.yml"),
            "envvars": {**self._env(run_dir), RUN_ENV: str(run_dir)},
            "event_handler": collector, "cancel_callback": should_cancel, "quiet": True,
            "settings": {"suppress_ansible_output": True, "job_timeout": self.timeout},
            "rotate_artifacts": 1, "fact_cache_type": "memory",
        }

    def prewarm(self) -> None:
        """Start the warm worker now (at daemon start), so that the first job does not wait
        for it; nothing to do in plain ansible-runner mode."""
        if self.mode != "warm":
            return
        import ansible_runner.interface

        _ensure_venv_on_path()
        run_dir = self._new_run_dir([], {})
        try:
            runner = ansible_runner.interface.init_runner(
                **self._runner_kwargs(run_dir, lambda _event: True, lambda: False))
            self._warm_worker().ensure(runner.config.env)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def run(self, plays: list[Play], nodes: dict[str, NodeAccess],
            feedback: Feedback) -> RunResult:
        import ansible_runner  # heavy import: only in the daemon, only when needed
        import ansible_runner.interface

        _ensure_venv_on_path()
        canceled = self._cancel_check()
        check_plays(plays)  # Ansible's own check of the same specs is skipped when warm
        run_dir = self._new_run_dir(plays, nodes, self.timeout)
        collector = _EventCollector(feedback, plays, run_dir)

        def should_cancel() -> bool:   # also when a checkpoint could not be answered
            return canceled() or collector.unanswered

        kwargs = self._runner_kwargs(run_dir, collector, should_cancel)
        if self.mode == "warm":
            runner = ansible_runner.interface.init_runner(**kwargs)
            self._warm_worker().run(runner, self.timeout, should_cancel)
        else:
            runner = ansible_runner.run(**kwargs)
        rc = int(runner.rc if runner.rc is not None else 1)
        stopped = ""
        if runner.canceled or runner.timed_out:
            stop_run_leftovers(run_dir)
            stopped = ("Ansible run canceled" if runner.canceled else
                       f"Ansible run stopped after its timeout ({self.timeout:g} s)")
            feedback(stopped)
        hosts = collector.hosts
        for play in plays:
            for host in play.hosts:
                hosts.setdefault(host, HostResult(ok=rc == 0))
        ok = rc == 0 and all(res.ok for res in hosts.values())
        if not ok and not any(not res.ok for res in hosts.values()):
            tail = stopped or _stdout_tail(run_dir)
            for res in hosts.values():
                res.ok = False
                res.message = res.message or tail
        if ok or not self.keep_failed_runs:
            shutil.rmtree(run_dir, ignore_errors=True)
        if collector.checkpoint_error is not None:
            raise collector.checkpoint_error
        return RunResult(ok=ok, hosts=hosts, rc=rc, unreachable=collector.unreachable)


def private_dir(path: Path) -> Path:
    """``path`` as a directory of ours: created 0700 (parents too), mode enforced if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _ensure_venv_on_path() -> None:
    """ansible-runner finds ``ansible-playbook`` on this process's PATH: put ours first."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, path]) if path else bindir


def _stdout_tail(run_dir: Path) -> str:
    for path in sorted(run_dir.glob("artifacts/*/stdout")):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return " | ".join(lines[-5:])
    return f"ansible-runner failed (artifacts in {run_dir})"
