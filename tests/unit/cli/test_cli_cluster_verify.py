"""``gnt-cluster verify``'s Ganeti options: ``--error-codes`` and ``-I/--ignore-errors``
reach the opcode, an unknown code is refused as Ganeti's option parser refuses it, and the exit
status follows the job's result (1 when errors were counted, warnings only: 0)."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import cluster


def test_ignored_codes_and_error_codes_reach_the_opcode(fake: FakeClient) -> None:
    fake.outcome = ("success", {"ok": True, "errors": 0})
    assert run_cli(cluster, ["verify", "--error-codes", "-I", "ENODEORPHANLV",
                             "--ignore-errors", "EINSTANCEDOWN"]) == 0
    assert run_cli(cluster, ["verify"]) == 0
    first, plain = fake.submitted_ops()
    assert first["OP_ID"] == "OP_CLUSTER_VERIFY" and first["error_codes"] is True
    assert first["ignore_errors"] == ["ENODEORPHANLV", "EINSTANCEDOWN"]
    assert plain["ignore_errors"] == [] and plain["error_codes"] is False


def test_unknown_code_is_a_usage_error_and_nothing_is_submitted(
        fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    # Ganeti's optparse choice check: a usage error, exit 2
    assert run_cli(cluster, ["verify", "-I", "ENODELVM", "-I", "ENOSUCHCODE"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'ENOSUCHCODE'" in err and "ENODELVM" in err
    assert fake.submitted_ops() == []


def test_exit_status_follows_the_counted_errors(fake: FakeClient,
                                                capsys: pytest.CaptureFixture) -> None:
    fake.log = ["  - WARNING:ENODEORPHANLV:node:node2:volume xenvg/x is unknown",
                "* Verification done: 0 error(s)"]
    fake.outcome = ("success", {"ok": True, "errors": 0})
    assert run_cli(cluster, ["verify", "--error-codes"]) == 0
    assert "  - WARNING:ENODEORPHANLV:node:node2:volume xenvg/x is unknown" in \
        capsys.readouterr().out
    fake.outcome = ("success", {"ok": False, "errors": 2})
    assert run_cli(cluster, ["verify"]) == 1


def test_ganetis_other_verify_options_reach_the_opcode(fake: FakeClient) -> None:
    fake.outcome = ("success", {"ok": True, "errors": 0})
    assert run_cli(cluster, ["verify", "--node-group", "rack1", "--no-hv-param-assessment",
                             "--no-nplus1-mem", "--verify-ssh-clutter",
                             "--debug-simulate-errors"]) == 0
    assert run_cli(cluster, ["verify", "-g", "rack2", "--no-hv-param-assessment"]) == 0
    assert run_cli(cluster, ["verify"]) == 0
    every, short, plain = fake.submitted_ops()
    assert every["group_name"] == "rack1" and every["verify_clutter"] is True
    assert every["debug_simulate_errors"] is True
    assert every["skip_checks"] == ["nplusone_mem", "hvparam_assessment"]
    assert short["group_name"] == "rack2" and short["skip_checks"] == ["hvparam_assessment"]
    assert short["verify_clutter"] is False and short["debug_simulate_errors"] is False
    assert plain["group_name"] is None and plain["skip_checks"] == []


def test_unknown_group_fails_with_ganetis_message_and_exit_code(
        fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    message = "Node group 'rack9' not found"
    fake.outcome = ("error", {"type": "OpPrereqError", "message": message,
                              "args": [message, "unknown_entity"]})
    assert run_cli(cluster, ["verify", "--node-group", "rack9"]) == 1
    assert capsys.readouterr().err == (
        "Failure: prerequisites not met for this operation:\n"
        f"error type: unknown_entity, error details:\n{message}\n")
