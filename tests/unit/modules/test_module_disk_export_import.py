"""gnt.cluster.disk_export and disk_import run through ansible on localhost (local
peer): result shapes, per-disk failures, argument errors and check mode."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
BUNDLED_OS = str(REPO / "roles" / "node_prepare" / "files" / "os")
MIB = 1024 * 1024
EXPORT_KEYS = {"index", "ok", "dump", "path", "method", "bytes", "duration_s", "msg"}
IMPORT_KEYS = {"index", "ok", "dump", "method", "bytes", "duration_s", "msg"}


def instance(base: Path, os_name: str = "blank", fill: bool = True) -> dict[str, Any]:
    """Two sparse file disks (1 and 2 MiB), random data at their start when ``fill``."""
    disks = []
    for index in range(2):
        path = base / f"disk{index}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate((index + 1) * MIB)
            if fill:
                handle.write(os.urandom(100_000 + index))
        disks.append({"index": index, "uuid": f"d{index}", "path": str(path),
                      "size_mib": index + 1, "mode": "rw"})
    return {"name": "inst1.example.com", "uuid": "u-1", "os": os_name, "osparams": {},
            "hypervisor": "kvm", "hvparams": {}, "beparams": {}, "disk_template": "file",
            "disks": disks, "nics": []}


def digests(inst: dict[str, Any]) -> list[str]:
    return [hashlib.sha256(Path(d["path"]).read_bytes()).hexdigest() for d in inst["disks"]]


def export_args(inst: dict[str, Any], dest: Path, **kw: Any) -> dict[str, Any]:
    args = {"instance": inst, "dest_dir": str(dest), "compression": "zstd",
            "peer": {"local": True}, "search_path": [BUNDLED_OS]}
    args.update(kw)
    return args


def test_export_then_import_round_trip(run_module, tmp_path: Path) -> None:
    source = instance(tmp_path / "src")
    dest = tmp_path / "export" / ".inst1.example.com.new-1"
    ok, result = run_module("disk_export", export_args(source, dest,
                                                       log_dir=str(tmp_path / "log")))
    assert ok and result["changed"] is True, result
    assert [set(entry) for entry in result["disks"]] == [EXPORT_KEYS] * 2
    assert [(e["index"], e["ok"], e["dump"], e["method"], e["msg"])
            for e in result["disks"]] == [(0, True, "disk0.dump.zst", "os", ""),
                                          (1, True, "disk1.dump.zst", "os", "")]
    for entry in result["disks"]:
        assert entry["path"] == str(dest / entry["dump"])
        assert Path(entry["path"]).stat().st_size == entry["bytes"]

    target = instance(tmp_path / "dst", fill=False)
    ok, result = run_module("disk_import", {
        "instance": target, "compression": "zstd", "peer": {"local": True},
        "search_path": [BUNDLED_OS],
        "disks": [{"index": e["index"], "dump": e["path"]} for e in result["disks"]]})
    assert ok and result["changed"] is True, result
    assert [set(entry) for entry in result["disks"]] == [IMPORT_KEYS] * 2
    assert [(e["index"], e["ok"], e["method"]) for e in result["disks"]] == \
        [(0, True, "os"), (1, True, "os")]
    assert digests(target) == digests(source)


def test_raw_export_selected_disk_only(run_module, tmp_path: Path) -> None:
    source = instance(tmp_path / "src", os_name="")
    ok, result = run_module("disk_export", export_args(source, tmp_path / "exp", disks=[1],
                                                       compression="none"))
    assert ok, result
    assert [(e["index"], e["method"], e["bytes"]) for e in result["disks"]] == \
        [(1, "raw", 2 * MIB)]
    assert sorted(os.listdir(tmp_path / "exp")) == ["disk1.dump"]
    assert (tmp_path / "exp" / "disk1.dump").read_bytes() == \
        Path(source["disks"][1]["path"]).read_bytes()


def test_export_failure_keeps_per_disk_results(run_module, tmp_path: Path) -> None:
    osdir = tmp_path / "os" / "flaky"
    osdir.mkdir(parents=True)
    (osdir / "ganeti_api_version").write_text("20\n")
    bodies = {"create": "exit 0", "import": "exit 0", "rename": "exit 0",
              "export": 'if [ "$EXPORT_INDEX" = 1 ]; then echo "read error on disk 1" >&2;'
                        ' exit 9; fi\ncat "$EXPORT_DEVICE"'}
    for name, body in bodies.items():
        (osdir / name).write_text(f"#!/bin/sh\n{body}\n")
        (osdir / name).chmod(0o755)
    source = instance(tmp_path / "src", os_name="flaky")
    ok, result = run_module("disk_export", export_args(source, tmp_path / "exp",
                                                       search_path=[str(tmp_path / "os")]))
    assert not ok and result["changed"] is True
    assert "inst1.example.com" in result["msg"] and "1 of 2 disk(s) failed" in result["msg"]
    assert "read error on disk 1" in result["msg"]
    assert [(e["index"], e["ok"]) for e in result["disks"]] == [(0, True), (1, False)]
    assert "exit code 9" in result["disks"][1]["msg"]
    assert (tmp_path / "exp" / "disk0.dump.zst").stat().st_size == result["disks"][0]["bytes"]


def test_import_failure_names_the_disk(run_module, tmp_path: Path) -> None:
    target = instance(tmp_path / "dst", os_name="")
    before = digests(target)
    missing = str(tmp_path / "exp" / "disk0.dump")
    ok, result = run_module("disk_import", {
        "instance": target, "peer": {"local": True},
        "disks": [{"index": 0, "dump": missing}, {"index": 1, "dump": missing}]})
    assert not ok and "import of 1 of 1 disk(s) failed" in result["msg"] and missing in result["msg"]
    assert len(result["disks"]) == 1 and result["disks"][0]["ok"] is False
    assert result["disks"][0]["msg"].startswith("disk 0:")
    assert digests(target) == before


def test_argument_errors(run_module, tmp_path: Path) -> None:
    source = instance(tmp_path / "src")
    ok, result = run_module("disk_export", export_args(source, tmp_path / "exp",
                                                       peer={"name": "node2"}))
    assert not ok and "peer.address is required" in result["msg"]
    assert result["disks"] == []
    ok, result = run_module("disk_export", export_args(dict(source, os="debootstrap"),
                                                       tmp_path / "exp"))
    assert not ok and "debootstrap" in result["msg"] and result["disks"] == []
    ok, result = run_module("disk_export", export_args(source, tmp_path / "exp",
                                                       compression="xz"))
    assert not ok and "compression" in result["msg"] and "xz" in result["msg"]
    ok, result = run_module("disk_import", {"instance": source, "disks": [],
                                            "peer": {"local": False}})
    assert not ok and "peer.address is required" in result["msg"]
    assert not (tmp_path / "exp").exists()


def test_check_mode_plans_only(run_module, tmp_path: Path) -> None:
    source = instance(tmp_path / "src")
    ok, result = run_module("disk_export", export_args(source, tmp_path / "exp"), check=True)
    assert ok and result["changed"] is True
    assert [(e["ok"], e["bytes"], e["msg"]) for e in result["disks"]] == \
        [(True, None, "would export")] * 2
    assert result["disks"][0]["path"] == str(tmp_path / "exp" / "disk0.dump.zst")
    assert not (tmp_path / "exp").exists()

    dump = tmp_path / "dump"
    dump.write_bytes(b"new data")
    before = digests(source)
    ok, result = run_module("disk_import", {
        "instance": source, "peer": {"local": True}, "search_path": [BUNDLED_OS],
        "disks": [{"index": 0, "dump": str(dump)}]}, check=True)
    assert ok and result["disks"][0]["msg"] == "would import"
    assert digests(source) == before
