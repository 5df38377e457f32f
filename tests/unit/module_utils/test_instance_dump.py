"""instance_dump: export and import of instance disks with the bundled OS definitions (real
scripts), raw without an OS, a test OS whose export fails for one disk, API 5 arguments and
check mode. Everything runs locally (target/source ``{"local": True}``)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils import instance_dump as idm

REPO = Path(__file__).resolve().parents[3]
BUNDLED_OS = REPO / "roles" / "node_prepare" / "files" / "os"
MIB = 1024 * 1024
COMPRESSIONS = ("none", "gzip", "gzip-fast", "gzip-slow", "lzop", "zstd")
LOCAL = {"local": True}


def make_instance(base: Path, os_name: str, fill: bool = True,
                  sizes: tuple[int, ...] = (2, 3)) -> dict[str, Any]:
    """An instance spec with one file disk per size (MiB): random data in the middle of a
    sparse file when ``fill``, else all zeros."""
    disks = []
    for index, size in enumerate(sizes):
        path = base / f"disk{index}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate(size * MIB)
            if fill:
                handle.seek(4096 + index * 7)
                handle.write(os.urandom(256 * 1024 + index))
                handle.seek(size * MIB - 100)
                handle.write(os.urandom(100))
        disks.append({"index": index, "uuid": f"d{index}", "path": str(path),
                      "size_mib": size, "mode": "rw"})
    return {"name": "inst1.example.com", "uuid": "u-1", "os": os_name, "osparams": {},
            "hypervisor": "kvm", "hvparams": {}, "beparams": {}, "disk_template": "file",
            "disks": disks, "nics": []}


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_os(base: Path, name: str, export: str, import_: str = 'cat > "$IMPORT_DEVICE"',
            versions: str = "20") -> Path:
    """An OS definition with the given export/import shell bodies."""
    path = base / name
    path.mkdir(parents=True)
    (path / "ganeti_api_version").write_text(versions + "\n")
    bodies = {"create": "exit 0", "rename": "exit 0", "export": export, "import": import_}
    for script, body in bodies.items():
        (path / script).write_text(f"#!/bin/sh\n{body}\n")
        (path / script).chmod(0o755)
    return path


def round_trip(tmp_path: Path, os_name: str, compression: str, search_path: list[str],
               use_os: bool = True) -> tuple[dict, dict, list, list]:
    source = make_instance(tmp_path / "src", os_name)
    export_dir = tmp_path / "export" / "inst1.example.com"
    exported = idm.export_disks(source, [0, 1], str(export_dir), compression, LOCAL,
                                search_path, use_os=use_os, log_dir=str(tmp_path / "log"))
    assert [e["ok"] for e in exported] == [True, True], exported
    target = make_instance(tmp_path / "dst", os_name, fill=False)
    imported = idm.import_disks(target, [{"index": e["index"], "dump": e["path"]}
                                         for e in exported],
                                compression, LOCAL, search_path, use_os=use_os)
    return source, target, exported, imported


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_round_trip_through_the_bundled_blank_os(tmp_path: Path, compression: str) -> None:
    source, target, exported, imported = round_trip(tmp_path, "blank", compression,
                                                    [str(BUNDLED_OS)])
    assert [e["dump"] for e in exported] == [idm.dump_name(0, compression),
                                             idm.dump_name(1, compression)]
    assert all(e["method"] == "os" and Path(e["path"]).stat().st_size == e["bytes"]
               for e in exported)
    assert [(i["ok"], i["method"], i["msg"]) for i in imported] == [(True, "os", "")] * 2
    for old, new in zip(source["disks"], target["disks"]):
        assert digest(new["path"]) == digest(old["path"])
    assert sorted(os.listdir(tmp_path / "log"))      # the scripts' logs are kept


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_round_trip_raw(tmp_path: Path, compression: str) -> None:
    """No OS (use_os false): the disk itself is read, the dump written onto the disk."""
    source, target, exported, imported = round_trip(tmp_path, "blank", compression,
                                                    [str(BUNDLED_OS)], use_os=False)
    assert [e["method"] for e in exported] == ["raw", "raw"]
    if compression != "none":
        for entry in exported:       # really compressed, not a copy of the disk
            assert Path(entry["path"]).stat().st_size < 1 * MIB
    assert [(i["ok"], i["method"]) for i in imported] == [(True, "raw")] * 2, imported
    assert [i["bytes"] for i in imported] == [2 * MIB, 3 * MIB]
    for old, new in zip(source["disks"], target["disks"]):
        assert digest(new["path"]) == digest(old["path"])


def test_instance_without_os_is_raw(tmp_path: Path) -> None:
    source, target, exported, imported = round_trip(tmp_path, "", "zstd", [])
    assert [e["method"] for e in exported] == ["raw", "raw"]
    assert [i["ok"] for i in imported] == [True, True], imported
    assert digest(target["disks"][1]["path"]) == digest(source["disks"][1]["path"])


def test_missing_os_raises_naming_it(tmp_path: Path) -> None:
    inst = make_instance(tmp_path, "debootstrap+default")
    with pytest.raises(idm.DumpError, match="inst1.example.com.*debootstrap"):
        idm.export_disks(inst, [0], str(tmp_path / "exp"), "none", LOCAL, [str(BUNDLED_OS)])
    with pytest.raises(idm.DumpError, match="debootstrap"):
        idm.import_disks(inst, [{"index": 0, "dump": str(tmp_path / "d")}], "none", LOCAL,
                         [str(BUNDLED_OS)])
    assert not (tmp_path / "exp").exists()


def test_unknown_variant_raises(tmp_path: Path) -> None:
    inst = make_instance(tmp_path, "blank+fancy")
    with pytest.raises(idm.DumpError, match="fancy"):
        idm.export_disks(inst, [0], str(tmp_path / "exp"), "none", LOCAL, [str(BUNDLED_OS)])


def test_export_failing_for_one_disk_keeps_the_others(tmp_path: Path) -> None:
    make_os(tmp_path / "os", "flaky",
            'if [ "$EXPORT_INDEX" = 1 ]; then echo "disk 1 has bad sectors" >&2; exit 5; fi\n'
            'cat "$EXPORT_DEVICE"')
    inst = make_instance(tmp_path / "inst", "flaky")
    results = idm.export_disks(inst, [0, 1], str(tmp_path / "exp"), "gzip", LOCAL,
                               [str(tmp_path / "os")])
    assert [r["index"] for r in results] == [0, 1]
    assert results[0]["ok"] and results[0]["msg"] == ""
    assert not results[1]["ok"]
    assert results[1]["msg"].startswith("disk 1: OS flaky export script for disk 1 failed"
                                        " with exit code 5")
    assert "disk 1 has bad sectors" in results[1]["msg"]
    dump0 = tmp_path / "exp" / "disk0.dump.gz"
    assert dump0.stat().st_size == results[0]["bytes"] > 0


def test_import_stops_at_the_first_failing_disk(tmp_path: Path) -> None:
    make_os(tmp_path / "os", "picky", 'cat "$EXPORT_DEVICE"',
            import_='if [ "$IMPORT_INDEX" = 0 ]; then echo "no space left" >&2; exit 6; fi\n'
                    'cat > "$IMPORT_DEVICE"')
    inst = make_instance(tmp_path / "inst", "picky")
    dumps = [{"index": 0, "dump": str(tmp_path / "d0")}, {"index": 1, "dump": str(tmp_path / "d1")}]
    for item in dumps:
        Path(item["dump"]).write_bytes(b"data")
    results = idm.import_disks(inst, dumps, "none", LOCAL, [str(tmp_path / "os")])
    assert len(results) == 1 and not results[0]["ok"]
    assert "exit code 6" in results[0]["msg"] and "no space left" in results[0]["msg"]


def test_import_of_a_missing_dump_names_it(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "inst", "")
    missing = str(tmp_path / "nowhere" / "disk0.dump")
    results = idm.import_disks(inst, [{"index": 0, "dump": missing}], "none", LOCAL, [])
    assert not results[0]["ok"] and missing in results[0]["msg"]
    results = idm.import_disks(inst, [{"index": 0, "dump": "relative/disk0.dump"}], "none",
                               LOCAL, [])
    assert not results[0]["ok"] and "not an absolute path" in results[0]["msg"]


def test_os_api_5_arguments(tmp_path: Path) -> None:
    """An OS speaking only API 5 (the bundled blank with its API 5 argument path)."""
    search = tmp_path / "os"
    shutil.copytree(BUNDLED_OS, search)
    (search / "blank" / "ganeti_api_version").write_text("5\n")
    source, target, exported, imported = round_trip(tmp_path, "blank", "zstd", [str(search)])
    assert [i["ok"] for i in imported] == [True, True]
    for old, new in zip(source["disks"], target["disks"]):
        assert digest(new["path"]) == digest(old["path"])


def test_os_api_5_export_gets_the_disk_as_argument(tmp_path: Path) -> None:
    make_os(tmp_path / "os", "old", 'echo "$@"', versions="5")
    inst = make_instance(tmp_path / "inst", "old")
    results = idm.export_disks(inst, [1], str(tmp_path / "exp"), "none", LOCAL,
                               [str(tmp_path / "os")])
    assert results[0]["ok"], results
    assert (tmp_path / "exp" / "disk1.dump").read_text() == \
        f"-i inst1.example.com -b {inst['disks'][1]['path']}\n"


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "inst", "blank")
    before = [digest(d["path"]) for d in inst["disks"]]
    results = idm.export_disks(inst, [0, 1], str(tmp_path / "exp"), "zstd", LOCAL,
                               [str(BUNDLED_OS)], check_mode=True)
    expected = [(True, None, "would export")] * 2
    assert [(r["ok"], r["bytes"], r["msg"]) for r in results] == expected
    assert results[1]["path"] == str(tmp_path / "exp" / "disk1.dump.zst")
    assert not (tmp_path / "exp").exists()
    dump = tmp_path / "dump"
    dump.write_bytes(os.urandom(1000))
    results = idm.import_disks(inst, [{"index": 0, "dump": str(dump)}], "none", LOCAL,
                               [str(BUNDLED_OS)], check_mode=True)
    assert results[0]["ok"] and results[0]["msg"] == "would import"
    assert [digest(d["path"]) for d in inst["disks"]] == before


def test_check_mode_creates_no_log_dir(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "inst", "blank")
    results = idm.export_disks(inst, [0], str(tmp_path / "exp"), "none", LOCAL,
                               [str(BUNDLED_OS)], log_dir=str(tmp_path / "log"),
                               check_mode=True)
    assert results[0]["ok"]
    assert not (tmp_path / "log").exists()


def test_unknown_disk_index(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "inst", "")
    results = idm.export_disks(inst, [0, 7], str(tmp_path / "exp"), "none", LOCAL, [])
    assert results[0]["ok"] and not results[1]["ok"]
    assert "has no disk 7" in results[1]["msg"]


def test_relative_export_dir_refused(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "inst", "")
    with pytest.raises(idm.DumpError, match="not an absolute path"):
        idm.export_disks(inst, [0], "exports/inst1", "none", LOCAL, [])


def test_dump_name() -> None:
    assert idm.dump_name(0, "none") == "disk0.dump"
    assert idm.dump_name(1, "gzip") == "disk1.dump.gz"
    assert idm.dump_name(2, "gzip-fast") == "disk2.dump.gz"
    assert idm.dump_name(3, "gzip-slow") == "disk3.dump.gz"
    assert idm.dump_name(4, "lzop") == "disk4.dump.lzo"
    assert idm.dump_name(5, "zstd") == "disk5.dump.zst"
    with pytest.raises(idm.DumpError, match="unknown compression 'xz'"):
        idm.dump_name(0, "xz")


def test_export_drops_a_block_devices_cached_pages_before_reading(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """DRBD writes reach its data volume below the volume's page cache: the export drops the
    cache of a block device before the read (ioctl BLKFLSBUF), and leaves files alone."""
    inst = make_instance(tmp_path / "inst", "")
    calls: list[Any] = []
    block = inst["disks"][1]["path"]
    real_stat = os.stat

    def fake_stat(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if path == block:
            return os.stat_result((0o060600,) + tuple(result)[1:])
        return result

    def run_chain(stages, timeout):
        calls.append("read")
        return {"bytes": 1, "output": "", "duration_s": 0.0}

    monkeypatch.setattr(idm.os, "stat", fake_stat)
    monkeypatch.setattr(idm.fcntl, "ioctl", lambda fd, req, arg: calls.append(hex(req)))
    monkeypatch.setattr(idm.ds, "run_chain", run_chain)
    results = idm.export_disks(inst, [0, 1], str(tmp_path / "exp"), "none", LOCAL, [])
    assert all(r["ok"] for r in results), results
    assert calls == ["read", "0x1261", "read"]      # disk 0 a file, disk 1 a block device
