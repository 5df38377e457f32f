"""The master role moving between nodes: ``gnt-cluster master-failover`` (run on the new
master, without a daemon), the master IP (through :mod:`gnt.nodes.masterip`), and helpers the CLIs use on any node (ssconf).

Master failover: this node must be an online master candidate. It asks the other candidates for
their ``config.data`` and continues from the one with the highest serial number; unless
``--no-voting``, more than half of the other online nodes must answer (so a partitioned node
cannot grab the role). It stops the old master's daemon (if it answers), moves the master IP
(if the cluster has a master netdev), makes itself the master in the config (which then reaches
every candidate and every node's ssconf) and starts its own daemon. Before that it takes over
the old master's job queue (:mod:`gnt.nodes.queuecopy`) when the old master's daemon was
stopped, else it keeps its own replicated copy (:mod:`gnt.nodes.queuesync`): the drain flag
stays as it was and job ids continue after the last one handed out.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnt.config.objects import touch
from gnt.config.store import ConfigStore, read_config
from gnt.core import resolver, settings, ssconf
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, ECODE_STATE, ConfigError, OpPrereqError
from gnt.core.fileutil import ensure_dir
from gnt.nodes import queuecopy, ssh
from gnt.nodes.masterip import activate_master_ip, master_ip_command
from gnt.nodes.nodevars import ssh_target
from gnt.nodes.replication import Replicator

Feedback = Callable[[str], None]


def tool(name: str) -> str:
    """Path of one of our commands (the same on every node)."""
    return str(Path(sys.executable).parent / name)


def _target(data: dict[str, Any], node: dict[str, Any]) -> ssh.Target:
    """How to reach ``node`` of the config ``data`` over SSH (never in-process: during a
    failover the config's master is another node)."""
    target = ssh_target(ConfigStore(settings.paths().config_file, data), node)
    return ssh.Target(target.name, target.address, False, target.port)


def _this_node(data: dict[str, Any]) -> dict[str, Any] | None:
    me = resolver.this_node_name()
    for node in data["nodes"].values():
        if node["name"] == me or node["name"].split(".")[0] == me.split(".")[0]:
            return dict(node)
    return None


def candidates_hint() -> str:
    names = ssconf.read_list("master_candidates")
    return ", ".join(names) if names else "unknown (no ssconf files on this node)"


def _best_config(local: dict[str, Any], others: list[dict[str, Any]],
                 feedback: Feedback) -> dict[str, Any]:
    """The config with the highest serial among this node's and the reachable candidates'."""
    path = shlex.quote(str(settings.paths().config_file))
    answers = ssh.run_parallel([_target(local, n) for n in others],
                               lambda t: ssh.run(t, f"cat {path}", timeout=20))
    best = local
    for name, result in sorted(answers.items()):
        if not result.ok:
            feedback(f"Candidate {name} did not answer: {result.reason()}")
            continue
        try:
            data = json.loads(result.stdout)
        except ValueError:
            feedback(f"Candidate {name} has an unreadable configuration: ignored")
            continue
        if int(data.get("serial_no", 0)) > int(best["serial_no"]):
            feedback(f"Candidate {name} has a newer configuration (serial"
                     f" {data['serial_no']} > {best['serial_no']}): using it")
            best = data
    return best


def _vote(data: dict[str, Any], me: dict[str, Any], no_voting: bool,
          feedback: Feedback) -> None:
    """Refuse unless more than half of the other online nodes answer (``--no-voting``)."""
    others = [n for n in data["nodes"].values() if n["uuid"] != me["uuid"] and not n["offline"]]
    if not others or no_voting:
        return
    answers = ssh.run_parallel([_target(data, n) for n in others],
                               lambda t: ssh.run(t, "true", timeout=15))
    alive = sorted(name for name, result in answers.items() if result.ok)
    feedback(f"Nodes answering: {len(alive)} of {len(others)} other online node(s)")
    if 2 * (len(alive) + 1) <= len(others) + 1:   # this node plus those answering: a majority
        raise OpPrereqError(
            f"Only {len(alive)} of {len(others)} other online nodes answered: cannot be sure"
            " the old master is not still working. If you are sure it is down (e.g. in a"
            " two-node cluster), use --no-voting", ECODE_ENVIRON)


def _take_over_queue(data: dict[str, Any], old: dict[str, Any], old_stopped: bool,
                     feedback: Feedback) -> None:
    """Before this node's daemon starts: the old master's job queue replaces this node's copy
    if its daemon was stopped and it answers; else this node continues with its own copy
    (drain flag, job serial and jobs as the old master last pushed them)."""
    queue_dir = settings.paths().queue_dir
    if old_stopped:
        try:
            copy = queuecopy.take_over(_target(data, old), queue_dir)
        except (OSError, ValueError) as err:
            feedback(f"WARNING: could not copy the job queue from {old['name']} ({err})")
        else:
            feedback(f"Took over the job queue of {old['name']}: {copy.jobs} job(s) in the"
                     f" queue, {copy.archived} archived, last job id {copy.serial}, drain"
                     f" flag {'set' if copy.drained else 'unset'}")
            return
    ensure_dir(queue_dir)
    drained = (queue_dir / "drain").exists()
    feedback(f"Continuing with this node's copy of the job queue: last job id"
             f" {queuecopy.highest_job_id(queue_dir)}, drain flag"
             f" {'set' if drained else 'unset'}")


def master_failover(no_voting: bool = False, feedback: Feedback = print) -> str:
    """Make this node the master; returns the old master's name."""
    from gnt.daemon.control import daemon_alive, start_daemon

    paths = settings.paths()
    try:
        local = read_config(paths.config_file)
    except ConfigError as err:
        me_name = resolver.this_node_name()
        members = [n.split(".")[0] for n in ssconf.read_list("node_list")]
        if me_name.split(".")[0] in members:
            raise OpPrereqError(f"This node ({me_name}) is not a master candidate (it holds no"
                                " copy of the configuration); run master-failover on one of:"
                                f" {candidates_hint()}", ECODE_STATE) from None
        raise OpPrereqError(f"This node ({me_name}) cannot become the master: {err}."
                            f" Master candidates: {candidates_hint()}", ECODE_STATE) from None
    me = _this_node(local)
    if me is None:
        raise OpPrereqError(f"This node ({resolver.this_node_name()}) is not in the cluster"
                            f" configuration. Master candidates: {candidates_hint()}",
                            ECODE_STATE)
    old = local["nodes"][local["cluster"]["master_node"]]
    if old["uuid"] == me["uuid"]:
        raise OpPrereqError(f"This node ({me['name']}) is already the master; run"
                            " master-failover on the node that should become the master",
                            ECODE_INVAL)
    cands = sorted(n["name"] for n in local["nodes"].values()
                   if n["master_candidate"] and not n["offline"])
    if not me["master_candidate"] or me["offline"]:
        raise OpPrereqError(f"This node ({me['name']}) is not a master candidate; run"
                            f" master-failover on one of: {', '.join(cands)}", ECODE_STATE)
    others = [n for n in local["nodes"].values() if n["master_candidate"] and not n["offline"]
              and n["uuid"] != me["uuid"]]
    data = _best_config(local, others, feedback)
    me = _this_node(data) or me
    old = data["nodes"][data["cluster"]["master_node"]]
    _vote(data, me, no_voting, feedback)
    old_stopped = False
    if old["uuid"] != me["uuid"] and not old["offline"]:
        result = ssh.run(_target(data, old), f"{shlex.quote(tool('gnt-masterd'))} stop", timeout=60)
        if result.ok:
            feedback(f"Stopped the master daemon on {old['name']}")
            old_stopped = True
        else:
            feedback(f"WARNING: could not stop the master daemon on {old['name']}"
                     f" ({result.reason()}); if it comes back it must not act as master")
        cluster = data["cluster"]
        if cluster.get("master_netdev"):
            drop_ip = master_ip_command("del", cluster["master_ip"], cluster["master_netdev"])
            ssh.run(_target(data, old), drop_ip, timeout=20)
    _take_over_queue(data, old, old_stopped, feedback)
    data["nodes"][me["uuid"]]["master_candidate"] = True
    touch(data["nodes"][me["uuid"]])
    data["cluster"]["master_node"] = me["uuid"]
    touch(data["cluster"])
    store = ConfigStore(paths.config_file, data)
    replicator = Replicator()
    store.on_commit = replicator
    store.save()   # serial bump, local write, push to candidates and ssconf everywhere
    for name, reason in sorted(replicator.failures.items()):
        feedback(f"WARNING: node {name} did not get the new configuration: {reason}")
    activate_master_ip(data, feedback)
    if not daemon_alive():
        start_daemon()
    feedback(f"Master role moved from {old['name']} to {me['name']}")
    return str(old["name"])


def ssconf_master() -> str | None:
    """The master's name according to this node's ssconf files."""
    return ssconf.read("master_node")
