"""os_interface: discovery, API 5 arguments, API 10/15/20 environment, script runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.os_interface import (
    OSDefinitionError,
    build_args,
    build_env,
    check_variant_and_params,
    diagnose,
    find_os,
    load_os,
    run_script,
    split_os_name,
    verify_parameters,
)

INSTANCE = {
    "name": "inst1.example.com",
    "uuid": "6f1a3a8e-2d7e-4c51-9a53-0c5d1c7c2a11",
    "os": "debootstrap+buster",
    "osparams": {"dhcp": "yes", "root_size": 8},
    "hypervisor": "kvm",
    "hvparams": {"accel": "tcg", "disk_type": "paravirtual", "nic_type": "e1000",
                 "serial_console": True},
    "beparams": {"maxmem": 256, "minmem": 128, "vcpus": 1, "auto_balance": True},
    "memory": 256,
    "disk_template": "file",
    "disks": [
        {"index": 1, "uuid": "uuid-d1", "path": "/srv/d1", "size_mib": 128, "mode": "ro"},
        {"index": 0, "uuid": "uuid-d0", "path": "/srv/d0", "size_mib": 1024, "mode": "rw"},
    ],
    "nics": [
        {"index": 0, "uuid": "uuid-n0", "mac": "aa:00:00:12:34:56", "ip": None,
         "mode": "bridged", "link": "gnt-br0"},
        {"index": 1, "uuid": "uuid-n1", "mac": "aa:00:00:12:34:57", "ip": "198.18.0.50",
         "mode": "routed", "link": "100"},
    ],
    "console_log": "/var/log/gnt/console/inst1.example.com.log",
}

SCRIPT = "#!/bin/sh\n{body}\n"


def make_os(base: Path, name: str, versions="20", scripts=("create", "import", "export",
            "rename"), body="exit 0", variants=None, parameters=None, verify=None) -> Path:
    path = base / name
    path.mkdir(parents=True)
    if versions is not None:
        (path / "ganeti_api_version").write_text(versions + "\n")
    for script in scripts:
        target = path / script
        target.write_text(SCRIPT.format(body=body))
        target.chmod(0o755)
    if variants is not None:
        (path / "variants.list").write_text("\n".join(variants) + "\n")
    if parameters is not None:
        (path / "parameters.list").write_text(
            "\n".join(f"{k} {v}" for k, v in parameters.items()) + "\n")
    if verify is not None:
        (path / "verify").write_text(SCRIPT.format(body=verify))
        (path / "verify").chmod(0o755)
    return path


def test_split_os_name():
    assert split_os_name("debootstrap+buster") == ("debootstrap", "buster")
    assert split_os_name("noop") == ("noop", "")


def test_discovery_valid_and_invalid(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    make_os(first, "good", versions="20\n15\n10", variants=["buster", "# comment", "", "sid"],
            parameters={"dhcp": "use dhcp", "root_size": "size in GiB"})
    make_os(first, "noversion", versions=None)
    make_os(first, "badversion", versions="twenty")
    make_os(first, "future", versions="30")
    make_os(first, "norename", scripts=("create", "import", "export"))
    noexec = make_os(first, "noexec")
    (noexec / "export").chmod(0o644)
    make_os(second, "good", versions="5")
    (first / "plainfile").write_text("not an OS")
    found = {os_["name"]: os_ for os_ in diagnose([str(first), str(second)])}
    assert sorted(found) == ["badversion", "future", "good", "noexec", "norename",
                             "noversion"]
    good = found["good"]
    assert good["valid"] and good["error"] == ""
    assert good["path"] == str(first / "good")
    assert good["api_versions"] == [20, 15, 10] and good["api_version"] == 20
    assert good["variants"] == ["buster", "sid"]
    assert good["parameters"] == [["dhcp", "use dhcp"], ["root_size", "size in GiB"]]
    assert good["shadowed"] == [str(second / "good")]
    assert "ganeti_api_version" in found["noversion"]["error"]
    assert "'twenty'" in found["badversion"]["error"]
    assert "30" in found["future"]["error"] and "supported are 5, 10, 15, 20" in \
        found["future"]["error"]
    assert "missing script(s) rename" in found["norename"]["error"]
    assert "not executable: export" in found["noexec"]["error"]
    assert not any(found[n]["valid"] for n in found if n != "good")


def test_find_os_first_match_and_missing(tmp_path):
    make_os(tmp_path / "a", "x", versions="10")
    make_os(tmp_path / "b", "x", versions="20")
    assert find_os("x+v", [str(tmp_path / "a"), str(tmp_path / "b")])["api_version"] == 10
    with pytest.raises(OSDefinitionError, match="OS nope not found"):
        find_os("nope", [str(tmp_path / "a")])
    with pytest.raises(OSDefinitionError, match="invalid OS name"):
        find_os("../etc", [str(tmp_path / "a")])


def test_highest_common_version(tmp_path):
    assert load_os("o", str(make_os(tmp_path, "o", versions="5\n10\n25")))["api_version"] == 10


def test_variants_and_parameters_checked(tmp_path):
    osdef = load_os("deb", str(make_os(tmp_path, "deb", variants=["buster", "sid"],
                                       parameters={"dhcp": "d"})))
    assert check_variant_and_params(osdef, "", {}) == "buster"  # first declared
    assert check_variant_and_params(osdef, "sid", {"dhcp": "no"}) == "sid"
    with pytest.raises(OSDefinitionError, match=r"no variant 'jessie' \(valid: buster, sid\)"):
        check_variant_and_params(osdef, "jessie", {})
    with pytest.raises(OSDefinitionError, match=r"parameter\(s\) color \(valid: dhcp\)"):
        check_variant_and_params(osdef, "sid", {"color": "red"})
    old = load_os("old", str(make_os(tmp_path, "old", versions="10")))
    with pytest.raises(OSDefinitionError, match="does not support variants"):
        check_variant_and_params(old, "sid", {})
    novariants = load_os("nv", str(make_os(tmp_path, "nv", versions="15")))
    with pytest.raises(OSDefinitionError, match="declares no variants"):
        check_variant_and_params(novariants, "sid", {})


def test_api5_arguments(tmp_path):
    osdef = load_os("o5", str(make_os(tmp_path, "o5", versions="5")))
    assert build_args(osdef, INSTANCE, "create") == [
        "-i", "inst1.example.com", "-b", "/srv/d0", "-s", "/srv/d1"]
    assert build_args(osdef, INSTANCE, "import") == [
        "-i", "inst1.example.com", "-b", "/srv/d0", "-s", "/srv/d1"]
    assert build_args(osdef, INSTANCE, "export") == ["-i", "inst1.example.com", "-b", "/srv/d0"]
    assert build_args(osdef, INSTANCE, "export", disk_index=1)[-1] == "/srv/d1"
    assert build_args(osdef, INSTANCE, "rename", old_name="old.example.com") == [
        "-o", "old.example.com", "-n", "inst1.example.com", "-b", "/srv/d0", "-s", "/srv/d1"]
    assert build_env(osdef, INSTANCE, "create") == {"PATH": "/sbin:/bin:/usr/sbin:/usr/bin"}
    one_disk = dict(INSTANCE, disks=INSTANCE["disks"][1:])
    with pytest.raises(OSDefinitionError, match="API 5.*two disks"):
        build_args(osdef, one_disk, "create")


def test_api20_environment(tmp_path):
    osdef = load_os("debootstrap", str(make_os(
        tmp_path, "debootstrap", variants=["buster"],
        parameters={"dhcp": "d", "root_size": "r"})))
    env = build_env(osdef, INSTANCE, "create", variant="buster", debug_level=1)
    assert build_args(osdef, INSTANCE, "create") == []
    expected = {
        "OS_API_VERSION": "20", "OS_NAME": "debootstrap", "OS_VARIANT": "buster",
        "INSTANCE_NAME": "inst1.example.com", "INSTANCE_OS": "debootstrap+buster",
        "INSTANCE_UUID": INSTANCE["uuid"], "HYPERVISOR": "kvm", "DEBUG_LEVEL": "1",
        "DISK_COUNT": "2",
        "DISK_0_PATH": "/srv/d0", "DISK_0_ACCESS": "rw", "DISK_0_UUID": "uuid-d0",
        "DISK_0_FRONTEND_TYPE": "paravirtual", "DISK_0_BACKEND_TYPE": "file:loop",
        "DISK_1_PATH": "/srv/d1", "DISK_1_ACCESS": "ro",
        "NIC_COUNT": "2",
        "NIC_0_MAC": "aa:00:00:12:34:56", "NIC_0_MODE": "bridged", "NIC_0_BRIDGE": "gnt-br0",
        "NIC_0_LINK": "gnt-br0", "NIC_0_FRONTEND_TYPE": "e1000", "NIC_0_UUID": "uuid-n0",
        "NIC_1_MAC": "aa:00:00:12:34:57", "NIC_1_IP": "198.18.0.50", "NIC_1_MODE": "routed",
        "NIC_1_LINK": "100",
        "INSTANCE_HV_accel": "tcg", "INSTANCE_HV_serial_console": "True",
        "INSTANCE_BE_maxmem": "256", "INSTANCE_BE_auto_balance": "True",
        "OSP_DHCP": "yes", "OSP_ROOT_SIZE": "8",
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
    }
    for key, value in expected.items():
        assert env.get(key) == value, key
    assert "NIC_0_IP" not in env and "NIC_1_BRIDGE" not in env
    assert "INSTANCE_REINSTALL" not in env and "OLD_INSTANCE_NAME" not in env
    assert all(isinstance(v, str) for v in env.values())
    assert build_env(osdef, INSTANCE, "create", reinstall=True)["INSTANCE_REINSTALL"] == "1"
    assert build_env(osdef, INSTANCE, "rename", old_name="o.example.com")[
        "OLD_INSTANCE_NAME"] == "o.example.com"
    export = build_env(osdef, INSTANCE, "export", disk_index=1)
    assert export["EXPORT_DEVICE"] == export["EXPORT_DISK_PATH"] == "/srv/d1"
    assert export["EXPORT_INDEX"] == "1"
    imp = build_env(osdef, INSTANCE, "import", disk_index=0)
    assert imp["IMPORT_DEVICE"] == "/srv/d0" and imp["IMPORT_INDEX"] == "0"
    with pytest.raises(OSDefinitionError, match="has no disk 5"):
        build_env(osdef, INSTANCE, "export", disk_index=5)


def test_api10_has_no_variant(tmp_path):
    osdef = load_os("o", str(make_os(tmp_path, "o", versions="10", variants=["x"])))
    env = build_env(osdef, INSTANCE, "create", variant="x")
    assert env["OS_API_VERSION"] == "10" and env["OS_VARIANT"] == ""
    assert osdef["variants"] == []


def test_run_script_env_log_and_clean_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOULD_NOT_LEAK", "1")
    out = tmp_path / "env.out"
    osdef = load_os("o", str(make_os(tmp_path / "os", "o", body=f"env > {out}; pwd >> {out}; "
                                     "echo hello from create; echo oops >&2")))
    result = run_script(osdef, INSTANCE, "create", log_dir=str(tmp_path / "logs"))
    assert result["rc"] == 0
    lines = out.read_text().splitlines()
    assert "INSTANCE_NAME=inst1.example.com" in lines
    assert not any(line.startswith("SHOULD_NOT_LEAK") for line in lines)
    assert lines[-1] == osdef["path"]  # runs in the OS directory
    log = Path(result["log_path"])
    assert log.parent == tmp_path / "logs"
    assert log.name.startswith("create-debootstrap+buster-inst1.example.com-")
    assert log.read_text() == "hello from create\noops\n"
    second = run_script(osdef, INSTANCE, "create", log_dir=str(tmp_path / "logs"))
    assert second["log_path"] != result["log_path"]


def test_run_script_failure_reports_tail(tmp_path):
    body = "i=0; while [ $i -lt 30 ]; do echo line$i; i=$((i+1)); done; exit 3"
    osdef = load_os("bad", str(make_os(tmp_path / "os", "bad", body=body)))
    with pytest.raises(OSDefinitionError) as err:
        run_script(osdef, INSTANCE, "create", log_dir=str(tmp_path / "logs"))
    message = str(err.value)
    assert "OS bad" in message and "exit code 3" in message
    assert os.path.join(osdef["path"], "create") in message
    details = err.value.result
    assert details["log_path"] in message
    assert details["log_tail"] == [f"line{i}" for i in range(10, 30)]
    # without a log dir the tail is still reported
    with pytest.raises(OSDefinitionError) as err2:
        run_script(osdef, INSTANCE, "create")
    assert err2.value.result["log_tail"][-1] == "line29"
    assert err2.value.result["log_path"] is None


def test_export_and_import_redirects(tmp_path):
    disk = tmp_path / "disk0"
    disk.write_bytes(b"DATA" * 1024)
    inst = dict(INSTANCE, disks=[{"index": 0, "path": str(disk), "mode": "rw"}])
    os_dir = make_os(tmp_path / "os", "o", versions="10")
    (os_dir / "export").write_text('#!/bin/sh\ncat "$EXPORT_DEVICE"\n')
    (os_dir / "import").write_text('#!/bin/sh\ncat > "$IMPORT_DEVICE"\n')
    osdef = load_os("o", str(os_dir))
    assert osdef["valid"]
    dump = tmp_path / "dump"
    run_script(osdef, inst, "export", stdout_path=str(dump))
    assert dump.read_bytes() == b"DATA" * 1024
    disk.write_bytes(b"")
    run_script(osdef, inst, "import", stdin_path=str(dump))
    assert disk.read_bytes() == b"DATA" * 1024
    with pytest.raises(OSDefinitionError, match="needs stdout_path"):
        run_script(osdef, inst, "export")
    with pytest.raises(OSDefinitionError, match="needs stdin_path"):
        run_script(osdef, inst, "import")


def test_verify_parameters(tmp_path):
    body = 'case "$OSP_DHCP" in ""|yes|no) exit 0;; *) echo "bad dhcp $OSP_DHCP"; exit 1;; esac'
    osdef = load_os("v", str(make_os(tmp_path, "v", parameters={"dhcp": "d"}, verify=body)))
    assert verify_parameters(osdef, dict(INSTANCE, osparams={"dhcp": "yes"})) == 0
    with pytest.raises(OSDefinitionError, match="bad dhcp maybe"):
        verify_parameters(osdef, dict(INSTANCE, osparams={"dhcp": "maybe"}))
    old = load_os("o", str(make_os(tmp_path, "o", versions="15")))
    assert verify_parameters(old, INSTANCE) is None
