"""gnt.cluster.os_definition run through ansible, including Debian's ganeti-os-noop."""

from __future__ import annotations

from pathlib import Path

import pytest

NOOP_DIR = Path("/usr/share/ganeti/os")


def make_os(base: Path, name: str, body: str, versions: str = "20") -> Path:
    path = base / name
    path.mkdir(parents=True)
    (path / "ganeti_api_version").write_text(versions + "\n")
    for script in ("create", "import", "export", "rename"):
        (path / script).write_text(f"#!/bin/sh\n{body}\n")
        (path / script).chmod(0o755)
    (path / "variants.list").write_text("alpha\nbeta\n")
    (path / "parameters.list").write_text("color the colour\n")
    return path


def instance(tmp_path: Path, os_name: str, disks: int = 1) -> dict:
    paths = []
    for i in range(disks):
        disk = tmp_path / "fs" / "inst1.example.com" / f"disk{i}"
        disk.parent.mkdir(parents=True, exist_ok=True)
        disk.write_bytes(b"\0" * 2**20)
        paths.append({"index": i, "uuid": f"d{i}", "path": str(disk), "size_mib": 1,
                      "mode": "rw"})
    return {"name": "inst1.example.com", "uuid": "u-1", "os": os_name, "osparams": {},
            "hypervisor": "kvm", "hvparams": {"disk_type": "paravirtual"},
            "beparams": {"maxmem": 128, "minmem": 128, "vcpus": 1}, "memory": 128,
            "disk_template": "file", "disks": paths, "nics": [],
            "console_log": str(tmp_path / "console.log")}


def test_diagnose(run_module, tmp_path):
    make_os(tmp_path / "os", "good", "exit 0")
    (tmp_path / "os" / "broken").mkdir()
    ok, result = run_module("os_definition", {"action": "diagnose",
                                              "search_path": [str(tmp_path / "os")]})
    assert ok and result["changed"] is False
    found = {o["name"]: o for o in result["oses"]}
    assert found["good"]["valid"] and found["good"]["variants"] == ["alpha", "beta"]
    assert found["good"]["parameters"] == [["color", "the colour"]]
    assert not found["broken"]["valid"] and "ganeti_api_version" in found["broken"]["error"]


def test_create_check_mode_variants_and_failure(run_module, tmp_path):
    marker = tmp_path / "ran"
    make_os(tmp_path / "os", "good", f'echo "$OS_VARIANT $OSP_COLOR" > {marker}')
    args = {"action": "create", "search_path": [str(tmp_path / "os")],
            "instance": dict(instance(tmp_path, "good+beta"), osparams={"color": "red"}),
            "log_dir": str(tmp_path / "logs")}
    ok, result = run_module("os_definition", args, check=True)
    assert ok and result["changed"] is True and result["variant"] == "beta"
    assert not marker.exists()

    ok, result = run_module("os_definition", args)
    assert ok and result["changed"] is True and result["rc"] == 0
    assert marker.read_text() == "beta red\n"
    assert Path(result["log_path"]).parent == tmp_path / "logs"

    bad_variant = dict(args, os="good+gamma")
    ok, result = run_module("os_definition", bad_variant)
    assert not ok and "gamma" in result["msg"] and "alpha, beta" in result["msg"]

    make_os(tmp_path / "os", "failing", "echo about to fail; echo broken >&2; exit 7")
    ok, result = run_module("os_definition", dict(args, os="failing"))
    assert not ok
    assert "OS failing" in result["msg"] and "exit code 7" in result["msg"]
    assert result["rc"] == 7 and result["log_path"] in result["msg"]
    assert result["log_tail"] == ["about to fail", "broken"]
    assert result["script"].endswith("/failing/create")

    ok, result = run_module("os_definition", dict(args, os="missing"))
    assert not ok and "OS missing not found" in result["msg"]


@pytest.fixture(scope="module")
def noop_os():
    """Debian's ganeti-os-noop (``scripts/setup.sh --test`` installs it; unit tests never
    install packages)."""
    if not (NOOP_DIR / "noop").is_dir():
        pytest.skip(f"ganeti-os-noop is not installed ({NOOP_DIR}/noop is missing);"
                    " scripts/setup.sh --test installs it")
    return NOOP_DIR


def test_debian_noop_unmodified(run_module, noop_os, tmp_path):
    inst = instance(tmp_path, "noop")
    base = {"search_path": [str(noop_os)], "instance": inst, "log_dir": str(tmp_path / "logs")}
    ok, result = run_module("os_definition", {"action": "diagnose",
                                              "search_path": [str(noop_os)]})
    noop = {o["name"]: o for o in result["oses"]}["noop"]
    assert noop["valid"] and noop["api_version"] == 10  # its file lists 5 and 10

    ok, result = run_module("os_definition", dict(base, action="create"))
    assert ok and result["api_version"] == 10 and result["rc"] == 0

    disk = Path(inst["disks"][0]["path"])
    disk.write_bytes(b"NOOP" * 2**18)
    dump = tmp_path / "disk0.dump"
    ok, result = run_module("os_definition", dict(base, action="export",
                                                  stdout_path=str(dump)))
    assert ok and dump.read_bytes() == b"NOOP" * 2**18

    disk.write_bytes(b"\0" * 2**20)
    ok, result = run_module("os_definition", dict(base, action="import",
                                                  stdin_path=str(dump)))
    assert ok and disk.read_bytes() == b"NOOP" * 2**18

    ok, result = run_module("os_definition", dict(base, action="rename",
                                                  old_name="old.example.com"))
    assert ok and result["rc"] == 0
