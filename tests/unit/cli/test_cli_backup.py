"""gnt-backup export/import: options -> opcodes (captured by the fake daemon client), exit
codes of a partial export, bad input refused before anything is submitted."""

from __future__ import annotations

from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import backup


@pytest.mark.parametrize("result,code", [
    ([True, [True, True]], 0),
    ([True, []], 0),                       # a diskless instance: nothing to copy
    ((True, [True]), 0),
    ([True, [True, False]], 2),
    ([True, [False, True, True]], 2),
    ([True, [False, False]], 1),
    ([False, [True, True]], 1),             # not finalized
    (None, 1), ("done", 1), ([True], 1), ([True, [True], 3], 1),
])
def test_export_exit_code(result: Any, code: int) -> None:
    assert backup.export_exit_code(result) == code


def _op(fake: FakeClient) -> dict[str, Any]:
    (op,) = fake.submitted_ops()
    return op


def test_export_defaults(fake: FakeClient) -> None:
    fake.outcome = ("success", [True, [True]])
    assert run_cli(backup, ["export", "-n", "node2", "inst1"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_BACKUP_EXPORT"
    expected = {"instance_name": "inst1", "target_node": "node2", "shutdown": True,
                "shutdown_timeout": 120, "remove_instance": False,
                "ignore_remove_failures": False, "compress": "none", "mode": "local"}
    assert {key: op[key] for key in expected} == expected


def test_export_options(fake: FakeClient) -> None:
    fake.outcome = ("success", [True, [True]])
    argv = ["export", "--node", "node3", "--noshutdown", "--shutdown-timeout", "30",
            "--remove-instance", "--ignore-remove-failures", "--compress", "zstd", "inst1"]
    assert run_cli(backup, argv) == 0
    op = _op(fake)
    assert (op["target_node"], op["shutdown"], op["shutdown_timeout"]) == ("node3", False, 30)
    assert op["remove_instance"] is True and op["ignore_remove_failures"] is True
    assert op["compress"] == "zstd"


@pytest.mark.parametrize("method", ["gzip", "gzip-fast", "gzip-slow", "lzop", "zstd"])
def test_export_transport_compression_alias(fake: FakeClient, method: str) -> None:
    fake.outcome = ("success", [True, [True]])
    assert run_cli(backup, ["export", "-n", "n2", "--transport-compression", method,
                            "i1"]) == 0
    assert _op(fake)["compress"] == method


def test_export_unknown_compression_refused(fake: FakeClient,
                                            capsys: pytest.CaptureFixture) -> None:
    assert run_cli(backup, ["export", "-n", "node2", "--compress", "xz", "inst1"]) == 1
    err = capsys.readouterr().err
    assert "'xz'" in err and "--compress" in err and "zstd" in err
    assert fake.calls == []


def test_export_partial_exits_2(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [True, [True, False, False]])
    assert run_cli(backup, ["export", "-n", "node2", "inst1"]) == 2
    err = capsys.readouterr().err
    assert "inst1" in err and "incomplete" in err and "disk(s) 1, 2" in err


def test_export_not_finalized_exits_1(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [False, [True]])
    assert run_cli(backup, ["export", "-n", "node2", "inst1"]) == 1
    assert "Export of inst1 failed" in capsys.readouterr().err


def test_import_minimal_leaves_everything_to_the_export(fake: FakeClient) -> None:
    assert run_cli(backup, ["import", "-n", "node1", "web2"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_INSTANCE_CREATE" and op["mode"] == "import"
    expected = {"instance_name": "web2", "pnode": "node1", "snode": None,
                "disk_template": None, "disks": [], "nics": None, "beparams": {},
                "hvparams": {}, "hypervisor": None, "osparams": {}, "tags": [],
                "src_node": None, "src_path": None, "identify_defaults": False,
                "iallocator": None, "start": True}
    assert {key: op[key] for key in expected} == expected
    assert "cluster_info" not in fake.methods()     # no default template for imports


def test_import_all_options(fake: FakeClient) -> None:
    argv = ["import", "-n", "node1:node2", "-t", "file",
            "--disk", "0:size=1G", "--disk", "1:size=512M,mode=ro",
            "--net", "0:mac=GENERATE,ip=198.18.0.9,mode=routed,link=table1",
            "--net", "1:mac=AUTO", "--net", "2:mac=aa:00:00:01:02:03,link=br2",
            "-B", "memory=512M,vcpus=2", "-H", "kvm:kernel_args=ro quiet,serial_console=false",
            "--src-node", "node3", "--src-dir", "web1.example.com", "--identify-defaults",
            "--no-start", "web2"]
    assert run_cli(backup, argv) == 0
    op = _op(fake)
    assert (op["pnode"], op["snode"], op["disk_template"]) == ("node1", "node2", "file")
    assert op["disks"] == [{"size": 1024, "mode": "rw"}, {"size": 512, "mode": "ro"}]
    nic0, nic1, nic2 = op["nics"]
    assert nic0["mac"].lower() == "generate" and nic0["ip"] == "198.18.0.9"
    assert (nic0["mode"], nic0["link"]) == ("routed", "table1")
    assert nic1["mac"].lower() == "auto" and set(nic1) == {"mac"}
    assert nic2 == {"mac": "aa:00:00:01:02:03", "link": "br2"}
    assert op["beparams"] == {"maxmem": 512, "minmem": 512, "vcpus": 2}
    assert op["hypervisor"] == "kvm"
    assert op["hvparams"] == {"kernel_args": "ro quiet", "serial_console": False}
    assert (op["src_node"], op["src_path"]) == ("node3", "web1.example.com")
    assert op["identify_defaults"] is True and op["start"] is False


def test_import_os_size_iallocator_and_no_nics(fake: FakeClient) -> None:
    assert run_cli(backup, ["import", "-I", "hail", "-s", "2G", "--no-nics",
                            "--src-node", "node3", "--src-dir", "/srv/exports/x", "web2"]) == 0
    op = _op(fake)
    assert op["iallocator"] == "hail" and op["pnode"] is None
    assert op["disks"] == [{"size": 2048, "mode": "rw"}] and op["disk_template"] is None
    assert op["nics"] == [] and op["src_path"] == "/srv/exports/x"


@pytest.mark.parametrize("argv,needle", [
    (["-n", "node1", "-I", "hail"], "-I"),
    (["-n", "node1", "--net", "0:mac=auto", "--no-nics"], "--no-nics"),
    (["-n", "node1", "-t", "diskless", "-s", "1G"], "Diskless"),
    (["-n", "node1", "--disk", "0:size=1G", "-s", "1G"], "either"),
    (["-n", "node1", "-s", "12Q"], "12Q"),
    (["-n", "node1", "--net", "0:speed=fast"], "speed"),
    (["-n", "node1", "-B", "memory=lots"], "lots"),
])
def test_import_bad_input_submits_nothing(fake: FakeClient, capsys: pytest.CaptureFixture,
                                          argv: list[str], needle: str) -> None:
    assert run_cli(backup, ["import", *argv, "web2"]) == 1
    assert needle in capsys.readouterr().err
    assert fake.submitted_ops() == []
