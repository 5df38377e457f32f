"""Node calls relayed to a node's warm interpreter over the SSH control master (issue 11).

A node call to another node (:func:`gnt.nodes.rpc.call_target`) is a script for the warm
interpreter server of the master's Python on that node (:func:`gnt.nodes.agent.warm_request`).
Sent the usual way, it costs an SSH session, two shells and a client interpreter. The client
names the node's modexec directory in ``GNT_MODEXEC_RELAY_DIR``. The server it starts then
links its socket there under a stable name (:func:`gnt.nodes.modexec.python_relay_link`). The
call that finds no forward asks the control master to forward a private socket of the
master's to that link (``ssh -L`` on the call's own command line; the forward outlives it).
Later calls send the script through that socket as a relayed request
(:mod:`gnt.nodes.modexec_relay`): the server runs it as a session of its own and relays its
output and exit code.

When the relay is not there (no forward yet, the control master exited, no server or one of
older files), nothing ran, and the call goes over SSH as before. A call that times out in
the relay is stopped (the server kills it when the connection closes) and reported as over
SSH (exit 124).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from gnt.nodes import modexec, ssh


def forward_ends(target: ssh.Target) -> tuple[str, str]:
    """``(local, remote)``: the master's socket and the node's stable link of the node calls'
    server of this Python."""
    remote = modexec.python_relay_link(relay_dir(), sys.executable)
    local = modexec.forward_path(str(ssh.control_dir()), "root", target.address, target.port,
                                 remote)
    return local, remote


def relay_dir() -> str:
    """The node's directory the node calls' server links its socket in (the node's modexec
    directory: root's, not writable by others)."""
    from gnt.nodes.modexec_bundle import node_dir

    return str(node_dir())


def run(target: ssh.Target, command: str, script: bytes, timeout: float,
        stdin: Callable[[], bytes] | None = None) -> ssh.Result:
    """The result of the Python ``script`` run by the node's warm interpreter on ``target``
    when the forward and the node's server are there (relayed), else of the shell ``command``
    over SSH (setting the forward up for the next call), whose stdin is what ``stdin()``
    makes, only then (by default ``script``: a node call's command is a client handing its
    stdin to the warm interpreter)."""
    local, remote = forward_ends(target)
    relayed = _relayed(target, local, script, timeout)
    if relayed is not None:
        return relayed
    forward = None if os.path.exists(local) else (local, remote)
    return ssh.run(target, command, stdin=script if stdin is None else stdin(), timeout=timeout,
                   forward=forward)


def _relayed(target: ssh.Target, local: str, script: bytes, timeout: float
             ) -> ssh.Result | None:
    sock = modexec.connect_forward(local)
    if sock is None:
        return None
    sock.settimeout(timeout)
    try:
        answer = modexec.relay(sock, script)
    except TimeoutError:
        return ssh.Result(target.name, 124, "", f"timed out after {timeout:.0f} s")
    finally:
        sock.close()
    if answer is None:
        return None
    rc, stdout, stderr = answer
    return ssh.Result(target.name, rc, stdout.decode(errors="replace"),
                      stderr.decode(errors="replace"))
