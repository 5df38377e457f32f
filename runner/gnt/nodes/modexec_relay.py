"""Relayed requests of the warm module interpreter's server (:mod:`gnt.nodes.modexec_server`
imports this file from beside itself; the nodes' bundle installs it).

The master reaches a node's server through a Unix socket forwarded over its SSH control master
(the ``gnt.cluster.ssh`` connection), which cannot carry descriptors. Such a request has no
header and no descriptors. The server runs it as a session of its own: with the environment,
directory and umask it was started with (those of the SSH session of the module task that
started it, as every task over SSH gets), and this file's child relays the module's output as
frames (:func:`gnt.nodes.modexec.relay` reads them):

- the server answers ``S`` (started) before it forks, so a client that gets no ``S`` knows that
  nothing ran and may run the task another way;
- the relaying child (a new process group, killed if the client goes away) forks the module
  with pipes as stdout and stderr and sends what comes out as ``O`` and ``E`` frames;
- the server sends ``X`` with the exit code (a signal's ``128 + N``, as a shell reports it) when
  it has reaped the child.

Two kinds of server take relayed requests. One is the server of a node's bundle (its Ansible
source is the zip beside ``modexec.py``). It links its socket as
:data:`gnt.nodes.modexec.RELAY_LINK` beside ``modexec.py``. The other is a server without Ansible
(the node calls' server of the master's Python) whose starting client named a directory in
:data:`gnt.nodes.modexec.RELAY_DIR_ENV`. It links its socket there as
:data:`gnt.nodes.modexec.PYTHON_RELAY_LINK`. A server takes relayed requests only while its
files are the current ones (its fingerprint), and removes its link when it exits.

Standard library only; imports nothing of the coordinator but :mod:`gnt.nodes.modexec`.
"""

from __future__ import annotations

import _socket
import os
import sys
from collections.abc import Callable

if __package__:  # imported as gnt.nodes.modexec_relay (tests, type checks)
    from gnt.nodes import modexec
else:  # beside modexec.py, whose directory the server put on sys.path to import this file
    import modexec  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class Relay:
    """What a server needs to take relayed requests: its session (the header of a relayed
    request), its socket's stable link and whether its files are still the current ones."""

    def __init__(self, path: str, source: str, link: str, sock_path: str) -> None:
        self.path = path
        self.source = source
        self.link = link
        self.sock_path = sock_path
        umask = os.umask(0o077)
        os.umask(umask)
        try:
            cwd = os.getcwd()
        except OSError:  # started from a directory removed since
            cwd = os.environ.get("HOME") or "/"
        self.session = {"env": dict(os.environ), "cwd": cwd, "umask": umask}

    @classmethod
    def start(cls, path: str, source: str, sock_path: str) -> Relay | None:
        """The relay of the server at ``path`` serving payloads warmed from ``source``, with
        its link made; None when it takes no relayed requests (or cannot: a relay never stops
        the server serving its other requests)."""
        try:
            link = bundle_link(source) if source else python_link()
        except (OSError, ValueError):
            return None
        if link is None:
            return None
        relay = cls(path, source, link, sock_path)
        relay.publish()
        return relay

    def publish(self) -> None:
        """Point the stable link at this server's socket (replacing an older server's)."""
        temp = f"{self.link}.{os.getpid()}"
        try:
            os.symlink(self.sock_path, temp)
            os.replace(temp, self.link)
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass

    def withdraw(self) -> None:
        """Remove the stable link if it still points at this server."""
        try:
            if os.readlink(self.link) == self.sock_path:
                os.unlink(self.link)
        except OSError:
            pass

    def current(self) -> bool:
        """True while the server's files are those a client would start a server of now."""
        return os.path.basename(self.path) == modexec.fingerprint(self.source or None)


def bundle_link(source: str) -> str | None:
    """The stable link of a server of a node's bundle (``source``, the zip of Ansible's
    module_utils beside ``modexec.py``), None for a server of another source."""
    if not os.path.isabs(source):  # modexec.SITE: the interpreter's own Ansible
        return None
    here = os.path.dirname(os.path.abspath(modexec.__file__))
    name = os.path.basename(source)
    prefix, suffix = modexec.UTILS_ZIP.split("{version}")
    if (os.path.dirname(source) != here or not name.startswith(prefix)
            or not name.endswith(suffix)):
        return None
    return modexec.relay_link(here, name[len(prefix):len(name) - len(suffix)])


def python_link() -> str | None:
    """The stable link of a server without Ansible (the node calls' server of this Python) in
    the directory its starting client's :data:`modexec.RELAY_DIR_ENV` names, when that is a
    directory of this user's that no one else can write to; else None."""
    directory = os.environ.get(modexec.RELAY_DIR_ENV, "")
    if not os.path.isabs(directory):
        return None
    try:
        info = os.stat(directory)
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return modexec.python_relay_link(directory, sys.executable)


def run_relayed(header: dict, payload: bytes, conn: _socket.socket, tmp: str,
                run_payload: Callable[..., NoReturn]) -> NoReturn:
    """In the server's forked child: run the payload in a child of this process with pipes as
    its output and relay that output on ``conn``; exit with the module's exit code."""
    import signal

    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        pid = os.fork()
        if pid == 0:
            conn.close()
            os.close(out_r)
            os.close(err_r)
            run_payload(header, payload, [null, out_w, err_w], tmp, new_session=False)
        for fd in (null, out_w, err_w):
            os.close(fd)
        _pump(conn, {out_r: modexec.STDOUT, err_r: modexec.STDERR})
        status = os.waitpid(pid, 0)[1]
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            code = 128 - code
    except BaseException:  # noqa: BLE001 - say why on the module's stderr, then exit
        import traceback

        try:
            conn.sendall(modexec.frame(modexec.STDERR, traceback.format_exc().encode()))
        except OSError:
            pass
    finally:
        os._exit(code)


def _pump(conn: _socket.socket, tags: dict[int, bytes]) -> None:
    """Send what comes out of the pipes ``tags`` names as frames of their tag, until every
    writer closed them (a client gone: the rest is read and dropped); close them."""
    gone: list[int] = []

    def send(fd: int, data: bytes) -> None:
        if not gone:
            try:
                conn.sendall(modexec.frame(tags[fd], data))
            except OSError:
                gone.append(fd)

    try:
        modexec.drain(list(tags), send)
    finally:
        for fd in tags:
            os.close(fd)


def exit_frame(code: int) -> bytes:
    """The last frame of a relayed request: the relaying child's exit code."""
    return modexec.frame(modexec.EXITED, str(code).encode("ascii"))
