"""gnt-cluster commands about the cluster's nodes: master-failover, getmaster, redist-conf,
copyfile, command and watcher pause/continue/info."""

from __future__ import annotations

import argparse
import os
import shlex
import time
from typing import Any

from gnt.admin import remote
from gnt.cli import common
from gnt.cli.common import add_command, add_submit_options, make_op, stderr, stdout, submit_or_send
from gnt.core import settings, ssconf
from gnt.core.errors import ECODE_INVAL, OpPrereqError


def master_failover(args: argparse.Namespace) -> int:
    """``master-failover``: make this node (a master candidate) the master."""
    from gnt.admin import masterrole

    if args.no_voting and not args.yes_do_it and not common.confirm(
            "Master failover without voting can lead to two masters if the old one is still"
            " running. Continue?", "--yes-do-it"):
        return 1
    masterrole.master_failover(no_voting=args.no_voting, feedback=stdout)
    return 0


def show_master(args: argparse.Namespace) -> int:
    """``getmaster``: the master's name from this node's ssconf (works on every node)."""
    name = ssconf.read("master_node")
    if name is None:
        name = str(common.get_client().call("get_master"))
    stdout(name)
    return 0


def redist_conf(args: argparse.Namespace) -> int:
    """``redist-conf``: push config and ssconf files to every online node."""
    submit_or_send(make_op("OP_CLUSTER_REDIST_CONF", args), args)
    return 0


def copy_file(args: argparse.Namespace) -> int:
    """``copyfile``: copy a file to the same path on the other nodes."""
    path = os.path.abspath(args.file)
    if not os.path.isfile(path):
        raise OpPrereqError(f"File '{args.file}' does not exist or is not a regular file", ECODE_INVAL)
    with open(path, "rb") as handle:
        content = handle.read()
    mode = os.stat(path).st_mode & 0o7777
    targets = [t for t in remote.node_targets(args.nodes, include_master=False) if not t.local]
    results = remote.copy_to_nodes(targets, path, content, mode)
    failed = 0
    for name, result in sorted(results.items()):
        if not result.ok:
            failed += 1
            stderr(f"Copy of file {path} to node {name} failed: {result.reason()}")
    stdout(f"Copied {path} to {len(results) - failed} of {len(results)} node(s)")
    return 1 if failed else 0


def run_command(args: argparse.Namespace) -> int:
    """``command``: run a shell command on every (or the given) online node."""
    if not args.command or not " ".join(args.command).strip():
        raise OpPrereqError("gnt-cluster command needs a command to run", ECODE_INVAL)
    command = " ".join(shlex.quote(word) if len(args.command) > 1 else word
                       for word in args.command)
    targets = remote.node_targets(args.nodes, include_master=not args.skip_master)
    results = remote.run_on_nodes(targets, command, args.timeout)
    rc = 0
    for name in sorted(results):
        result = results[name]
        stdout("-" * 48)
        stdout(f"node: {name}")
        output = (result.stdout + result.stderr).rstrip("\n")
        if output:
            stdout(output)
        stdout(f"return code = {result.rc}")
        rc = rc or (1 if result.rc else 0)
    return rc


def _watcher_file() -> str:
    return str(settings.paths().data_dir / "watcher.pause")


def watcher(args: argparse.Namespace) -> int:
    """``watcher pause DURATION|continue|info``: the watcher's pause file."""
    from gnt.cli._params import parse_timespec

    path = _watcher_file()
    if args.action == "pause":
        if not args.duration:
            raise OpPrereqError("watcher pause needs a duration (e.g. 30m, 1h)")
        until = time.time() + parse_timespec(args.duration)
        if not os.path.isdir(os.path.dirname(path)):
            raise OpPrereqError(f"No cluster data directory {os.path.dirname(path)}: is this"
                                " node part of a cluster?", ECODE_INVAL)
        with open(path, "w", encoding="ascii") as handle:
            handle.write(f"{int(until)}\n")
        stdout(f"The watcher is paused until {time.ctime(until)}.")
        return 0
    if args.action == "continue":
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        stdout("The watcher is no longer paused.")
        return 0
    paused = watcher_paused_until()
    stdout(f"The watcher is paused until {time.ctime(paused)}." if paused
           else "The watcher is not paused.")
    return 0


def watcher_paused_until() -> float | None:
    """End of the watcher pause (epoch seconds), or None when not paused."""
    try:
        with open(_watcher_file(), encoding="ascii") as handle:
            until = float(handle.read().strip())
    except (OSError, ValueError):
        return None
    return until if until > time.time() else None


def register(subs: Any) -> None:
    """Add these commands to the gnt-cluster parser."""
    p = add_command(subs, "master-failover", master_failover,
                    "Make this node (a master candidate) the master")
    p.add_argument("--no-voting", action="store_true",
                   help="Do not ask the other nodes (two-node clusters; dangerous)")
    p.add_argument("--yes-do-it", action="store_true", help=argparse.SUPPRESS)
    add_command(subs, "getmaster", show_master, "Show the master node name")
    p = add_command(subs, "redist-conf", redist_conf,
                    "Push the configuration to every online node")
    add_submit_options(p, dry_run=False)
    p = add_command(subs, "copyfile", copy_file, "Copy a file to the other nodes")
    p.add_argument("-n", "--node", dest="nodes", action="append", metavar="NODE",
                   help="Only to this node (repeatable)")
    p.add_argument("file", metavar="FILE")
    p = add_command(subs, "command", run_command, "Run a command on the nodes")
    p.add_argument("-n", "--node", dest="nodes", action="append", metavar="NODE",
                   help="Only on this node (repeatable)")
    p.add_argument("-M", "--skip-master", action="store_true", help="Not on the master")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    p = add_command(subs, "watcher", watcher, "Pause, continue or show the watcher")
    p.add_argument("action", choices=("pause", "continue", "info"))
    p.add_argument("duration", nargs="?")
