"""A warm module interpreter for a node: Ansible's module payloads run in forks of a process
that has already imported what modules import (the standard library parts, Ansible's
``module_utils.basic`` and libvirt), instead of in a fresh interpreter each.

Two roles in this one file, which uses the standard library only and imports nothing of the
coordinator:

- **client** (:func:`client`, started by the launcher :func:`launcher_script` writes): what
  Ansible starts as the module interpreter (``ansible_python_interpreter``), once per module
  task, so it starts light: it imports this file as a module (byte-compiled once, not
  compiled again per task as a script is) and only C parts of the standard library
  (``_socket``, no ``json``). With pipelining, Ansible writes the module's payload (the
  AnsiballZ script) to its stdin. The client reads it, hands it with its environment, working
  directory, umask and its stdout/stderr descriptors to the server, waits for the module's exit
  code and exits with it. When no server answers it starts one; when that fails too it runs
  the payload in a fresh interpreter as Ansible would have.
- **server** (``python -I modexec.py --serve DIR``): imports :data:`WARM_MODULES`, listens on
  ``DIR/sock`` (``DIR`` private to root) and forks one child per request; the child takes the
  client's descriptors, environment, directory and umask and executes the payload as
  ``__main__``. If the client goes away (Ansible stopped the task), the child's process group
  is killed. The server exits after :data:`IDLE_TIMEOUT` seconds without requests.

A fork inherits the server's imports, so they must be made from the same files the payload
carries. Ansible's ``module_utils`` are warmed only from a source of the payload's own Ansible
version (read from the payload's ``_ansible_version``): a zip ``ansible-<version>.zip`` next
to this file (how the other nodes get them, see :mod:`gnt.nodes.modexec_bundle`), else the
interpreter's installed Ansible when its version is the same (the master node); else they are
not warmed. The server is keyed by a fingerprint of the interpreter, that source, libvirt,
this file and the namespaces: the socket's directory name. A change to any of them makes a
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
    from typing import NoReturn

#: Imported once by the server (each is optional): what module payloads import anyway.
WARM_MODULES = ("json", "subprocess", "tempfile", "zipfile", "base64", "shutil", "locale",
                "syslog", "platform", "datetime", "hashlib", "selectors", "shlex", "uuid",
                "xml.etree.ElementTree", "threading", "struct", "fcntl", "math", "collections",
                "libvirt", "jinja2")
#: Imported too when the server has a source of the payload's Ansible version.
WARM_ANSIBLE = ("ansible.module_utils.basic",)
#: The name of the zip of Ansible's module_utils for one version, next to this file.
UTILS_ZIP = "ansible-{version}.zip"
#: The server warms Ansible from the interpreter's own installation.
SITE = "site"
_VERSION_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-_")
IDLE_TIMEOUT = 300.0
START_TIMEOUT = 10.0
#: Where servers live: one private directory per fingerprint (``GNT_MODEXEC_DIR`` moves it,
#: for tests; it must be root's alone, else modules run in fresh interpreters).
RUN_DIR = os.environ.get("GNT_MODEXEC_DIR") or "/run/gnt-modexec"
#: Not passed on to a server: it is not part of the run whose module started it (the
#: coordinator finds a run's processes by this marker) and serves every later run.
SERVER_ENV_DROP = ("GNT_ANSIBLE_RUN",)
_HEADER = struct.Struct("!II")


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
    paths = [here, os.path.join(os.path.dirname(here), "modexec_cache.py")]
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


def launcher_script(python: str, modexec_path: str, comment: str) -> str:
    """The shell script Ansible runs as the module interpreter: ``python`` running
    :func:`client` from ``modexec_path`` imported as a module."""
    import shlex

    code = (f"import sys; sys.path.append({os.path.dirname(modexec_path)!r}); "
            f"import modexec; sys.exit(modexec.client())")
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


def decode_header(data: bytes) -> dict:
    """The header :func:`encode_header` wrote."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) < 2:
        raise ValueError("short header")
    env = dict(field.partition("=")[::2] for field in fields[2:])
    return {"cwd": fields[0], "umask": int(fields[1]), "env": env}


def _send(sock: _socket.socket, header: dict, payload: bytes, fds: list[int]) -> None:
    head = encode_header(header)
    sock.sendmsg([_HEADER.pack(len(head), len(payload)) + head],
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
        chunk = sock.recv(256)
        if not chunk:
            break
        answer += chunk
    try:
        return int(answer.decode("ascii"))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# server


def _start_code_cache(run_dir: str) -> None:
    """Cache compiled code under ``run_dir`` with ``modexec_cache.py`` from beside this file
    (isolated mode, ``-I``, does not put a script's directory on ``sys.path``); without it
    (a copy of this file alone) the server compiles as before."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import modexec_cache
    except ImportError:
        return
    finally:
        del sys.path[0]
    modexec_cache.start(os.path.join(run_dir, modexec_cache.CODE_CACHE))


def _warm_up(source: str) -> None:
    """Import :data:`WARM_MODULES`, and :data:`WARM_ANSIBLE` from ``source`` (a zip, SITE, or
    empty: not at all). This file's directory leaves ``sys.path`` (no module of it is a
    payload's to import)."""
    import importlib

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if entry != here]
    names: tuple[str, ...] = WARM_MODULES
    if source:
        names += WARM_ANSIBLE
        if source != SITE:
            sys.path.insert(0, source)
            sys.meta_path.append(AnsibleBesideUtils)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional: the payload imports what it needs
            pass


class AnsibleBesideUtils:
    """Finds ``ansible.<name>`` other than ``module_utils`` on ``sys.path`` for a server whose
    ``ansible`` package comes from a zip of ``module_utils`` only: the payload of one of
    Ansible's own modules carries ``ansible/modules/...`` in its zip, which the wrapper puts
    on ``sys.path``, but the warm package's ``__path__`` is the utils zip alone."""

    @staticmethod
    def find_spec(fullname: str, path=None, target=None):  # noqa: ANN001, ANN205 - importlib's
        parts = fullname.split(".")
        if len(parts) != 2 or parts[0] != "ansible":
            return None
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(fullname, [os.path.join(entry, "ansible")
                                               for entry in sys.path if entry], target)


def _receive(conn: _socket.socket) -> tuple[dict, bytes, list[int]]:
    msg, ancdata, _flags, _addr = conn.recvmsg(_HEADER.size, _socket.CMSG_SPACE(3 * 4))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(data) // 4}i", data[:len(data) - len(data) % 4]))
    if len(msg) != _HEADER.size:
        raise ValueError("short request")
    head_len, payload_len = _HEADER.unpack(msg)
    data = b""
    while len(data) < head_len + payload_len:
        chunk = conn.recv(min(1 << 20, head_len + payload_len - len(data)))
        if not chunk:
            raise ValueError("truncated request")
        data += chunk
    return decode_header(data[:head_len]), data[head_len:], fds


def _run_payload(header: dict, payload: bytes, fds: list[int], tmp: str) -> None:
    """In the forked child: become the module process and execute the payload, with ``tmp``
    (removed by the server when the child is gone) as Python's temporary directory. Never
    returns."""
    import signal  # the server's already (the client does without its enum import)

    rc = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in any Python process
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import io
        import types

        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      line_buffering=False)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        os.environ.clear()
        os.environ.update(header["env"])
        import tempfile

        # Ansible's wrapper unpacks the payload into a temporary directory and removes it on
        # the way out; a module killed (task stopped, canceled, timed out) cannot, the server can
        tempfile.tempdir = tmp
        os.chdir(header["cwd"])
        os.umask(int(header["umask"]))
        sys.argv = [""]
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        code = compile(payload, "<stdin>", "exec")
        try:
            exec(code, main.__dict__)  # noqa: S102 - the module payload Ansible sent
            rc = 0
        except SystemExit as done:
            rc = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 - report like an interpreter would, then exit
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(rc)


def serve(path: str, source: str = SITE) -> int:
    """Serve requests on ``path``/sock until idle for :data:`IDLE_TIMEOUT` seconds, with
    Ansible's module_utils warmed from ``source`` (see :func:`ansible_source`; empty: none)."""
    import selectors
    import signal

    _start_code_cache(os.path.dirname(os.path.abspath(path)))
    _warm_up(source)
    sock_path = os.path.join(path, "sock")
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        listener.bind(sock_path)
    finally:
        os.umask(old)
    listener.listen(128)
    pid_file = os.path.join(path, "pid")
    with open(pid_file, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    children: dict[int, tuple[_socket.socket, str]] = {}
    last = time.monotonic()
    wake_r, wake_w = os.pipe()  # SIGCHLD wakes the loop (select alone is just restarted)
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_args: None)
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))  # clean up on the way out
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    try:
        while children or time.monotonic() - last < IDLE_TIMEOUT:
            for key, _mask in sel.select(timeout=5.0):
                if key.data == "wake":
                    _drain(wake_r)
                elif key.data is None:
                    conn, _addr = listener.accept()
                    last = time.monotonic()
                    _start(conn, listener, sel, children)
                else:  # a client's socket: it went away while its module runs
                    pid = key.data
                    sel.unregister(key.fileobj)
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
            _reap(children, sel)
    finally:
        for name in (sock_path, pid_file):
            try:
                os.unlink(name)
            except OSError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            pass
    return 0


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _child_tmp(env: dict) -> str:
    """A new private directory for one module's temporary files, where the request's
    ``TMPDIR`` (else the system default) says."""
    import tempfile

    base = env.get("TMPDIR")
    return tempfile.mkdtemp(prefix="gnt-module-", dir=base if base and os.path.isdir(base) else None)


def _start(conn: _socket.socket, listener: _socket.socket, sel, children) -> None:
    fds: list[int] = []
    tmp = ""
    try:
        header, payload, fds = _receive(conn)
        tmp = _child_tmp(header.get("env") or {})
        pid = os.fork()
        if pid == 0:
            listener.close()
            conn.close()
            _run_payload(header, payload, fds, tmp)
    except (OSError, ValueError):
        conn.close()
        _remove_tree(tmp)
        return
    finally:
        for fd in fds:
            os.close(fd)
    children[pid] = (conn, tmp)
    sel.register(conn, 1, pid)


def _remove_tree(path: str) -> None:
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _reap(children: dict, sel) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        child = children.pop(pid, None)
        if child is None:
            continue
        conn, tmp = child
        _remove_tree(tmp)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode("ascii"))
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else SITE))
    sys.exit(client())
