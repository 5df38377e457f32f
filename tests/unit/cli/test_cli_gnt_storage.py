"""gnt-storage diagnose and info (ExtStorage providers), Ganeti's layouts and exit codes."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import storage as gnt_storage

PARAMS = [["dir", "Directory holding the volume files"]]
NODE_STATUS = {
    "node1.example.com": [["/srv/gnt/extstorage/filevol", True, "", PARAMS]],
    "node2.example.com": [],
}


def test_diagnose_per_node_and_group(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["filevol", NODE_STATUS, {"default": False, "g2": True}]])
    assert run_cli(gnt_storage, ["diagnose"]) == 0
    assert capsys.readouterr().out == (
        "Provider: filevol\n"
        "---\n"
        "  Node: node1.example.com, status: valid (path: /srv/gnt/extstorage/filevol)"
        " [parameters: dir]\n"
        "  Node: node2.example.com, status: ExtStorage provider not found\n"
        "  --\n"
        "  For nodegroup: g2 --> valid\n"
        "  For nodegroup: default --> invalid\n"
        "\n")


def test_diagnose_nothing_is_exit_1(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [])
    assert run_cli(gnt_storage, ["diagnose"]) == 1
    assert "Can't get the list of ExtStorage providers" in capsys.readouterr().err


def test_info_valid_groups_parameters_and_not_found(fake: FakeClient,
                                                    capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["filevol", {"default": True}, PARAMS],
                                ["other", {"default": False}, []]])
    assert run_cli(gnt_storage, ["info", "filevol", "other", "nosuch"]) == 0
    assert capsys.readouterr().out == (
        "filevol:\n"
        "  - Valid for nodegroups:\n"
        "      default\n"
        "  - Supported parameters:\n"
        "      dir: Directory holding the volume files\n"
        "\n"
        "other:\n"
        "  - Invalid for all nodegroups\n"
        "\n"
        "nosuch: Not Found\n"
        "\n")
