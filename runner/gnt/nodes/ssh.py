"""Direct commands on nodes over SSH (and locally on the master), outside Ansible.

Playbooks are for changing nodes; this module is for the small, latency-bound things around
them: pushing ``config.data`` and ssconf files to nodes, reading a node's live figures, the
reachability check of ``gnt-node add``, ``gnt-cluster command``/``copyfile`` and the serial vote
of ``master-failover``. Connections reuse an SSH control master per node (ControlPersist), so a
command on a warm node costs a few milliseconds.

Host keys: every connection of the cluster's tools to a node of the cluster checks the node's
host key strictly against the cluster's known_hosts file (:func:`known_hosts_file`, written
from the config by :mod:`gnt.nodes.knownhosts`), looked up under the address connected to;
only the first contact of ``gnt-node add`` (``Target.first_contact``) accepts the key the node
presents, and the add then records it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gnt.core import settings
from gnt.nodes import sshkeys

DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where to run: a node name, its address, SSH port, whether it is this machine, and
    whether this is the first contact of ``gnt-node add`` (its host key not recorded yet)."""

    name: str
    address: str
    local: bool = False
    port: int = 22
    first_contact: bool = False   # a node joining: accept its host key (gnt-node add)


@dataclass
class Result:
    """What one command on one node did."""

    node: str
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def reason(self) -> str:
        """The last line of stderr (or the exit code) for error messages."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.rc}"


def control_dir() -> Path:
    """Directory of this cluster's SSH control sockets (0700), shared by the coordinator's own
    commands and Ansible's connections: one control master per node."""
    path = settings.paths().ansible_dir / "ssh-cm"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


CONTROL_PATH_NAME = "%C"  # ssh's hash of (local host, remote host, port, user)


KNOWN_HOSTS_NAME = "known_hosts"


def known_hosts_file() -> Path:
    """The cluster's known_hosts file (in the data dir: the same path on every node)."""
    return settings.paths().data_dir / KNOWN_HOSTS_NAME


def host_key_options(address: str = "") -> list[str]:
    """``ssh -o`` options checking a cluster node's host key strictly against the cluster's
    known_hosts file only (no prompt, nothing learnt into root's own ``known_hosts``). With
    ``address``, the key is looked up under that address (the file lists each node under its
    name and addresses), whatever ``HostKeyAlias`` root's ssh configuration sets."""
    options = ["-o", f"UserKnownHostsFile={known_hosts_file()}",
               "-o", "GlobalKnownHostsFile=/dev/null",
               "-o", "StrictHostKeyChecking=yes",
               "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no"]
    if address:
        options += ["-o", f"HostKeyAlias={address}"]
    return options


# The first contact of gnt-node add: the node's key is not recorded yet (or, for --readd of a
# reinstalled node, is stale); accept what it presents, learn nothing into any file. The add
# then reads and records the node's host keys over this connection.
FIRST_CONTACT_OPTIONS = ("-o", "UserKnownHostsFile=/dev/null",
                         "-o", "GlobalKnownHostsFile=/dev/null",
                         "-o", "StrictHostKeyChecking=accept-new",
                         "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
                         "-o", "LogLevel=ERROR")


def shared_options(first_contact: bool = False) -> list[str]:
    """The ``ssh -o`` options of every connection to a node, the coordinator's and Ansible's
    (see the executor): timeouts, host keys (:func:`host_key_options`, or the first contact's
    :data:`FIRST_CONTACT_OPTIONS`), the control master and the cluster key. The control path
    is added by each user (``-o ControlPath`` here, Ansible's own setting there) and names the
    same socket; so is the ``HostKeyAlias`` of the node's address."""
    host_keys = list(FIRST_CONTACT_OPTIONS) if first_contact else host_key_options()
    return ["-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            *host_keys,
            "-o", "ControlMaster=auto", "-o", "ControlPersist=120s",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
            *sshkeys.identity_args()]


def ssh_argv(target: Target, batch: bool = True,
             forward: tuple[str, str] | None = None) -> list[str]:
    """The ``ssh`` command line (without the remote command) for ``target``; ``forward``
    ``(local socket, remote socket)`` asks the control master to forward one to the other from
    then on (it outlives this command)."""
    argv = ["ssh", *shared_options(target.first_contact)]
    if not target.first_contact:
        argv += ["-o", f"HostKeyAlias={target.address}"]
    argv += ["-o", f"ControlPath={control_dir()}/{CONTROL_PATH_NAME}",
             "-p", str(target.port)]
    if batch:
        argv += ["-o", "BatchMode=yes"]
    if forward is not None:
        argv += ["-L", f"{forward[0]}:{forward[1]}"]
    return argv + [f"root@{target.address}"]


def remote_env() -> dict[str, str]:
    """Environment every node command gets: the cluster root and our tools first on PATH."""
    import sys

    return {"GNT_ROOT": str(settings.paths().root),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                     "/usr/sbin:/usr/bin:/sbin:/bin"])}


def run(target: Target, command: str, stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT, forward: tuple[str, str] | None = None) -> Result:
    """Run the shell ``command`` on ``target`` (locally for the master); never raises for a
    failed command or connection: the :class:`Result` says (ssh exits 255 when it cannot
    connect). ``forward``: see :func:`ssh_argv`."""
    env_prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in remote_env().items())
    if target.local:
        argv = ["/bin/sh", "-c", command]
        env = {**os.environ, **remote_env()}
    else:
        argv = ssh_argv(target, forward=forward) + [
            f"env {env_prefix} /bin/sh -c {shlex.quote(command)}"]
        env = None
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        return Result(target.name, 124, "", f"timed out after {timeout:.0f} s")
    except OSError as err:
        return Result(target.name, 127, "", str(err))
    return Result(target.name, proc.returncode, proc.stdout.decode(errors="replace"),
                  proc.stderr.decode(errors="replace"))


def unreachable(result: Result) -> bool:
    """True when ssh itself failed (could not connect or authenticate)."""
    return result.rc == 255


def write_file(target: Target, path: str, content: bytes, mode: int = 0o600,
               timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Atomically replace ``path`` on ``target`` with ``content`` (temp file + rename)."""
    directory = os.path.dirname(path) or "."
    tmp = f"{path}.tmp-gnt"
    command = (f"mkdir -p {shlex.quote(directory)} && umask 077 && cat > {shlex.quote(tmp)}"
               f" && chmod {mode:o} {shlex.quote(tmp)} && mv -f {shlex.quote(tmp)}"
               f" {shlex.quote(path)}")
    return run(target, command, stdin=content, timeout=timeout)


def map_parallel(keys: Iterable[str], func: Callable[[str], T], workers: int = 16
                 ) -> dict[str, T]:
    """``func(key)`` for every key at once (threads); key -> its result."""
    keys = list(keys)
    if len(keys) <= 1:
        return {key: func(key) for key in keys}
    with ThreadPoolExecutor(max_workers=min(workers, len(keys))) as pool:
        futures = {key: pool.submit(func, key) for key in keys}
        return {key: future.result() for key, future in futures.items()}


def run_parallel(targets: Iterable[Target], func: Callable[[Target], T]) -> dict[str, T]:
    """``func`` on every target at once; node name -> its result."""
    by_name = {target.name: target for target in targets}
    return map_parallel(by_name, lambda name: func(by_name[name]))
