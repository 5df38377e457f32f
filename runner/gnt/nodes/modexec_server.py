"""The server of the warm module interpreter (:mod:`gnt.nodes.modexec`, whose ``--serve``
runs :func:`serve` from beside itself; the nodes' bundle installs both files): it imports
:data:`WARM_MODULES` (and Ansible's ``module_utils`` from a source of the payloads' version),
listens on ``DIR/sock`` (``DIR`` private to root) and forks one child per request. The child
takes the client's descriptors, environment, directory and umask and executes the payload as
``__main__``. If the client goes away (Ansible stopped the task), the child's process group is
killed. The server exits after :data:`modexec.IDLE_TIMEOUT` seconds without requests.

Standard library only; imports nothing of the coordinator but :mod:`gnt.nodes.modexec`.
"""

from __future__ import annotations

import _socket
import functools
import gc
import os
import struct
import sys
import time
from collections.abc import Iterator
from typing import NoReturn

if __package__:  # imported as gnt.nodes.modexec_server (tests, type checks)
    from gnt.nodes import modexec, modexec_relay
else:  # beside modexec.py, which put this directory on sys.path to import this file
    import modexec  # type: ignore[no-redef]

    modexec_relay = modexec.import_beside("modexec_relay")

#: Imported once by the server (each is optional): what module payloads import anyway.
WARM_MODULES = ("json", "subprocess", "tempfile", "zipfile", "base64", "shutil", "locale",
                "syslog", "platform", "datetime", "hashlib", "selectors", "shlex", "uuid",
                "xml.etree.ElementTree", "threading", "struct", "fcntl", "math", "collections",
                "libvirt", "jinja2",
                # what every payload imported itself: the zip's name codecs, how it runs
                "encodings.cp437", "encodings.ascii", "runpy")
#: Imported too when the server has a source of the payload's Ansible version (the wrapper's
#: module loader and the JSON profiles of the arguments and the result: Ansible 2.19).
WARM_ANSIBLE = ("ansible.module_utils.basic",
                "ansible.module_utils._internal._ansiballz._loader",
                "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
                "ansible.module_utils._internal._json._profiles._module_legacy_m2c")


def decode_header(data: bytes) -> dict:
    """The header :func:`modexec.encode_header` wrote."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) < 2:
        raise ValueError("short header")
    env = dict(field.partition("=")[::2] for field in fields[2:])
    return {"cwd": fields[0], "umask": int(fields[1]), "env": env}


#: ``modexec_cache.split_payload`` once the code cache started (None: payloads compile whole).
_split_payload = None


def _start_code_cache(run_dir: str) -> None:
    """Cache compiled code under ``run_dir`` with ``modexec_cache.py`` from beside this file,
    and split payloads with it; without it (a copy of the files without it) the server
    compiles as before."""
    global _split_payload
    try:
        modexec_cache = modexec.import_beside("modexec_cache")
    except ImportError:
        return
    modexec_cache.start(os.path.join(run_dir, modexec_cache.CODE_CACHE))
    _split_payload = getattr(modexec_cache, "split_payload", None)


def _prepare(payload: bytes):  # noqa: ANN202 - (code, code, dict) or None
    """The payload's parts compiled ahead in the server (see ``split_payload``), or None."""
    if _split_payload is None:
        return None
    try:
        return _split_payload(payload)
    except Exception:  # noqa: BLE001 - the child compiles it whole and reports its errors
        return None


def _warm_up(source: str) -> None:
    """Import :data:`WARM_MODULES`, and :data:`WARM_ANSIBLE` from ``source`` (a zip, ``SITE``, or
    empty: not at all). This file's directory leaves ``sys.path`` (no module of it is a
    payload's to import)."""
    import importlib

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if entry != here]
    names: tuple[str, ...] = WARM_MODULES
    if source:
        names += WARM_ANSIBLE
        if source != modexec.SITE:
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


def _receive(conn: _socket.socket) -> tuple[dict | None, bytes, list[int]]:
    """A request's header (None for a relayed request, which has none), payload and
    descriptors."""
    msg, ancdata, _flags, _addr = conn.recvmsg(modexec.HEADER.size, _socket.CMSG_SPACE(3 * 4))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(data) // 4}i", data[:len(data) - len(data) % 4]))
    if len(msg) != modexec.HEADER.size:
        raise ValueError("short request")
    head_len, payload_len = modexec.HEADER.unpack(msg)
    data = b""
    while len(data) < head_len + payload_len:
        chunk = conn.recv(min(1 << 20, head_len + payload_len - len(data)))
        if not chunk:
            raise ValueError("truncated request")
        data += chunk
    if not head_len and fds:
        raise ValueError("descriptors without a header")
    return (decode_header(data[:head_len]) if head_len else None), data[head_len:], fds


def _run_payload(header: dict, payload: bytes, fds: list[int], tmp: str,
                 new_session: bool = True, prepared: tuple | None = None) -> NoReturn:
    """In the forked child: become the module process (in a session of its own unless
    ``new_session`` is false) and execute the payload (``prepared``: its parts the server
    compiled, see :func:`_prepare`), with ``tmp`` (removed by the server when the child is
    gone) as Python's temporary directory. Never returns."""
    import signal  # the server's already (the client does without its enum import)

    rc = 1
    try:
        if new_session:
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
        # as a fresh interpreter runs it: no future statement of this file's applies
        codes = [compile(payload, "<stdin>", "exec", dont_inherit=True)] if prepared is None \
            else [prepared[0], prepared[1]]
        if prepared is not None:
            main.__dict__.update(prepared[2])  # the zip's text, which the call reads
        try:
            for code in codes:
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


def serve(path: str, source: str = modexec.SITE) -> int:
    """Serve requests on ``path``/sock until idle for :data:`modexec.IDLE_TIMEOUT` seconds, with
    Ansible's module_utils warmed from ``source`` (see :func:`ansible_source`; empty: none)."""
    import selectors
    import signal

    _start_code_cache(os.path.dirname(os.path.abspath(path)))
    _warm_up(source)
    gc.collect()  # then nothing of the warm-up is walked by a module's collections (a
    gc.freeze()   # fork's copy-on-write of every page holding one), as in gnt.nodes.warm
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
    relay = modexec_relay.Relay.start(path, source, sock_path)
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
        while children or time.monotonic() - last < modexec.IDLE_TIMEOUT:
            events = sel.select(timeout=5.0)
            if relay is None:  # its directory made since (gnt-node add): before a request
                relay = modexec_relay.Relay.start(path, source, sock_path)  # or within 5 s
            for key, _mask in events:
                if key.data == "wake":
                    _drain(wake_r)
                elif key.data is None:
                    conn, _addr = listener.accept()
                    last = time.monotonic()
                    _start(conn, listener, sel, children, relay)
                else:  # a client's socket: it went away while its module runs
                    pid = key.data
                    sel.unregister(key.fileobj)
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
            _reap(children, sel)
    finally:
        if relay is not None:
            relay.withdraw()
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


def _start(conn: _socket.socket, listener: _socket.socket, sel, children, relay) -> None:
    """Take the request on ``conn``: fork its child (a module, or for a relayed request the
    child relaying one, :mod:`modexec_relay`) and watch ``conn`` for the client going away."""
    fds: list[int] = []
    tmp = ""
    try:
        header, payload, fds = _receive(conn)
        relayed = header is None
        if header is None:
            if relay is None or not relay.current():
                conn.close()  # not taken: the client sees no start and runs it elsewhere
                return
            header = relay.session
            conn.sendall(modexec.frame(modexec.STARTED))
        tmp = _child_tmp(header.get("env") or {})
        prepared = _prepare(payload)
        pid = os.fork()
        if pid == 0:
            listener.close()
            if relayed:
                modexec_relay.run_relayed(header, payload, conn, tmp,
                                          functools.partial(_run_payload, prepared=prepared))
            conn.close()
            _run_payload(header, payload, fds, tmp, prepared=prepared)
    except (OSError, ValueError):
        conn.close()
        _remove_tree(tmp)
        return
    finally:
        for fd in fds:
            os.close(fd)
    children[pid] = (conn, tmp, relayed)
    sel.register(conn, 1, pid)


def _remove_tree(path: str) -> None:
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def exited_children() -> Iterator[tuple[int, int]]:
    """(pid, exit code) of each child of this process that has exited, without waiting for
    the others."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, os.waitstatus_to_exitcode(status)


def _reap(children: dict, sel) -> None:
    for pid, code in exited_children():
        child = children.pop(pid, None)
        if child is None:
            continue
        conn, tmp, relayed = child
        _remove_tree(tmp)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.sendall(modexec_relay.exit_frame(code) if relayed
                         else f"{code}\n".encode("ascii"))
        except OSError:
            pass
        conn.close()
