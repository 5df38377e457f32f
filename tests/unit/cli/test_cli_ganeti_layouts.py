"""Ganeti 3.0 output layouts and behaviour: gnt-backup list, gnt-cluster version,
gnt-instance console (issue 10, section 3)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import backup, cluster, instance

EXPORTS = {"node2.example.com": ["web.example.com", "db.example.com"],
           "node1.example.com": ["a.example.com"],
           "node3.example.com": False}


@pytest.fixture
def exports(fake: FakeClient) -> FakeClient:
    fake.outcome = ("success", EXPORTS)
    return fake


def test_backup_list_default_table(exports: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(backup, ["list"]) == 0
    assert capsys.readouterr().out == (
        "Node              Export\n"
        "node1.example.com a.example.com\n"
        "node2.example.com web.example.com\n"
        "node2.example.com db.example.com\n"
        "node3.example.com ?\n")
    (op,) = exports.submitted_ops()
    assert (op["OP_ID"], op["nodes"]) == ("OP_BACKUP_QUERY", [])


def test_backup_list_options(exports: FakeClient, capsys: pytest.CaptureFixture) -> None:
    argv = ["list", "-n", "node2.example.com", "--node", "node3.example.com",
            "--no-headers", "--separator=:", "-o", "export,node", "-v"]
    assert run_cli(backup, argv) == 0
    assert capsys.readouterr().out == ("a.example.com:node1.example.com\n"
                                       "web.example.com:node2.example.com\n"
                                       "db.example.com:node2.example.com\n"
                                       "(nodata):node3.example.com\n")
    (op,) = exports.submitted_ops()
    assert op["nodes"] == ["node2.example.com", "node3.example.com"]


def test_backup_list_unknown_field(exports: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(backup, ["list", "-o", "+size"]) == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields size\n"
    assert captured.out.splitlines()[:2] == ["Node              Export          size",
                                             "node1.example.com a.example.com   ??"]


def test_backup_list_fields(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(backup, ["list-fields"]) == 0
    assert capsys.readouterr().out == ("Name   Type Title  Description\n"
                                       "node   Text Node   Node name\n"
                                       "export Text Export Export name\n")


def test_cluster_version_lines(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    import gnt
    from gnt import EXPORT_VERSION

    fake.handlers["cluster_info"] = {"software_version": gnt.__version__,
                                     "config_version": 7}
    assert run_cli(cluster, ["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "Software version", "Internode protocol", "Configuration format", "OS api version",
        "Export interface", "VCS version"]
    assert lines[0] == f"Software version: {gnt.__version__}"
    assert lines[1] == f"Internode protocol: {cluster.PROTOCOL_VERSION}"
    assert lines[2] == "Configuration format: 7"  # the running cluster's, from the master
    assert lines[3] == "OS api version: 20"
    assert lines[4] == f"Export interface: {EXPORT_VERSION}"
    assert lines[5].startswith("VCS version: ") and len(lines[5]) > len("VCS version: ")
    assert fake.methods() == ["cluster_info"]


def test_cluster_version_prefers_the_masters_values(fake: FakeClient,
                                                    capsys: pytest.CaptureFixture) -> None:
    fake.handlers["cluster_info"] = {"software_version": "9.9", "config_version": 3,
                                     "protocol_version": 42, "os_api_version": 15,
                                     "export_version": 1, "vcs_version": "v9.9-1-gabc"}
    assert run_cli(cluster, ["version"]) == 0
    assert capsys.readouterr().out == ("Software version: 9.9\nInternode protocol: 42\n"
                                       "Configuration format: 3\nOS api version: 15\n"
                                       "Export interface: 1\nVCS version: v9.9-1-gabc\n")


def test_cluster_version_without_master_daemon(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    import gnt
    from gnt.cli import common
    from gnt.core.errors import MasterNotRunning

    class Dead:
        def call(self, method: str, **args: Any) -> Any:
            raise MasterNotRunning("Cannot communicate with the master daemon")

    monkeypatch.setattr(common, "get_client", Dead)
    assert run_cli(cluster, ["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [f"Software version: {gnt.__version__}",
                         f"Internode protocol: {gnt.PROTOCOL_VERSION}",
                         f"Configuration format: {gnt.CONFIG_VERSION}"]
    assert len(lines) == 6


# --- gnt-instance console -----------------------------------------------------------------

def _console_query(log: Path, running: bool, master: bool) -> Any:
    """The daemon's answers: the console description is there whether or not the VM runs."""
    console = {"log": str(log), "uri": "qemu:///system", "name": "inst1", "node": "node2"}

    def query(what: str, fields: list[str], names: list[str]) -> dict[str, Any]:
        if what == "instance":
            assert fields == ["console", "oper_state", "pnode"]
            return {"data": [[console, running, "node2"]]}
        assert (what, names) == ("node", ["node2"])
        return {"data": [[master, "198.18.0.12", {"ssh_port": 2202}]]}
    return query


def test_console_of_stopped_instance(fake: FakeClient, capsys: pytest.CaptureFixture,
                                     tmp_path: Path) -> None:
    log = tmp_path / "inst1.log"
    log.write_text("old boot output\n")
    fake.handlers["query"] = _console_query(log, running=False, master=True)
    assert run_cli(instance, ["console", "inst1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no stale log shown as if it were the console
    assert captured.err == ("Failure: command execution error:\n"
                            "Instance inst1 is not running, can't get console\n")


def test_console_on_the_master_is_local(fake: FakeClient, capsys: pytest.CaptureFixture,
                                        tmp_path: Path) -> None:
    log = tmp_path / "inst1.log"
    log.write_text("login: ")
    fake.handlers["query"] = _console_query(log, running=True, master=True)
    assert run_cli(instance, ["console", "inst1"]) == 0
    assert capsys.readouterr().out == "login: "
    assert run_cli(instance, ["console", "--show-cmd", "inst1"]) == 0
    assert capsys.readouterr().out == "virsh -c qemu:///system console inst1\n"


@pytest.fixture
def ssh_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``ssh`` first on PATH that records its arguments and runs the remote command here
    (standing in for the primary node)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "ssh-args"
    script = bindir / "ssh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n'
                      'for last; do :; done\nexec /bin/sh -c "$last"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))
    return record


def test_console_on_another_node_goes_through_ssh(fake: FakeClient, ssh_shim: Path,
                                                  capsys: pytest.CaptureFixture,
                                                  tmp_path: Path) -> None:
    log = tmp_path / "node2 console.log"
    log.write_text("node2 says login: ")
    fake.handlers["query"] = _console_query(log, running=True, master=False)
    assert run_cli(instance, ["console", "inst1"]) == 0
    assert capsys.readouterr().out == "node2 says login: "
    args = ssh_shim.read_text().splitlines()
    assert args[-2:] == ["root@198.18.0.12", f"cat -- '{log}'"]
    assert args[args.index("-p") + 1] == "2202"

    assert run_cli(instance, ["console", "--show-cmd", "inst1"]) == 0
    shown = shlex.split(capsys.readouterr().out)
    assert shown[0] == "ssh" and shown[-3:] == ["-t", "root@198.18.0.12",
                                                "virsh -c qemu:///system console inst1"]


def test_console_log_missing_on_the_other_node(fake: FakeClient, ssh_shim: Path,
                                               capsys: pytest.CaptureFixture,
                                               tmp_path: Path) -> None:
    fake.handlers["query"] = _console_query(tmp_path / "gone.log", running=True, master=False)
    assert run_cli(instance, ["console", "inst1"]) == 1
    err = capsys.readouterr().err
    assert "Cannot read console log" in err and "on node node2" in err
