"""gnt.cluster.block_disk_send through the module entry point: argument checks and
refusals before anything is sent (no block device exists in unit tests; the copy between
real LVs runs in tests/integration/test_storage_lab_move.py)."""

from __future__ import annotations

LV = "/dev/xenvg/0e5f1c2a.disk0"


def test_block_disk_send_argument_errors(run_module):
    disk = {"src": LV, "dst": LV}
    base = {"target_address": "127.0.0.1", "allowed_vgs": ["xenvg"]}
    ok, result = run_module("block_disk_send", {**base, "disks": [disk, disk]})
    assert not ok and f"target device {LV} is listed twice" in result["msg"]
    ok, result = run_module("block_disk_send", {**base, "disks": [disk], "target_port": 0})
    assert not ok and "target_port 0 is not a TCP port" in result["msg"]
    ok, result = run_module("block_disk_send", {**base, "disks": []})
    assert not ok and "at least one" in result["msg"]
    ok, result = run_module("block_disk_send", {**base, "disks": [disk], "allowed_vgs": []})
    assert not ok and "allowed_vgs must name at least one volume group" in result["msg"]
    ok, result = run_module("block_disk_send", {"target_address": "x", "disks": [disk]})
    assert not ok and "allowed_vgs" in result["msg"]


def test_block_disk_send_refuses_other_sources(run_module, tmp_path):
    regular = tmp_path / "disk0"
    regular.write_bytes(b"x" * 4096)
    base = {"target_address": "127.0.0.1", "target_port": 1, "allowed_vgs": ["xenvg"]}
    ok, result = run_module("block_disk_send", {
        **base, "disks": [{"src": str(regular), "dst": LV}]}, check=True)
    assert not ok and "is not /dev/VG/LV of an allowed volume group (xenvg)" in result["msg"]
    ok, result = run_module("block_disk_send", {
        **base, "disks": [{"src": "/dev/othervg/lv", "dst": LV}]}, check=True)
    assert not ok and "source device /dev/othervg/lv is not /dev/VG/LV" in result["msg"]
    ok, result = run_module("block_disk_send", {
        **base, "disks": [{"src": "/dev/xenvg/absent", "dst": LV}]}, check=True)
    assert not ok and "source device /dev/xenvg/absent is missing" in result["msg"]
    assert regular.read_bytes() == b"x" * 4096
