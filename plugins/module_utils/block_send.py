# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Copy block devices (LVM volumes of ``plain`` disks) to existing devices on another node.

The move of a ``plain`` instance: its volumes are created on the target node first (same
names and sizes), then this copies each source volume into its new volume over SSH. Unlike
the file copy (:mod:`disk_send`), the target already exists and is written in place:

- every 1 MiB chunk of the source is sent and written, zeros included (a new LV is not
  zeroed: skipping a zero chunk would leave the old content of the disk there);
- the target must be at least as large as the source; bytes past the source's size are left
  alone, and the checksum covers the source's size only;
- the receiver writes at the offsets sent, ``fsync``s, drops the device's cached pages and
  re-reads it to compare its SHA-256 with the sender's; there is no temporary name to rename.

The checksum (:func:`device_checksum`) is a plain SHA-256 of the first ``size`` bytes: for a
source and target of the same size it is what ``sha256sum`` prints for the device.

Idempotent: the target is probed first; when its first chunk matches the source's, its
checksum over the source's size is compared and an equal target is skipped.

Paths are checked on both ends: absolute, ``/dev/VG/LV`` of a volume group in
``allowed_vgs`` when that is given, and a block device. Unit tests simulate a device with a
regular file by passing ``require_block=False`` (the module always requires one).

No Ansible import; errors are :class:`DiskSendError` naming the device and the cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import stat
import time

from ansible_collections.gnt.cluster.plugins.module_utils.disk_send import (
    CHUNK,
    COPY,
    SKIP,
    DiskSendError,
    ask_receiver,
    stream_to_receiver,
)


def check_path(path, allowed_vgs=None, require_block=True, what="device"):
    """DiskSendError unless ``path`` is an absolute ``/dev/VG/LV`` of ``allowed_vgs`` (when
    given) and, with ``require_block``, an existing block device."""
    if not os.path.isabs(path or "") or "/../" in path + "/" or "/./" in path + "/":
        raise DiskSendError("%s path %r is not a normalized absolute path" % (what, path))
    if allowed_vgs:
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "dev" or parts[2] not in allowed_vgs or not parts[3]:
            raise DiskSendError("%s %s is not /dev/VG/LV of an allowed volume group (%s)"
                                % (what, path, ", ".join(allowed_vgs)))
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise DiskSendError("%s %s is missing: %s" % (what, path, err.strerror)) from err
    if require_block and not stat.S_ISBLK(mode):
        raise DiskSendError("%s %s is not a block device" % (what, path))


def device_size(path):
    """Size in bytes of a block device (or, in tests, a regular file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _digest(path, size, limit=None):
    digest = hashlib.sha256()
    end = size if limit is None else min(size, limit)
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while offset < end:
            data = os.pread(fd, min(CHUNK, end - offset), offset)
            if not data:
                raise DiskSendError("%s ended at byte %d of %d" % (path, offset, end))
            digest.update(data)
            offset += len(data)
    finally:
        os.close(fd)
    return digest.hexdigest()


def device_checksum(path, size):
    """SHA-256 (hex) of the first ``size`` bytes of ``path``."""
    return _digest(path, size)


def head_checksum(path, size):
    """SHA-256 of the first chunk (at most ``size`` bytes): a cheap "is it the same" probe."""
    return _digest(path, size, CHUNK)


def plan_device(src_size, src_checksum, target):
    """Decide what to do with one device given the target's probe result.

    ``target`` is ``{"exists", "size", "checksum", "path"}`` (checksum only computed when
    the target is large enough and its first chunk equals the source's). Returns
    :data:`SKIP` when the target holds the source's content, else :data:`COPY` (the target
    is written over: it is a volume made for this copy). A missing or smaller target is a
    :class:`DiskSendError`. ``src_checksum`` may be a function computing it (called only when
    the target reports a checksum).
    """
    if not target.get("exists"):
        raise DiskSendError("target device %s does not exist (its volume must be created "
                            "first)" % target.get("path"))
    if target.get("size") is None or target["size"] < src_size:
        raise DiskSendError("target device %s is smaller (%s bytes) than the source (%d bytes)"
                            % (target.get("path"), target.get("size"), src_size))
    if target.get("checksum") is None:
        return COPY
    wanted = src_checksum() if callable(src_checksum) else src_checksum
    return SKIP if target["checksum"] == wanted else COPY


# The receiver, run on the target as `python3 -c RECEIVER JSON`. Python 3 standard library
# only; keep its path checks and checksum equal to check_path() and device_checksum() above.
RECEIVER = r'''
import hashlib, json, os, stat, struct, sys
CHUNK = 1024 * 1024
FRAME = struct.Struct(">QI")
def fail(msg):
    sys.stdout.write(json.dumps({"ok": False, "msg": msg}) + "\n")
    sys.exit(1)
def check(req):
    path = req["dst"]
    vgs = req.get("allowed_vgs")
    if not os.path.isabs(path) or "/../" in path + "/" or "/./" in path + "/":
        fail("target device path %r is not a normalized absolute path" % path)
    if vgs:
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "dev" or parts[2] not in vgs or not parts[3]:
            fail("target device %s is not /dev/VG/LV of an allowed volume group (%s)"
                 % (path, ", ".join(vgs)))
    if not os.path.exists(path):
        return False
    if req.get("require_block", True) and not stat.S_ISBLK(os.stat(path).st_mode):
        fail("target device %s is not a block device" % path)
    return True
def size_of(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
def digest(path, size, limit=None):
    h = hashlib.sha256()
    end = size if limit is None else min(size, limit)
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while offset < end:
            data = os.pread(fd, min(CHUNK, end - offset), offset)
            if not data:
                fail("%s ended at byte %d of %d" % (path, offset, end))
            h.update(data)
            offset += len(data)
    finally:
        os.close(fd)
    return h.hexdigest()
def probe(req):
    path = req["dst"]
    if not check(req):
        return {"ok": True, "path": path, "exists": False, "size": None, "checksum": None}
    size = size_of(path)
    want = req["size"]
    checksum = None
    if size >= want and digest(path, want, CHUNK) == req.get("head"):
        checksum = digest(path, want)
    return {"ok": True, "path": path, "exists": True, "size": size, "checksum": checksum}
def readn(stream, n):
    buf = stream.read(n)
    if len(buf) != n:
        fail("stream ended early (%d of %d bytes)" % (len(buf), n))
    return buf
def receive(req):
    path = req["dst"]
    if not check(req):
        fail("target device %s does not exist" % path)
    stream = sys.stdin.buffer
    header = json.loads(stream.readline())
    want = header["size"]
    if size_of(path) < want:
        fail("target device %s is smaller (%d bytes) than the source (%d bytes)"
             % (path, size_of(path), want))
    fd = os.open(path, os.O_WRONLY)
    try:
        received = 0
        while True:
            offset, length = FRAME.unpack(readn(stream, FRAME.size))
            if not length:
                break
            if offset + length > want:
                fail("chunk at %d (%d bytes) is past the source's size %d" % (offset, length, want))
            data = readn(stream, length)
            os.pwrite(fd, data, offset)
            received += length
        os.fsync(fd)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except (AttributeError, OSError):
            pass
    finally:
        os.close(fd)
    expected = stream.readline().decode().strip()
    checksum = digest(path, want)
    if checksum != expected or received != want:
        fail("verification failed for %s: received %d of %d bytes, checksum %s, sender's %s"
             % (path, received, want, checksum, expected))
    return {"ok": True, "path": path, "size": want, "checksum": checksum, "received": received}
req = json.loads(sys.argv[1])
result = probe(req) if req["op"] == "probe" else receive(req)
sys.stdout.write(json.dumps(result) + "\n")
'''


def _request(op, dst, allowed_vgs, require_block, **extra):
    request = {"op": op, "dst": dst, "allowed_vgs": list(allowed_vgs or []),
               "require_block": bool(require_block)}
    request.update(extra)
    return request


def probe_device(transport, dst, size, head, allowed_vgs=None, require_block=True,
                 timeout=600):
    """Ask the target about device ``dst``: ``{"exists", "size", "checksum", "path"}``
    (checksum over ``size`` bytes, only when the first chunk's is ``head``)."""
    request = _request("probe", dst, allowed_vgs, require_block, size=size, head=head)
    return ask_receiver(transport, request, "cannot inspect %s on %s" % (dst, transport.where()),
                        receiver=RECEIVER, timeout=timeout)


def send_device(transport, src, dst, size, allowed_vgs=None, require_block=True,
                timeout=3600, clock=time.monotonic):
    """Write the first ``size`` bytes of ``src`` into device ``dst`` on the target, every
    chunk; returns ``{"checksum", "size", "sent_mib", "duration_s"}`` once the receiver
    re-read the device and found the sender's checksum."""
    what = "copy of %s to %s on %s failed" % (src, dst, transport.where())
    digest = hashlib.sha256()

    def frames():
        fd = os.open(src, os.O_RDONLY)
        try:
            offset = 0
            while offset < size:
                data = os.pread(fd, min(CHUNK, size - offset), offset)
                if not data:
                    raise DiskSendError("%s: %s ended at byte %d of %d"
                                        % (what, src, offset, size))
                digest.update(data)
                yield offset, data
                offset += len(data)
        finally:
            os.close(fd)

    request = _request("receive", dst, allowed_vgs, require_block)
    answer, sent, seconds = stream_to_receiver(
        transport, request, {"size": size}, frames(), digest.hexdigest, what,
        receiver=RECEIVER, timeout=timeout, clock=clock)
    return {"checksum": answer["checksum"], "size": size,
            "sent_mib": round(sent / float(CHUNK), 1), "duration_s": seconds}


class _LazyChecksum:
    """The source's checksum, computed on the first call only (``value`` until then None)."""

    def __init__(self, path, size):
        self.path, self.size, self.value = path, size, None

    def __call__(self):
        if self.value is None:
            self.value = device_checksum(self.path, self.size)
        return self.value


def send_devices(transport, disks, allowed_vgs=None, timeout=3600, check_mode=False,
                 require_block=True):
    """Copy every ``{"src", "dst"}`` device in ``disks`` unless the target already holds it.

    Returns ``(changed, results)``; each result has src, dst, size_mib, checksum (of the
    source's bytes; None when copied in check mode), action (V(copied), V(skipped), or in
    check mode V(would_copy)), sent_mib and duration_s.
    """
    results = []
    changed = False
    for disk in disks:
        src, dst = disk["src"], disk["dst"]
        check_path(src, allowed_vgs, require_block, "source device")
        size = device_size(src)
        source_checksum = _LazyChecksum(src, size)
        target = probe_device(transport, dst, size, head_checksum(src, size), allowed_vgs,
                              require_block, timeout)
        action = plan_device(size, source_checksum, target)
        entry = {"src": src, "dst": dst, "size_mib": round(size / float(CHUNK), 1),
                 "checksum": source_checksum.value, "action": "skipped", "sent_mib": 0.0,
                 "duration_s": 0.0}
        if action == COPY:
            changed = True
            entry["action"] = "would_copy"
            if not check_mode:
                sent = send_device(transport, src, dst, size, allowed_vgs, require_block,
                                   timeout)
                entry.update(action="copied", checksum=sent["checksum"],
                             sent_mib=sent["sent_mib"], duration_s=sent["duration_s"])
        results.append(entry)
    return changed, results
