# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Copy file disks to another node over SSH, sparse, verified and idempotent.

The sender (this node) reads the disk in 1 MiB chunks, skipping holes (``SEEK_DATA``) and
all-zero chunks, and streams only the non-zero chunks with their offsets to a small Python
receiver started over SSH on the target (:data:`RECEIVER`). The receiver writes them into
``DST.gnt-part`` (holes stay holes), sets the size, re-reads the file, compares its checksum
with the sender's and only then renames it to ``DST``: a ``DST`` on the target is always a
complete, verified copy. A copy that fails, whose stream ends early or whose receiver is
stopped (SIGHUP when the SSH session goes, SIGTERM) removes its ``DST.gnt-part``.

The checksum (:func:`sparse_checksum`) is SHA-256 over ``offset || chunk`` of every non-zero
chunk plus the size, so it does not depend on which zero ranges are holes; the receiver has
its own copy of the same code (a unit test keeps them equal).

No Ansible import; errors are :class:`DiskSendError` naming the disk and the cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shlex
import struct
import subprocess
import time

CHUNK = 1024 * 1024
_ZERO = bytes(CHUNK)
_FRAME = struct.Struct(">QI")   # offset, length; length 0 ends the stream
_MAGIC = b"gnt-sparse-sha256-v1"

# What plan_disk() decides.
COPY = "copy"
SKIP = "skip"


class DiskSendError(Exception):
    """A disk copy that failed or was refused; the message names the disk and the cause."""


def _data_offsets(fd, size):
    """Yield the chunk-aligned offsets of every chunk that may hold data (holes skipped)."""
    pos = 0
    seek_data = getattr(os, "SEEK_DATA", None)
    seek_hole = getattr(os, "SEEK_HOLE", None)
    while pos < size:
        if seek_data is None:
            start, end = pos, size
        else:
            try:
                start = os.lseek(fd, pos, seek_data)
            except OSError:     # ENXIO: no data after pos
                return
            end = os.lseek(fd, start, seek_hole)
        offset = max(pos, start - start % CHUNK)
        while offset < end:
            yield offset
            offset += CHUNK
        pos = max(pos, offset)


def nonzero_chunks(path):
    """Yield ``(offset, data)`` for every chunk of the file at ``path`` that is not all zero."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for offset in _data_offsets(fd, size):
            data = os.pread(fd, min(CHUNK, size - offset), offset)
            if data != _ZERO[:len(data)]:
                yield offset, data
    finally:
        os.close(fd)


def sparse_checksum(path):
    """``(size, hexdigest)`` of the file at ``path``: SHA-256 over the non-zero chunks."""
    digest = hashlib.sha256(_MAGIC)
    size = os.stat(path).st_size
    for offset, data in nonzero_chunks(path):
        digest.update(struct.pack(">Q", offset))
        digest.update(data)
    digest.update(struct.pack(">Q", size))
    return size, digest.hexdigest()


def plan_disk(src_size, src_checksum, target, force=False):
    """Decide what to do with one disk given the target's probe result.

    ``target`` is ``{"exists", "size", "checksum"}`` (checksum only computed when the sizes
    match). Returns :data:`SKIP` when the target already holds the same content, else
    :data:`COPY`. A different existing target file is only overwritten with ``force``;
    otherwise :class:`DiskSendError`.
    """
    if not target.get("exists"):
        return COPY
    if target.get("size") == src_size and target.get("checksum") == src_checksum:
        return SKIP
    if force:
        return COPY
    raise DiskSendError("target file %s exists with other content (size %s bytes, source %s "
                        "bytes); refusing to overwrite it without force"
                        % (target.get("path"), target.get("size"), src_size))


# The receiver, run on the target as `python3 -c RECEIVER JSON`. Python 3 standard library
# only; keep the checksum code equal to sparse_checksum() above.
RECEIVER = r'''
import hashlib, json, os, signal, struct, sys
CHUNK = 1024 * 1024
ZERO = bytes(CHUNK)
FRAME = struct.Struct(">QI")
def fail(msg):
    sys.stdout.write(json.dumps({"ok": False, "msg": msg}) + "\n")
    sys.exit(1)
def allowed(path, dirs):
    if not os.path.isabs(path):
        fail("target path %r is not absolute" % path)
    real = os.path.realpath(path)
    if dirs and not any(real.startswith(os.path.realpath(d).rstrip("/") + "/") for d in dirs):
        fail("target path %s (resolved %s) is outside the allowed storage directories: %s"
             % (path, real, ", ".join(dirs)))
    return real
def checksum(path):
    digest = hashlib.sha256(b"gnt-sparse-sha256-v1")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            offset = max(pos, start - start % CHUNK)
            while offset < end:
                data = os.pread(fd, min(CHUNK, size - offset), offset)
                if data != ZERO[:len(data)]:
                    digest.update(struct.pack(">Q", offset))
                    digest.update(data)
                offset += CHUNK
            pos = max(pos, offset)
    finally:
        os.close(fd)
    digest.update(struct.pack(">Q", size))
    return size, digest.hexdigest()
def probe(req):
    path = allowed(req["dst"], req.get("allowed_dirs"))
    if not os.path.exists(path):
        return {"ok": True, "path": path, "exists": False, "size": None, "checksum": None}
    if not os.path.isfile(path):
        fail("target path %s exists but is not a regular file" % path)
    size = os.stat(path).st_size
    digest = checksum(path)[1] if size == req.get("size") else None
    return {"ok": True, "path": path, "exists": True, "size": size, "checksum": digest}
def readn(stream, n):
    buf = stream.read(n)
    if len(buf) != n:
        fail("stream ended early (%d of %d bytes)" % (len(buf), n))
    return buf
def stopped(signum, _frame):
    fail("stopped by signal %d" % signum)
def receive(req):
    path = allowed(req["dst"], req.get("allowed_dirs"))
    part = path + ".gnt-part"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stream = sys.stdin.buffer
    header = json.loads(stream.readline())
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, stopped)
    try:
        return received_into(path, part, stream, header)
    except BaseException:
        # a copy that did not complete leaves nothing behind (the target file is only ever
        # put in place whole, by the rename)
        if os.path.exists(part):
            os.unlink(part)
        raise
def received_into(path, part, stream, header):
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        received = 0
        while True:
            offset, length = FRAME.unpack(readn(stream, FRAME.size))
            if not length:
                break
            data = readn(stream, length)
            os.pwrite(fd, data, offset)
            received += length
        os.ftruncate(fd, header["size"])
        os.fsync(fd)
    finally:
        os.close(fd)
    expected = stream.readline().decode().strip()
    size, digest = checksum(part)
    if digest != expected or size != header["size"]:
        fail("verification failed for %s: received %d bytes, checksum %s, sender's %s"
             % (path, size, digest, expected))
    os.chmod(part, header.get("mode", 0o600))
    os.replace(part, path)
    return {"ok": True, "path": path, "size": size, "checksum": digest, "received": received}
req = json.loads(sys.argv[1])
result = probe(req) if req["op"] == "probe" else receive(req)
sys.stdout.write(json.dumps(result) + "\n")
'''


class Transport:
    """How to start the receiver on the target: ``argv(request)`` is the full command line.

    ``ssh`` runs it as ``user@address`` in batch mode (no password prompts); tests pass a
    local command instead of ssh.
    """

    def __init__(self, address, port=22, user="root", ssh_args=None, python="python3",
                 local_argv=None):
        self.address, self.port, self.user = address, port, user
        self.ssh_args = list(ssh_args or [])
        self.python = python
        self.local_argv = local_argv

    def argv(self, request, receiver=None):
        """The command running ``receiver`` (default :data:`RECEIVER`, the file receiver)
        for ``request`` (a dict, sent as JSON)."""
        payload = json.dumps(request)
        script = RECEIVER if receiver is None else receiver
        if self.local_argv is not None:
            return list(self.local_argv) + ["-c", script, payload]
        remote = "%s -c %s %s" % (shlex.quote(self.python), shlex.quote(script),
                                  shlex.quote(payload))
        return (["ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-p",
                 str(self.port)] + self.ssh_args + ["%s@%s" % (self.user, self.address), remote])

    def where(self):
        """The target, for messages."""
        return "local" if self.local_argv is not None else "%s@%s:%s" % (
            self.user, self.address, self.port)


def ssh_copy_argument_spec(**extra):
    """The argument spec of a disk copy to another node over SSH (doc fragment
    ``gnt.cluster.ssh_copy`` plus ``disks``), with the module's ``extra`` options."""
    spec = dict(
        disks=dict(type="list", elements="dict", required=True,
                   options=dict(src=dict(type="path", required=True),
                                dst=dict(type="path", required=True))),
        target_address=dict(type="str", required=True),
        target_port=dict(type="int", default=22),
        target_user=dict(type="str", default="root"),
        ssh_args=dict(type="list", elements="str", default=[]),
        remote_python=dict(type="str", default="python3"),
        timeout=dict(type="int", default=3600),
    )
    spec.update(extra)
    return spec


def check_copy_args(params, target_kind="path"):
    """An error message for invalid values of :func:`ssh_copy_argument_spec`'s options
    (``target_kind`` names what a destination is, for the message), or None."""
    if not params["disks"]:
        return "disks must list at least one {src, dst}"
    seen = set()
    for disk in params["disks"]:
        for key in ("src", "dst"):
            if not disk[key].startswith("/"):
                return "disk %s path %r is not absolute" % (key, disk[key])
        if disk["dst"] in seen:
            return "target %s %s is listed twice in disks" % (target_kind, disk["dst"])
        seen.add(disk["dst"])
    if not 0 < params["target_port"] < 65536:
        return "target_port %d is not a TCP port" % params["target_port"]
    if params["timeout"] <= 0:
        return "timeout must be positive, got %d" % params["timeout"]
    return None


def transport_for(params):
    """The :class:`Transport` :func:`ssh_copy_argument_spec`'s options describe."""
    return Transport(params["target_address"], params["target_port"], params["target_user"],
                     params["ssh_args"], params["remote_python"])


def receiver_answer(proc_stdout, proc_stderr, returncode, what):
    """The receiver's JSON answer, or DiskSendError with its message (or ssh's stderr)."""
    lines = [line for line in (proc_stdout or b"").decode(errors="replace").splitlines()
             if line.startswith("{")]
    answer = None
    if lines:
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            answer = None
    if answer is None or returncode != 0 or not answer.get("ok"):
        detail = (answer or {}).get("msg") or (proc_stderr or b"").decode(
            errors="replace").strip() or "exit status %d" % returncode
        raise DiskSendError("%s: %s" % (what, detail))
    return answer


def ask_receiver(transport, request, what, receiver=None, timeout=600):
    """The receiver's JSON answer to ``request`` (no data sent), or DiskSendError naming
    ``what`` (a probe of the target)."""
    try:
        proc = subprocess.run(transport.argv(request, receiver), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise DiskSendError("%s: no answer within %d s" % (what, timeout)) from err
    return receiver_answer(proc.stdout, proc.stderr, proc.returncode, what)


def probe_target(transport, dst, size, allowed_dirs=None, timeout=600):
    """Ask the target about ``dst``: ``{"exists", "size", "checksum", "path"}``."""
    request = {"op": "probe", "dst": dst, "size": size, "allowed_dirs": allowed_dirs or []}
    return ask_receiver(transport, request, "cannot inspect %s on %s" % (dst, transport.where()),
                        timeout=timeout)


def stream_to_receiver(transport, request, header, frames, final_checksum, what,
                       receiver=None, timeout=3600, clock=time.monotonic):
    """Start the receiver for ``request``, send ``header`` (a JSON line), each ``(offset,
    data)`` of ``frames`` and the end frame with ``final_checksum()`` (called once the frames
    are sent), and wait for the receiver's answer; ``(answer, bytes sent, seconds)`` once its
    checksum is the sender's. Every failure is a DiskSendError naming ``what`` (the
    receiver's own message when it gave one)."""
    started = clock()
    proc = subprocess.Popen(transport.argv(request, receiver), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sent = 0
    try:
        proc.stdin.write(json.dumps(header).encode() + b"\n")
        for offset, data in frames:
            proc.stdin.write(_FRAME.pack(offset, len(data)))
            proc.stdin.write(data)
            sent += len(data)
            if clock() - started > timeout:
                raise DiskSendError("%s: not done within %d s" % (what, timeout))
        checksum = final_checksum()
        proc.stdin.write(_FRAME.pack(0, 0) + checksum.encode() + b"\n")
        proc.stdin.flush()      # communicate() below closes stdin: the receiver sees EOF
    except (BrokenPipeError, DiskSendError, OSError) as err:
        proc.kill()
        out, errout = proc.communicate()
        if isinstance(err, DiskSendError):
            raise
        receiver_answer(out, errout, proc.returncode or 1, what)
        raise DiskSendError("%s: %s" % (what, err)) from err
    try:
        out, errout = proc.communicate(timeout=max(1.0, timeout - (clock() - started)))
    except subprocess.TimeoutExpired as err:
        proc.kill()
        proc.communicate()
        raise DiskSendError("%s: no answer within %d s" % (what, timeout)) from err
    answer = receiver_answer(out, errout, proc.returncode, what)
    if answer.get("checksum") != checksum:
        raise DiskSendError("%s: checksum mismatch (%s != %s)"
                            % (what, answer.get("checksum"), checksum))
    return answer, sent, round(clock() - started, 3)


def send_file(transport, src, dst, allowed_dirs=None, timeout=3600, clock=time.monotonic):
    """Stream ``src`` to ``dst`` on the target; returns ``{"checksum", "size", "sent_mib",
    "duration_s"}`` after the receiver verified and renamed it."""
    what = "copy of %s to %s on %s failed" % (src, dst, transport.where())
    try:
        st = os.stat(src)
    except OSError as err:
        raise DiskSendError("%s: %s" % (what, err)) from err
    digest = hashlib.sha256(_MAGIC)

    def frames():
        for offset, data in nonzero_chunks(src):
            digest.update(struct.pack(">Q", offset))
            digest.update(data)
            yield offset, data

    def final_checksum():
        digest.update(struct.pack(">Q", st.st_size))
        return digest.hexdigest()

    request = {"op": "receive", "dst": dst, "allowed_dirs": allowed_dirs or []}
    answer, sent, seconds = stream_to_receiver(
        transport, request, {"size": st.st_size, "mode": st.st_mode & 0o777}, frames(),
        final_checksum, what, timeout=timeout, clock=clock)
    return {"checksum": answer["checksum"], "size": answer["size"],
            "sent_mib": round(sent / float(CHUNK), 1), "duration_s": seconds}


def _check_inside(path, allowed_dirs):
    """DiskSendError unless ``path`` resolves strictly inside one of ``allowed_dirs`` (if any)."""
    if not os.path.isabs(path or ""):
        raise DiskSendError("source disk path %r is not absolute" % (path,))
    if not allowed_dirs:
        return
    real = os.path.realpath(path)
    for directory in allowed_dirs:
        if real.startswith(os.path.realpath(directory).rstrip(os.sep) + os.sep):
            return
    raise DiskSendError("source disk %s (resolved %s) is outside the allowed storage "
                        "directories: %s" % (path, real, ", ".join(allowed_dirs)))


def send_disks(transport, disks, allowed_dirs=None, force=False, timeout=3600,
               check_mode=False):
    """Copy every ``{"src", "dst"}`` in ``disks`` unless the target already has it.

    Returns ``(changed, results)``; each result has src, dst, size_mib, checksum, action
    (V(copied), V(skipped), or in check mode V(would_copy)), sent_mib and duration_s.
    """
    results = []
    changed = False
    for disk in disks:
        src, dst = disk["src"], disk["dst"]
        _check_inside(src, allowed_dirs)
        if not os.path.isfile(src):
            raise DiskSendError("source disk %s is missing or not a regular file" % src)
        size, checksum = sparse_checksum(src)
        target = probe_target(transport, dst, size, allowed_dirs, timeout)
        action = plan_disk(size, checksum, target, force)
        entry = {"src": src, "dst": dst, "size_mib": round(size / float(CHUNK), 1),
                 "checksum": checksum, "action": "skipped", "sent_mib": 0.0, "duration_s": 0.0}
        if action == COPY:
            changed = True
            entry["action"] = "would_copy"
            if not check_mode:
                sent = send_file(transport, src, dst, allowed_dirs, timeout)
                entry.update(action="copied", sent_mib=sent["sent_mib"],
                             duration_s=sent["duration_s"])
        results.append(entry)
    return changed, results
