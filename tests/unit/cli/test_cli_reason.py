"""--reason on every sub-command, and the reason trail Ganeti builds (issue 10).

Ganeti's common options (--debug, --reason) are accepted by every sub-command; an opcode's
trail starts with the user's reason ("gnt:user") and the client command
("gnt:client:<binary>", "<command>"); the queue adds "gnt:opcode:<name>", "job=N;index=I".
"""

from __future__ import annotations

import argparse
import time

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import backup, cluster, debug, group, instance, job, network, node
from gnt.cli import os as os_cli
from gnt.jobs.job import Job, OpCode

CLIS = [backup, cluster, debug, group, instance, job, network, node, os_cli]


def _subparsers(module) -> list[tuple[str, argparse.ArgumentParser]]:
    parser = module.build_parser()
    found = []
    for action in parser._actions:  # noqa: SLF001 - walking argparse's own tree
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            found.extend(sorted(action.choices.items()))
    return found


@pytest.mark.parametrize("module", CLIS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_subcommand_accepts_reason(module):
    subs = _subparsers(module)
    assert subs
    for name, sub in subs:
        option_strings = {opt for action in sub._actions for opt in action.option_strings}  # noqa: SLF001
        assert "--reason" in option_strings, f"{module.__name__} {name}"


def test_trail_starts_with_user_reason_and_client_command(fake: FakeClient) -> None:
    before = time.time_ns()
    assert run_cli(debug, ["delay", "--reason", "maintenance window 42", "0"]) == 0
    (op,) = fake.submitted_ops()
    user, client = op["reason"]
    assert user[:2] == ["gnt:user", "maintenance window 42"]
    assert client[:2] == ["gnt:client:gnt-debug", "delay"]
    assert before <= user[2] <= client[2] <= time.time_ns()


def test_trail_without_reason_names_the_client_only(fake: FakeClient) -> None:
    assert run_cli(cluster, ["add-tags", "a"]) == 0
    (op,) = fake.submitted_ops()
    assert [entry[:2] for entry in op["reason"]] == [["gnt:client:gnt-cluster", "add-tags"]]


def test_queue_adds_its_entry_per_opcode():
    ops = [OpCode(input={"OP_ID": "OP_INSTANCE_STARTUP", "reason": [["gnt:user", "x", 1]]}),
           OpCode(input={"OP_ID": "OP_TEST_DELAY"})]
    job_ = Job(id=17, ops=ops)
    job_.add_reasons()
    assert [entry[:2] for entry in ops[0].input["reason"]] == [
        ["gnt:user", "x"], ["gnt:opcode:instance_startup", "job=17;index=0"]]
    assert [entry[:2] for entry in ops[1].input["reason"]] == [
        ["gnt:opcode:test_delay", "job=17;index=1"]]
