"""disk_send: sparse verified copies through the real receiver (run locally instead of over
SSH), idempotence decisions, refusals and the checksum shared by sender and receiver."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.disk_send import (
    CHUNK,
    COPY,
    RECEIVER,
    SKIP,
    DiskSendError,
    Transport,
    plan_disk,
    probe_target,
    send_disks,
    sparse_checksum,
)

LOCAL = Transport("local", local_argv=[sys.executable])


def _sparse_disk(path, size_mib=8, blocks=((0, b"boot"), (5 * CHUNK + 17, b"data"))):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fobj:
        fobj.truncate(size_mib * CHUNK)
        for offset, data in blocks:
            fobj.seek(offset)
            fobj.write(data)
    return path


def test_plan_disk():
    assert plan_disk(10, "abc", {"exists": False}) == COPY
    assert plan_disk(10, "abc", {"exists": True, "size": 10, "checksum": "abc"}) == SKIP
    with pytest.raises(DiskSendError, match="refusing to overwrite.*without force"):
        plan_disk(10, "abc", {"exists": True, "size": 10, "checksum": "abd", "path": "/x"})
    with pytest.raises(DiskSendError, match="size 20 bytes, source 10"):
        plan_disk(10, "abc", {"exists": True, "size": 20, "checksum": None, "path": "/x"})
    assert plan_disk(10, "abc", {"exists": True, "size": 20, "checksum": None}, force=True) == COPY


def test_checksum_ignores_holes_vs_written_zeros(tmp_path):
    sparse = _sparse_disk(tmp_path / "a")
    dense = tmp_path / "b"
    dense.write_bytes(sparse.read_bytes())          # same content, zeros written out
    assert sparse_checksum(sparse) == sparse_checksum(dense)
    other = _sparse_disk(tmp_path / "c", blocks=((0, b"boot"), (5 * CHUNK + 17, b"datA")))
    assert sparse_checksum(other)[1] != sparse_checksum(sparse)[1]
    longer = _sparse_disk(tmp_path / "d", size_mib=9)
    assert sparse_checksum(longer)[1] != sparse_checksum(sparse)[1]


def test_receiver_checksum_equals_sender_checksum(tmp_path):
    disk = _sparse_disk(tmp_path / "storage" / "disk0")
    size, digest = sparse_checksum(disk)
    answer = probe_target(LOCAL, str(disk), size)
    assert answer["exists"] and answer["size"] == size and answer["checksum"] == digest


def test_copy_sparse_verified_then_skipped(tmp_path):
    storage = tmp_path / "storage"
    src = _sparse_disk(storage / "inst1" / "disk0", size_mib=64)
    dst = storage / "copy" / "inst1" / "disk0"
    disks = [{"src": str(src), "dst": str(dst)}]

    changed, results = send_disks(LOCAL, disks, [str(storage)], check_mode=True)
    assert changed and results[0]["action"] == "would_copy" and not dst.parent.exists()

    changed, results = send_disks(LOCAL, disks, [str(storage)])
    assert changed and results[0]["action"] == "copied"
    assert dst.read_bytes() == src.read_bytes()
    assert os.stat(dst).st_blocks * 512 < 4 * CHUNK, "holes must stay holes"
    assert results[0]["sent_mib"] <= 2.0 and results[0]["size_mib"] == 64.0
    assert not list(dst.parent.glob("*.gnt-part"))

    changed, results = send_disks(LOCAL, disks, [str(storage)])
    assert not changed and results[0]["action"] == "skipped"


def test_different_target_refused_unless_force(tmp_path):
    src = _sparse_disk(tmp_path / "s" / "disk0")
    dst = tmp_path / "t" / "disk0"
    dst.parent.mkdir()
    dst.write_bytes(b"another instance's disk")
    disks = [{"src": str(src), "dst": str(dst)}]
    with pytest.raises(DiskSendError, match="exists with other content"):
        send_disks(LOCAL, disks)
    assert dst.read_bytes() == b"another instance's disk"
    changed, _results = send_disks(LOCAL, disks, force=True)
    assert changed and dst.read_bytes() == src.read_bytes()


def test_paths_outside_allowed_dirs_refused(tmp_path):
    storage = tmp_path / "storage"
    inside = _sparse_disk(storage / "i" / "disk0")
    outside = _sparse_disk(tmp_path / "elsewhere" / "disk0")
    with pytest.raises(DiskSendError, match="source disk .* outside the allowed"):
        send_disks(LOCAL, [{"src": str(outside), "dst": str(storage / "x")}], [str(storage)])
    with pytest.raises(DiskSendError, match="target path .* outside the allowed"):
        send_disks(LOCAL, [{"src": str(inside), "dst": str(tmp_path / "x" / "d")}],
                   [str(storage)])
    assert not (tmp_path / "x").exists()


def test_missing_source_and_failed_transport(tmp_path):
    with pytest.raises(DiskSendError, match="missing or not a regular file"):
        send_disks(LOCAL, [{"src": str(tmp_path / "nope"), "dst": str(tmp_path / "d")}])
    src = _sparse_disk(tmp_path / "disk0")
    broken = Transport("local", local_argv=["/bin/false"])
    with pytest.raises(DiskSendError, match="cannot inspect .* on local"):
        send_disks(broken, [{"src": str(src), "dst": str(tmp_path / "d")}])


def _receive(tmp_path, stream: bytes, dst, **popen):
    """The receiver run here on ``stream`` (as the target runs it over SSH)."""
    request = json.dumps({"op": "receive", "dst": str(dst), "allowed_dirs": [str(tmp_path)]})
    return subprocess.Popen([sys.executable, "-c", RECEIVER, request], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, **popen), stream


@pytest.mark.parametrize("cut", ["mid-frame", "no-checksum"])
def test_a_stream_that_ends_early_leaves_no_partial_file(tmp_path, cut):
    dst = tmp_path / "inst1" / "disk0"
    frame = struct.pack(">QI", 0, 8) + b"12345678"
    body = frame[:6] if cut == "mid-frame" else frame + struct.pack(">QI", 0, 0)
    proc, stream = _receive(tmp_path, json.dumps({"size": 8}).encode() + b"\n" + body, dst)
    out, _err = proc.communicate(stream, timeout=30)
    assert proc.returncode == 1 and not json.loads(out)["ok"]
    assert not dst.exists() and not list(dst.parent.glob("*.gnt-part"))


def test_a_receiver_stopped_mid_copy_leaves_no_partial_file(tmp_path):
    dst = tmp_path / "inst1" / "disk0"
    proc, _stream = _receive(tmp_path, b"", dst)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"size": 16}).encode() + b"\n"
                     + struct.pack(">QI", 0, 8) + b"12345678")
    proc.stdin.flush()
    part = dst.parent / "disk0.gnt-part"
    deadline = time.monotonic() + 30
    while not part.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert part.exists()   # the copy is under way
    proc.send_signal(signal.SIGHUP)    # as when the SSH session drops
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "signal" in json.loads(out)["msg"]
    assert not part.exists() and not dst.exists()
