"""block_send: in-place verified copies of block devices through the real receiver (run
locally instead of over SSH), idempotence decisions and refusals.

There are no block devices in unit tests (no device-mapper or loop devices here): a regular
file stands in for a device where the logic is the same (``require_block=False``: sizes by
seeking to the end, writes in place without truncating, the checksum over the source's
size). The block-device checks themselves are tested with a real character device and a
regular file being refused; the copy between real LVs runs in
tests/integration/test_storage_lab_move.py.
"""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.block_send import (
    CHUNK,
    COPY,
    SKIP,
    DiskSendError,
    check_path,
    device_checksum,
    plan_device,
    probe_device,
    send_devices,
)
from ansible_collections.gnt.cluster.plugins.module_utils.disk_send import Transport

LOCAL = Transport("local", local_argv=[sys.executable])


def _device(path, size_mib, fill=b"\xa5"):
    """A stand-in "volume": every byte set (a new LV holds whatever was on the disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fill * (size_mib * CHUNK))
    return path


def _source(path, size_mib=6):
    """Data at the start, zeros in the middle (they must overwrite the target's bytes) and
    data at the end."""
    _device(path, size_mib, b"\0")
    with open(path, "r+b") as fobj:
        fobj.write(os.urandom(CHUNK + 4321))
        fobj.seek(size_mib * CHUNK - 777)
        fobj.write(os.urandom(777))
    return path


def _copy(src, dst, **kw):
    return send_devices(LOCAL, [{"src": str(src), "dst": str(dst)}], require_block=False, **kw)


def test_plan_device():
    target = {"exists": True, "size": 10, "checksum": None, "path": "/dev/vg/lv"}
    assert plan_device(10, "abc", target) == COPY
    assert plan_device(10, "abc", dict(target, checksum="abc")) == SKIP
    assert plan_device(10, "abc", dict(target, checksum="abd")) == COPY
    assert plan_device(10, lambda: "abc", dict(target, size=20, checksum="abc")) == SKIP
    with pytest.raises(DiskSendError, match="/dev/vg/lv is smaller .20 bytes. than the source"):
        plan_device(30, "abc", dict(target, size=20))
    with pytest.raises(DiskSendError, match="does not exist .its volume must be created"):
        plan_device(10, "abc", {"exists": False, "path": "/dev/vg/lv"})


def test_plan_device_computes_the_source_checksum_only_when_needed():
    calls = []

    def lazy():
        calls.append(1)
        return "abc"
    assert plan_device(10, lazy, {"exists": True, "size": 10, "checksum": None}) == COPY
    assert calls == []


def test_copy_writes_zeros_verifies_then_skips(tmp_path):
    src = _source(tmp_path / "src", size_mib=6)
    dst = _device(tmp_path / "dst", size_mib=8)         # larger, full of old bytes
    changed, results = _copy(src, dst, check_mode=True)
    assert changed and results[0]["action"] == "would_copy"
    assert dst.read_bytes() == b"\xa5" * (8 * CHUNK)     # check mode writes nothing

    changed, results = _copy(src, dst)
    data = dst.read_bytes()
    assert changed and results[0]["action"] == "copied"
    assert data[:6 * CHUNK] == src.read_bytes(), "zero chunks of the source must be written"
    assert data[6 * CHUNK:] == b"\xa5" * (2 * CHUNK), "bytes past the source are left alone"
    assert len(data) == 8 * CHUNK, "the target is written in place, never truncated"
    assert results[0]["checksum"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert results[0]["sent_mib"] == 6.0 and results[0]["size_mib"] == 6.0

    changed, results = _copy(src, dst)
    assert not changed and results[0]["action"] == "skipped"
    assert results[0]["checksum"] == hashlib.sha256(src.read_bytes()).hexdigest()


def test_target_with_the_same_head_but_other_content_is_copied(tmp_path):
    src = _source(tmp_path / "src", size_mib=3)
    dst = tmp_path / "dst"
    dst.write_bytes(src.read_bytes()[:2 * CHUNK] + b"\x01" * CHUNK)
    size = os.path.getsize(src)
    head = hashlib.sha256(src.read_bytes()[:CHUNK]).hexdigest()
    probe = probe_device(LOCAL, str(dst), size, head, require_block=False)
    assert probe["exists"] and probe["size"] == size
    assert probe["checksum"] == hashlib.sha256(dst.read_bytes()).hexdigest()
    changed, results = _copy(src, dst)
    assert changed and results[0]["action"] == "copied"
    assert dst.read_bytes() == src.read_bytes()


def test_smaller_or_missing_target_refused_and_left_alone(tmp_path):
    src = _source(tmp_path / "src", size_mib=4)
    small = _device(tmp_path / "small", size_mib=2)
    with pytest.raises(DiskSendError, match="small is smaller .* than the source"):
        _copy(src, small)
    assert small.read_bytes() == b"\xa5" * (2 * CHUNK)
    with pytest.raises(DiskSendError, match="does not exist"):
        _copy(src, tmp_path / "absent")
    assert not (tmp_path / "absent").exists(), "a missing target is never created"


def test_paths_checked_on_both_ends(tmp_path):
    with pytest.raises(DiskSendError, match="not /dev/VG/LV of an allowed volume group"):
        check_path("/dev/othervg/lv", ["xenvg"], require_block=False)
    with pytest.raises(DiskSendError, match="not a normalized absolute path"):
        check_path("/dev/xenvg/../sda", ["xenvg"], require_block=False)
    with pytest.raises(DiskSendError, match="not a block device"):
        check_path("/dev/null")                         # a character device
    src = _source(tmp_path / "src", size_mib=1)
    with pytest.raises(DiskSendError, match="source device .* is not a block device"):
        send_devices(LOCAL, [{"src": str(src), "dst": str(tmp_path / "d")}])
    dst = _device(tmp_path / "dst", size_mib=1)
    # the receiver checks the target itself: a regular file there is refused
    with pytest.raises(DiskSendError, match="target device .*dst is not a block device"):
        probe_device(LOCAL, str(dst), CHUNK, "x")
    with pytest.raises(DiskSendError, match="target device /dev/sda is not /dev/VG/LV"):
        probe_device(LOCAL, "/dev/sda", CHUNK, "x", allowed_vgs=["xenvg"])


def test_failed_transport_names_the_target(tmp_path):
    src = _source(tmp_path / "src", size_mib=1)
    broken = Transport("local", local_argv=["/bin/false"])
    with pytest.raises(DiskSendError, match="cannot inspect .* on local"):
        send_devices(broken, [{"src": str(src), "dst": str(tmp_path / "d")}],
                     require_block=False)


def test_device_checksum_is_sha256_of_the_size(tmp_path):
    src = _source(tmp_path / "src", size_mib=2)
    data = src.read_bytes()
    assert device_checksum(str(src), len(data)) == hashlib.sha256(data).hexdigest()
    assert device_checksum(str(src), 1000) == hashlib.sha256(data[:1000]).hexdigest()
