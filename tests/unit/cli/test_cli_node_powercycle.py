"""gnt-node powercycle: Ganeti's confirmation (exit 2 when not confirmed), --yes, --force."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import node as node_cli


def test_cli_asks_unless_yes_and_prints_the_answer(fake: FakeClient,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert run_cli(node_cli, ["powercycle", "node2"]) == 2
    assert "hard powercycle node node2" in capsys.readouterr().err
    assert fake.submitted_ops() == []
    fake.outcome = ("success", "Reboot scheduled in 5 seconds")
    assert run_cli(node_cli, ["powercycle", "--yes", "--force", "node1"]) == 0
    (op,) = fake.submitted_ops()
    assert (op["OP_ID"], op["node_name"], op["force"]) == ("OP_NODE_POWERCYCLE", "node1", True)
    assert "Reboot scheduled in 5 seconds" in capsys.readouterr().err
