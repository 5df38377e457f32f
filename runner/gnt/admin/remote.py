"""Daemon-less work a gnt-* command does on other nodes over SSH: ``gnt-cluster copyfile`` and
``command`` (nodes from this node's ssconf files) and the console of an instance on its primary
node. The commands parse and print; the SSH part is here, through :mod:`gnt.nodes.ssh`."""

from __future__ import annotations

import shlex
from typing import Any

from gnt.core import resolver, ssconf
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.nodes import ssh
from gnt.nodes.ssh import Target

__all__ = ["Target", "copy_to_nodes", "node_targets", "remote_argv", "run_on_nodes"]


def node_targets(names: list[str] | None, include_master: bool) -> list[ssh.Target]:
    """Online nodes from this node's ssconf files (optionally only ``names``)."""
    ips = dict(line.split(None, 1) for line in ssconf.read_list("node_primary_ips"))
    online = set(ssconf.read_list("online_nodes"))
    master = ssconf.read("master_node")
    if not ips:
        raise OpPrereqError("This node has no ssconf files: is it part of a cluster?", ECODE_INVAL)
    chosen = sorted(online)
    if names:
        unknown = []
        chosen = []
        for name in names:
            full = name if name in ips else next(
                (n for n in ips if n.split(".")[0] == name), None)
            if full is None:
                unknown.append(name)
            else:
                chosen.append(full)
        if unknown:
            raise OpPrereqError(f"Unknown node(s): {', '.join(unknown)}")
    me = resolver.this_node_name().split(".")[0]
    return [ssh.Target(name, ips[name], local=name.split(".")[0] == me)
            for name in chosen if include_master or name != master]


def copy_to_nodes(targets: list[Target], path: str, content: bytes, mode: int) -> dict[str, Any]:
    """Write ``content`` to ``path`` (with ``mode``) on every target at once; name -> result."""
    return ssh.run_parallel(targets, lambda t: ssh.write_file(t, path, content, mode))


def run_on_nodes(targets: list[Target], command: str, timeout: float) -> dict[str, Any]:
    """Run the shell ``command`` on every target at once; name -> result."""
    return ssh.run_parallel(targets, lambda t: ssh.run(t, command, timeout=timeout))


def remote_argv(target: Target, command: list[str], tty: bool) -> list[str]:
    """``ssh [-t] root@node 'command'``: ``command`` run on ``target``."""
    argv = ssh.ssh_argv(target)
    if tty:
        argv = argv[:-1] + ["-t"] + argv[-1:]
    return argv + [shlex.join(command)]
