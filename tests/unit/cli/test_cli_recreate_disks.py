"""gnt-instance recreate-disks: options to OP_INSTANCE_RECREATE_DISKS (Ganeti's field names),
bad input refused before anything is submitted, exit codes."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import instance


def test_recreate_every_disk(fake: FakeClient) -> None:
    assert run_cli(instance, ["recreate-disks", "i1"]) == 0
    [op] = fake.submitted_ops()
    assert op["OP_ID"] == "OP_INSTANCE_RECREATE_DISKS"
    assert (op["instance_name"], op["disks"], op["nodes"], op["iallocator"]) == \
        ("i1", [], [], None)


def test_recreate_some_disks_with_changes_on_new_nodes(fake: FakeClient) -> None:
    assert run_cli(instance, ["recreate-disks", "--disk", "0:size=2g,mode=ro", "--disk", "1",
                              "-n", "node3:node1", "i1"]) == 0
    assert run_cli(instance, ["recreate-disks", "-I", "hail", "i1"]) == 0
    assert run_cli(instance, ["recreate-disks", "--node", "node2", "--submit", "i1"]) == 0
    moved, allocated, single = fake.submitted_ops()
    assert moved["disks"] == [[0, {"size": 2048, "mode": "ro"}], [1, {}]]
    assert moved["nodes"] == ["node3", "node1"]
    assert (allocated["nodes"], allocated["iallocator"]) == ([], "hail")
    assert single["nodes"] == ["node2"]


@pytest.mark.parametrize("argv, message", [
    (["-n", "node2", "-I", "hail"], "At most one of either --nodes or --iallocator can be"
                                    " passed"),
    (["--disk", "x"], "Invalid disk index passed: 'x'"),
    (["--disk", "-1"], "Invalid disk index passed: '-1'"),
    (["--disk", "0:size=lots"], "Invalid disk size for disk 0"),
    (["--disk", "0:spindles=two"], "Invalid spindles for disk 0: two"),
])
def test_bad_options_are_refused(fake: FakeClient, capsys: pytest.CaptureFixture,
                                 argv: list[str], message: str) -> None:
    assert run_cli(instance, ["recreate-disks", *argv, "i1"]) == 1
    assert message in capsys.readouterr().err
    assert fake.submitted_ops() == []
