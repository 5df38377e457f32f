# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Instance disks between two clusters (remote import/export, move-instance): the node side.

Destination node (:func:`start_receivers`, :func:`wait_receivers`, :func:`stop_receivers`):
per disk a detached worker runs the chain ``tls_stream receive -> decompressor -> OS import
script`` (or the disk written in place when the instance has no OS) and writes its outcome to
a result file. The workers outlive the module run that started them: the coordinator starts
them, hands the listening ports (signed) to the source cluster, and waits for them in a second
run. Their state (port, pid, result files) lives in ``<key_dir>/receive/``, inside the
directory of the per-move X509 key (root-only, 0700); the source's CA goes next to it.

Source node (:func:`send_disks`): per disk, in parallel (each receiver waits for its own
sender), ``OS export script (or the raw disk) -> compressor -> tls_stream send``.

The magic values are handed to the ``tls_stream`` stages in their environment only. No
Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import sys
import tempfile
import threading
import time

from ansible_collections.gnt.cluster.plugins.module_utils import disk_stream as ds
from ansible_collections.gnt.cluster.plugins.module_utils import instance_dump as dump
from ansible_collections.gnt.cluster.plugins.module_utils import os_interface as osi
from ansible_collections.gnt.cluster.plugins.module_utils import tls_stream

RECEIVE_DIR = "receive"
PEER_CA_FILE = "peer-ca.pem"
KEY_FILE = "key"
CERT_FILE = "cert"
LISTEN_WAIT_S = 30
TRANSFER_TIMEOUT_S = 7 * 24 * 3600    # a stalled stream ends by the socket timeout long before


class RemoteDiskError(Exception):
    """A problem that concerns the whole transfer; the message names it."""


def _key_files(key_dir):
    """(key, cert) of the per-move key in ``key_dir`` (made by the x509-create node call)."""
    key, cert = os.path.join(key_dir, KEY_FILE), os.path.join(key_dir, CERT_FILE)
    if not os.path.isfile(key) or not os.path.isfile(cert):
        raise RemoteDiskError("no per-move X509 key in %s (made by prepare-export or the"
                              " remote import; removed when it ended?)" % key_dir)
    st = os.stat(key_dir)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RemoteDiskError("%s must be owned by this user and private (0700)" % key_dir)
    return key, cert


def _write_private(path, text):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.rename(path + ".tmp", path)


def _peer_ca(key_dir, peer_ca_pem):
    if "-----BEGIN CERTIFICATE-----" not in (peer_ca_pem or ""):
        raise RemoteDiskError("the peer's certificate is not a PEM certificate")
    path = os.path.join(key_dir, PEER_CA_FILE)
    _write_private(path, peer_ca_pem)
    return path


def receive_plan(instance, index, compression, listen, tls, osdef=None, variant="",
                 log_dir=None, debug_level=0, progress_file=None):
    """The stages receiving disk ``index``: ``listen`` is (host, port file, timeout), ``tls``
    (python, cert, key, peer CA, magic)."""
    host, port_file, timeout = listen
    python, cert, key, peer_ca, magic = tls
    argv = tls_stream.stream_argv(python, "receive", host, 0, cert, key, peer_ca, timeout,
                                  port_file, progress_file)
    receiver = ds.Proc("TLS receive of disk %d" % index, argv, env=tls_stream.stream_env(magic))
    stages = dump.import_plan(instance, index, os.devnull, compression, {"local": True},
                              osdef, variant, log_dir, debug_level)
    return [receiver] + stages[1:]


def send_plan(instance, index, compression, dest, tls, osdef=None, variant="", log_dir=None,
              debug_level=0):
    """The stages sending disk ``index`` to ``dest`` (host, port, timeout)."""
    host, port, timeout = dest
    python, cert, key, peer_ca, magic = tls
    stages, _path = dump.export_plan(instance, index, os.devnull, compression, {"local": True},
                                     osdef, variant, log_dir, debug_level)
    argv = tls_stream.stream_argv(python, "send", host, port, cert, key, peer_ca, timeout)
    sender = ds.Proc("TLS send of disk %d to %s:%s" % (index, host, port), argv,
                     env=tls_stream.stream_env(magic))
    return stages[:-1] + [sender]


# -- destination ------------------------------------------------------------------------------
def _state_dir(key_dir):
    return os.path.join(key_dir, RECEIVE_DIR)


def _files(state, index):
    base = os.path.join(state, "disk%d" % index)
    return {"port": base + ".port", "pid": base + ".pid", "result": base + ".result",
            "progress": base + ".progress"}


def _detach(run):
    """Run ``run()`` in a detached process (own session, no terminal, stdio on /dev/null);
    return its process group id once it started."""
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:      # pragma: no cover - runs in the child
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.write(write_fd, b"%d\n" % os.getpgrp())
            os.closerange(3, 65536)     # nothing of the module run (its pipes) stays open
            # the module's temporary directory goes with the module (gnt.nodes.modexec)
            tempfile.tempdir = None
            run()
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        answer = pipe.read().strip()
    os.waitpid(child, 0)
    if not answer:
        raise RemoteDiskError("could not start a detached receiver")
    return int(answer)


def _worker(stages, files, index, method):
    """Run one receive chain; write its outcome (the result file is the worker's last act)."""
    entry = {"index": index, "ok": False, "method": method, "bytes": None, "duration_s": 0.0,
             "msg": ""}
    try:
        done = ds.run_chain(stages, TRANSFER_TIMEOUT_S)
        entry.update(ok=True, bytes=done["bytes"], duration_s=done["duration_s"])
    except (ds.StreamError, OSError) as err:
        entry["msg"] = "disk %d: %s" % (index, err)
    # the worker must always answer (nobody sees its errors otherwise)
    except Exception as err:  # pylint: disable=broad-except
        entry["msg"] = "disk %d: unexpected %s: %s" % (index, type(err).__name__, err)
    _write_private(files["result"], json.dumps(entry))


def start_receivers(instance, magics, key_dir, peer_ca_pem, host, compression="none",
                    search_path=(), use_os=True, log_dir=None, timeout=300, python=None,
                    listen_wait=LISTEN_WAIT_S):
    """Start one receiver per disk (``magics[i]`` is disk i's); return ``(changed, disks)``
    with ``disks`` a list of ``{"index", "port"}`` once every receiver listens. Receivers
    already started for this key are answered as they are (``changed`` False)."""
    key, cert = _key_files(key_dir)
    ds.compression_argv(compression)
    state = _state_dir(key_dir)
    disks = instance.get("disks") or []
    if len(magics) != len(disks):
        raise RemoteDiskError("%d magic value(s) for %d disk(s)" % (len(magics), len(disks)))
    changed = False
    if not os.path.isdir(state):
        osdef, variant = dump.resolve_os(instance, search_path, use_os)
        method = "os" if osdef is not None else "raw"
        peer_ca = _peer_ca(key_dir, peer_ca_pem)
        os.mkdir(state, 0o700)
        changed = True
        for index, magic in enumerate(magics):
            files = _files(state, index)
            stages = receive_plan(instance, index, compression,
                                  (host, files["port"], timeout),
                                  (python or sys.executable, cert, key, peer_ca, magic),
                                  osdef, variant, log_dir, 0, files["progress"])
            pgid = _detach(lambda s=stages, f=files, i=index: _worker(s, f, i, method))
            _write_private(files["pid"], "%d\n" % pgid)
    return changed, _wait_listening(state, len(magics), listen_wait)


def _wait_listening(state, count, listen_wait):
    deadline = time.monotonic() + listen_wait
    ports = {}
    while True:
        for index in range(count):
            files = _files(state, index)
            if index in ports:
                continue
            if os.path.exists(files["result"]):
                result = _read_json(files["result"])
                raise RemoteDiskError("the receiver of disk %d ended before it listened: %s"
                                      % (index, result.get("msg") or "no reason given"))
            if os.path.exists(files["port"]):
                with open(files["port"]) as handle:
                    ports[index] = int(handle.read().strip())
        if len(ports) == count:
            return [{"index": index, "port": ports[index]} for index in range(count)]
        if time.monotonic() > deadline:
            missing = sorted(set(range(count)) - set(ports))
            raise RemoteDiskError("receiver(s) of disk(s) %s not listening after %d s"
                                  % (", ".join(map(str, missing)), listen_wait))
        time.sleep(0.05)


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


def received(key_dir, count):
    """Bytes each receiver of ``key_dir`` got so far (None before its sender connected)."""
    state = _state_dir(key_dir)
    amounts = []
    for index in range(count):
        try:
            with open(_files(state, index)["progress"]) as handle:
                amounts.append(int(handle.read().strip()))
        except (OSError, ValueError):
            amounts.append(None)
    return amounts


def wait_receivers(key_dir, count, timeout, poll=0.2, budget=None):
    """Wait until the ``count`` receivers of ``key_dir`` ended; their results (one dict per
    disk). After ``timeout`` seconds those still running are stopped and reported failed.
    With ``budget``: None when they are still running after that many seconds (ask again)."""
    state = _state_dir(key_dir)
    if not os.path.isdir(state):
        raise RemoteDiskError("no receivers were started for %s" % key_dir)
    deadline = time.monotonic() + timeout
    until = None if budget is None else time.monotonic() + budget
    results = [None] * count
    while True:
        for index in range(count):
            files = _files(state, index)
            if results[index] is None and os.path.exists(files["result"]):
                results[index] = _read_json(files["result"])
            elif results[index] is None and not _alive(files):
                results[index] = {"index": index, "ok": False, "method": None, "bytes": None,
                                  "duration_s": 0.0,
                                  "msg": "disk %d: the receiver died without a result" % index}
        if all(entry is not None for entry in results):
            break
        if until is not None and time.monotonic() > until:
            return None
        if time.monotonic() > deadline:
            stop_receivers(key_dir)
            for index, entry in enumerate(results):
                if entry is None:
                    results[index] = {"index": index, "ok": False, "method": None,
                                      "bytes": None, "duration_s": float(timeout),
                                      "msg": "disk %d: no complete stream within %d s"
                                             % (index, timeout)}
            break
        time.sleep(poll)
    _remove_state(key_dir)
    return results


def _pgid(files):
    try:
        with open(files["pid"]) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _alive(files):
    pgid = _pgid(files)
    if pgid is None:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return os.path.exists(files["result"])
    except PermissionError:
        return True
    return True


def stop_receivers(key_dir):
    """Stop the receivers of ``key_dir`` (their process groups) and forget them; True if
    there were any."""
    state = _state_dir(key_dir)
    if not os.path.isdir(state):
        return False
    for name in sorted(os.listdir(state)):
        if not name.endswith(".pid"):
            continue
        pgid = _pgid({"pid": os.path.join(state, name)})
        if pgid is None or pgid <= 1:
            continue
        try:
            os.killpg(pgid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _remove_state(key_dir)
    return True


def _remove_state(key_dir):
    state = _state_dir(key_dir)
    if os.path.isdir(state):
        for name in os.listdir(state):
            os.unlink(os.path.join(state, name))
        os.rmdir(state)
    peer_ca = os.path.join(key_dir, PEER_CA_FILE)
    if os.path.exists(peer_ca):
        os.unlink(peer_ca)


# -- source -----------------------------------------------------------------------------------
def send_disks(instance, destinations, key_dir, peer_ca_pem, compression="none",
               search_path=(), use_os=True, log_dir=None, timeout=300, python=None):
    """Send each ``{"index", "host", "port", "magic"}`` of ``destinations``, in parallel;
    one result dict per disk: ``index, ok, method, bytes, duration_s, msg`` (``bytes`` as the
    receiver confirmed it)."""
    key, cert = _key_files(key_dir)
    ds.compression_argv(compression)
    osdef, variant = dump.resolve_os(instance, search_path, use_os)
    method = "os" if osdef is not None else "raw"
    peer_ca = _peer_ca(key_dir, peer_ca_pem)
    results = [None] * len(destinations)

    def one(slot, dest):
        index = int(dest["index"])
        entry = {"index": index, "ok": False, "method": method, "bytes": None,
                 "duration_s": 0.0, "msg": ""}
        try:
            stages = send_plan(instance, index, compression,
                               (dest["host"], int(dest["port"]), timeout),
                               (python or sys.executable, cert, key, peer_ca, dest["magic"]),
                               osdef, variant, log_dir, 0)
            stages[-1].stderr_path = None
            dump.drop_cached_pages(dump.disk_path(instance, index))
            done = ds.run_chain(stages, TRANSFER_TIMEOUT_S)
            entry.update(ok=True, duration_s=done["duration_s"])
        except (ds.StreamError, dump.DumpError, osi.OSDefinitionError, OSError) as err:
            entry["msg"] = "disk %d: %s" % (index, err)
        results[slot] = entry

    threads = [threading.Thread(target=one, args=(slot, dest))
               for slot, dest in enumerate(destinations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        os.unlink(peer_ca)
    except OSError:
        pass
    return results
