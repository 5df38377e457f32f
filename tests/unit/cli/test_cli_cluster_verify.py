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
