"""Ganeti 3.0 output layouts: gnt-backup list, gnt-cluster version (issue 10, section 3)."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import backup, cluster

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
    from gnt.exportcfg import EXPORT_VERSION

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
