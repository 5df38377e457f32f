"""A warm module interpreter for a node: Ansible's module payloads run in forks of a process
that has already imported what modules import (the standard library parts, Ansible's
``module_utils.basic`` and libvirt), instead of in a fresh interpreter each.

Two roles, in this file and the server's (``modexec_server.py`` beside it): standard library
only, nothing of the coordinator.

- **client** (:func:`client`, started by the launcher :func:`launcher_script` writes): what
  Ansible starts as the module interpreter (``ansible_python_interpreter``), once per module
  task, so it starts light: it imports this file as a module (byte-compiled once, not
  compiled again per task as a script is) and only C parts of the standard library
  (``_socket``, no ``json``). With pipelining, Ansible writes the module's payload (the
  AnsiballZ script) to its stdin. The client reads it, hands it with its environment, working
  directory, umask and its stdout/stderr descriptors to the server, waits for the module's exit
  code and exits with it. When no server answers it starts one; when that fails too it runs
  the payload in a fresh interpreter as Ansible would have.
- **server** (``python -I modexec.py --serve DIR``, :mod:`gnt.nodes.modexec_server`): imports
  what payloads import, listens on ``DIR/sock`` (``DIR`` private to root) and forks one child
  per request, which runs the payload with the client's descriptors, environment, directory
  and umask. It exits after :data:`IDLE_TIMEOUT` seconds without requests.

A fork inherits the server's imports, so they must be made from the same files the payload
carries. Ansible's ``module_utils`` are warmed only from a source of the payload's own Ansible
version (read from the payload's ``_ansible_version``): a zip ``ansible-<version>.zip`` next
to this file (how the other nodes get them, see :mod:`gnt.nodes.modexec_bundle`), else the
interpreter's installed Ansible when its version is the same (the master node); else they are
not warmed. The server is keyed by a fingerprint of the interpreter, that source, libvirt,
this file and the ones beside it (:data:`BESIDE`) and the namespaces: the socket's directory
name. A change to any of them makes a
new server; the old one idles out.
"""

from __future__ import annotations

import _socket
import os
import struct
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: a client starts per module task
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

#: The name of the zip of Ansible's module_utils for one version, next to this file.
UTILS_ZIP = "ansible-{version}.zip"
#: The server warms Ansible from the interpreter's own installation.
SITE = "site"
#: The files the server imports from beside this one (part of its fingerprint).
BESIDE = ("modexec_server.py", "modexec_cache.py", "modexec_relay.py")
_VERSION_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-_")
#: This file, as the master runs it: the client and the server of its warm interpreters.
PROGRAM = os.path.abspath(__file__)
IDLE_TIMEOUT = 300.0
START_TIMEOUT = 10.0
#: Where servers live: one private directory per fingerprint (``GNT_MODEXEC_DIR`` moves it,
#: for tests; it must be root's alone, else modules run in fresh interpreters).
RUN_DIR = os.environ.get("GNT_MODEXEC_DIR") or "/run/gnt-modexec"
#: Not passed on to a server: it is not part of the run whose module started it (the
#: coordinator finds a run's processes by this marker) and serves every later run.
SERVER_ENV_DROP = ("GNT_ANSIBLE_RUN",)
HEADER = struct.Struct("!II")
#: A relayed request's answer is frames (:func:`relay`): a tag, the data's length, the data.
FRAME = struct.Struct("!cI")
STARTED, STDOUT, STDERR, EXITED = b"S", b"O", b"E", b"X"
#: The stable name, beside a node's ``modexec.py``, of the socket of its server for payloads
#: of one Ansible version (a symbolic link the server makes): what the master forwards to.
RELAY_LINK = "relay-v1-{version}.sock"
#: The stable name of the socket of a server without Ansible (the node calls' server of one
#: Python, ``{key}`` a hash of its path), in the directory its client's :data:`RELAY_DIR_ENV`
#: names.
PYTHON_RELAY_LINK = "relay-v1-python-{key}.sock"
RELAY_DIR_ENV = "GNT_MODEXEC_RELAY_DIR"


def payload_version(payload: bytes) -> str | None:
    """The Ansible version that built ``payload`` (its ``_ansible_version`` argument), None
    when it does not say."""
    at = payload.find(b'"_ansible_version"')
    if at < 0:
        return None
    rest = payload[at + len(b'"_ansible_version"'):at + 80]
    colon = rest.find(b":")
    start = rest.find(b'"', colon + 1)
    end = rest.find(b'"', start + 1)
    if colon < 0 or start < 0 or end < 0 or rest[colon + 1:start].strip():
        return None
    value = rest[start + 1:end]
    if not value or not set(value) <= _VERSION_CHARS:
        return None
    return value.decode()


def _installed_ansible_version() -> str | None:
    """The version of the Ansible this interpreter would import (read, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("ansible")
    if spec is None or not spec.origin:
        return None
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "release.py"), "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(b"__version__"):
            value = line.partition(b"=")[2].strip().strip(b"'\"")
            return value.decode() if value and set(value) <= _VERSION_CHARS else None
    return None


def ansible_source(version: str | None) -> str | None:
    """Where a server for payloads of Ansible ``version`` imports ``module_utils`` from: the
    zip of that version next to this file, :data:`SITE` when the installed Ansible is that
    version, else None (not warmed)."""
    if not version:
        return None
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           UTILS_ZIP.format(version=version))
    if os.path.isfile(bundled):
        return bundled
    return SITE if _installed_ansible_version() == version else None


def fingerprint(source: str | None = SITE, python: str | None = None) -> str:
    """What the server's imports depend on: this interpreter (named ``python``, by default
    as it was started), this file, the Ansible source (:func:`ansible_source`) and the
    libvirt package it would import (found without importing them); and the namespaces it
    runs in."""
    import importlib.util

    parts = [python or sys.executable, sys.version, f"ansible:{source}"]
    # a server serves only its own namespaces (the lab's nodes share one file system)
    for kind in ("mnt", "net", "pid", "uts"):
        try:
            parts.append(f"{kind}:{os.stat(f'/proc/self/ns/{kind}').st_ino}")
        except OSError:
            pass
    here = os.path.abspath(__file__)
    paths = [here] + [os.path.join(os.path.dirname(here), name) for name in BESIDE]
    if source and source != SITE:
        paths.append(source)
    for name in ("ansible", "libvirt") if source == SITE else ("libvirt",):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            paths.append(spec.origin)
            if spec.submodule_search_locations:
                paths.append(os.path.join(os.path.dirname(spec.origin), "release.py"))
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return _sha256("\n".join(parts).encode())[:20]


def _sha256(data: bytes) -> str:
    """SHA-256 of ``data`` in hex, from the C module when there is one (``hashlib`` takes as
    long to import as the rest of the client)."""
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # Python 3.12 and later
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


def client_code(modexec_path: str) -> str:
    """Python code (for ``python -I -c``) running :func:`client` from ``modexec_path``
    imported as a module."""
    return (f"import sys; sys.path.append({os.path.dirname(modexec_path)!r}); "
            f"import modexec; sys.exit(modexec.client())")


def launcher_script(python: str, modexec_path: str, comment: str) -> str:
    """The shell script Ansible runs as the module interpreter: ``python`` running
    :func:`client_code`."""
    import shlex

    code = client_code(modexec_path)
    return f"#!/bin/sh\n# {comment}\nexec {shlex.quote(python)} -I -c {shlex.quote(code)}\n"


def is_launcher(path: str, python: str, modexec_path: str) -> bool:
    """True when the file ``path`` is a launcher :func:`launcher_script` wrote for ``python``
    and ``modexec_path`` (whatever its comment line)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1 << 16)
    except (OSError, ValueError):
        return False
    expected = launcher_script(python, modexec_path, "").splitlines()
    lines = text.splitlines()
    return len(lines) == len(expected) and lines[0::2] == expected[0::2] \
        and lines[1].startswith("# ")


def server_dir(source: str | None = SITE, python: str | None = None) -> str:
    """The private directory of the current server of this interpreter (named ``python``)
    and Ansible source."""
    return os.path.join(RUN_DIR, fingerprint(source, python))


# ---------------------------------------------------------------------------------------
# client


def _connect(path: str) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(path, "sock"))
    except OSError:
        sock.close()
        return None
    return sock


def _start_server(path: str, source: str | None, python: str | None = None
                  ) -> _socket.socket | None:
    """Start a server for ``path`` and connect to it. Clients that race take turns on a
    lock file; the first starts the server, the others find it answering."""
    import fcntl

    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
    if os.stat(RUN_DIR).st_uid != os.getuid() or os.stat(RUN_DIR).st_mode & 0o077:
        return None  # not a directory of ours alone: do not trust it
    with open(path + ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(path)
        if sock is not None:
            return sock
        os.makedirs(path, mode=0o700, exist_ok=True)
        pid = os.fork()
        if pid == 0:
            try:
                if os.fork() == 0:  # detached: not a child of this module's process
                    os.setsid()
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    env = {key: value for key, value in os.environ.items()
                           if key not in SERVER_ENV_DROP}
                    python = python or sys.executable
                    os.execve(python, [python, "-I", os.path.abspath(__file__), "--serve",
                                       path, source or ""], env)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            sock = _connect(path)
            if sock is not None:
                return sock
            time.sleep(0.01)
    return None


def server_for(payload: bytes, python: str | None = None) -> _socket.socket | None:
    """A connection to the server for ``payload`` of the client of ``python`` (by default
    this interpreter; started when none answers), None when there is none to be had."""
    source = ansible_source(payload_version(payload))
    path = server_dir(source, python)
    return _connect(path) or _start_server(path, source, python)


def _fresh_interpreter(payload: bytes) -> NoReturn:
    """Run the payload as Ansible would have: a new interpreter reading it on stdin."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        _write_all(write_end, payload)
        os._exit(0)
    os.close(write_end)
    os.dup2(read_end, 0)
    os.close(read_end)
    os.execv(sys.executable, [sys.executable])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def encode_header(header: dict) -> bytes:
    """A request's header (``cwd``, ``umask``, ``env``) as NUL-separated fields: none of them
    can hold a NUL, and the client need not import ``json``."""
    fields = [header["cwd"], str(int(header["umask"]))]
    fields += [f"{key}={value}" for key, value in header["env"].items()]
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def _send(sock: _socket.socket, header: dict, payload: bytes, fds: list[int]) -> None:
    head = encode_header(header)
    sock.sendmsg([HEADER.pack(len(head), len(payload)) + head],
                 [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
    sock.sendall(payload)


def client() -> int:
    """Run the payload on stdin through the server; returns the module's exit code."""
    payload = sys.stdin.buffer.read()
    sock = server_for(payload)
    if sock is None:
        _fresh_interpreter(payload)
    umask = os.umask(0)
    os.umask(umask)
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            send_request(sock, payload, [null, 1, 2], umask)
        finally:
            os.close(null)
        rc = await_exit(sock)
    finally:
        sock.close()
    if rc is None:
        sys.stderr.write(GONE)
        return 1
    return rc


#: What a module's stderr gets when its server answers no exit code.
GONE = "modexec: the module interpreter went away\n"


def send_request(sock: _socket.socket, payload: bytes, fds: list[int], umask: int) -> None:
    """Hand ``payload`` to the server on ``sock``, to run with ``fds`` as its stdin, stdout
    and stderr, this process's environment and directory, and ``umask``."""
    _send(sock, {"env": dict(os.environ), "cwd": os.getcwd(), "umask": umask}, payload, fds)


def await_exit(sock: _socket.socket) -> int | None:
    """The exit code of the module of the request on ``sock``, once it ended; None when the
    server went away without one."""
    answer = b""
    while not answer.endswith(b"\n"):
        try:
            chunk = sock.recv(256)
        except OSError:  # the server went away (reset)
            break
        if not chunk:
            break
        answer += chunk
    try:
        return int(answer.decode("ascii"))
    except ValueError:
        return None


def drain(fds: list[int], on_data: Callable[[int, bytes], object]) -> None:
    """Read the pipes ``fds`` together until every writer closed them (a module may fill
    either first), handing each chunk to ``on_data(fd, chunk)``."""
    import selectors

    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        remaining = len(fds)
        while remaining:
            for key, _mask in sel.select():
                data = os.read(key.fd, 1 << 16)
                if data:
                    on_data(key.fd, data)
                else:
                    sel.unregister(key.fd)
                    remaining -= 1


def relay_link(directory: str, version: str) -> str:
    """The stable path of the relay socket of the server for payloads of Ansible ``version``
    of the ``modexec.py`` in ``directory`` (:data:`RELAY_LINK`)."""
    return os.path.join(directory, RELAY_LINK.format(version=version))


def python_relay_link(directory: str, python: str) -> str:
    """The stable path of the relay socket of the server without Ansible of ``python``, in
    ``directory`` (:data:`PYTHON_RELAY_LINK`)."""
    return os.path.join(directory, PYTHON_RELAY_LINK.format(key=_sha256(python.encode())[:16]))


def forward_path(control_dir: str, user: str, host: str, port: object, remote: str) -> str:
    """The master's end of the forward to ``remote`` on ``user@host:port``: a socket in the
    private directory of the SSH control masters, named by a hash (socket paths are short)."""
    key = f"{user}@{host}:{port}:{remote}"
    return os.path.join(control_dir, "relay-" + _sha256(key.encode())[:20])


def connect_forward(path: str) -> _socket.socket | None:
    """A connection to the master's end ``path`` of a forward (:func:`forward_path`), None
    when there is none; one left by a control master that exited (refused) is removed, to be
    set up again."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except ConnectionRefusedError:
        sock.close()
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    except OSError:
        sock.close()
        return None
    return sock


def frame(tag: bytes, data: bytes = b"") -> bytes:
    """One frame of a relayed answer (:data:`FRAME`)."""
    return FRAME.pack(tag, len(data)) + data


def relay(sock: _socket.socket, payload: bytes) -> tuple[int, bytes, bytes] | None:
    """Run ``payload`` through the server at the other end of ``sock``, a connection that
    cannot carry descriptors (a socket forwarded over SSH): the server runs the module as a
    session of its own would (its environment, directory and umask) and relays its output.

    Returns ``(exit code, stdout, stderr)``, or None when the server did not take the request
    (nothing ran: no server, a server of other files, the connection closed before it
    answered). A timeout set on ``sock`` raises :class:`TimeoutError` (closing ``sock`` then
    stops the module)."""
    try:
        # no header: the server's own session (the connection stays open both ways: the
        # server takes its end of file as the client gone, and stops the module)
        sock.sendall(HEADER.pack(0, len(payload)) + payload)
    except OSError:
        return None
    reader = _FrameReader(sock)
    first = reader.next()
    if first is None or first[0] != STARTED:
        return None
    output: dict[bytes, list[bytes]] = {STDOUT: [], STDERR: []}
    while True:
        got = reader.next()
        if got is None:
            return 1, b"".join(output[STDOUT]), b"".join(output[STDERR]) + GONE.encode()
        tag, data = got
        if tag == EXITED:
            try:
                code = int(data.decode("ascii"))
            except ValueError:
                code = 1
            return code, b"".join(output[STDOUT]), b"".join(output[STDERR])
        if tag in output:
            output[tag].append(data)


class _FrameReader:
    """Frames (:data:`FRAME`) read from a socket, one at a time."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _read(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                raise
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def next(self) -> tuple[bytes, bytes] | None:
        """The next frame's ``(tag, data)``, None at the end of the connection."""
        head = self._read(FRAME.size)
        if head is None:
            return None
        tag, size = FRAME.unpack(head)
        data = self._read(size) if size else b""
        return None if data is None else (tag, data)


def import_beside(name: str):  # noqa: ANN201 - a module
    """Import module ``name`` from the file beside this one (one of :data:`BESIDE`): isolated
    mode (``-I``) does not put a script's directory on ``sys.path``."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        return __import__(name)
    finally:
        del sys.path[0]


def _serve_main(argv: list[str]) -> int:
    """``modexec.py --serve DIR [SOURCE]``: run :func:`modexec_server.serve` from beside this
    file (the server's process keeps this file's name in ``ps``)."""
    return import_beside("modexec_server").serve(argv[2], argv[3] if len(argv) == 4 else SITE)


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--serve":
        sys.exit(_serve_main(sys.argv))
    sys.exit(client())
