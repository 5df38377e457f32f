"""gnt-filter: options as Ganeti's, the daemon calls made, and its list/info layouts."""

from __future__ import annotations

from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import filter as gnt_filter
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.query import engine

UUID = "0b6b1a16-d1f5-4bd5-8ac1-7a4b1b0c0f5e"
RULES = [{"uuid": UUID, "watermark": 12, "priority": 0,
          "predicates": [["jobid", [">", "id", "watermark"]]], "action": "REJECT",
          "reason_trail": [["gnt:user", "drain", 1], ["luxid", "", 2]]},
         {"uuid": "1c", "watermark": 3, "priority": 1, "predicates": [],
          "action": ["RATE_LIMIT", 2], "reason_trail": []}]


class Store:
    def filters(self) -> list[dict[str, Any]]:
        return RULES


@pytest.fixture
def client(fake: FakeClient) -> FakeClient:
    fake.handlers["query"] = lambda what, fields, names: engine.query(
        Store(), what, fields, names)  # type: ignore[arg-type]
    fake.handlers["query_fields"] = engine.field_list
    fake.handlers["replace_filter"] = lambda uuid, **kw: uuid or UUID
    fake.handlers["delete_filter"] = None
    return fake


def test_add_sends_ganetis_values_and_prints_the_uuid(client: FakeClient,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_filter, ["add", "--predicates",
                                '[["opcode", ["=", "OP_ID", "OP_INSTANCE_CREATE"]]]',
                                "--action", "RATE_LIMIT 10", "--priority", "2",
                                "--reason", "maintenance pink bunny"]) == 0
    assert capsys.readouterr().out == UUID + "\n"
    method, args = client.calls[-1]
    assert method == "replace_filter" and args["uuid"] is None
    assert args["priority"] == 2 and args["action"] == ["RATE_LIMIT", 10]
    assert args["predicates"] == [["opcode", ["=", "OP_ID", "OP_INSTANCE_CREATE"]]]
    assert [entry[:2] for entry in args["reason"]] == [["gnt:user", "maintenance pink bunny"]]


def test_add_defaults(client: FakeClient) -> None:
    assert run_cli(gnt_filter, ["add"]) == 0
    assert client.calls[-1][1] == {"uuid": None, "priority": 0, "predicates": [],
                                   "action": "CONTINUE", "reason": []}


def test_replace_and_delete(client: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_filter, ["replace", "--action", "PAUSE", UUID]) == 0
    assert capsys.readouterr().out == UUID + "\n"
    assert client.calls[-1][1]["uuid"] == UUID and client.calls[-1][1]["action"] == "PAUSE"
    assert run_cli(gnt_filter, ["delete", UUID]) == 0
    assert client.calls[-1] == ("delete_filter", {"uuid": UUID})


def test_bad_json_is_a_usage_error(client: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_filter, ["add", "--predicates", "[jobid"]) == 2
    assert "[jobid" in capsys.readouterr().err
    assert not [c for c in client.calls if c[0] == "replace_filter"]


def test_daemon_refusal_exits_1_naming_the_value(client: FakeClient,
                                                 capsys: pytest.CaptureFixture) -> None:
    def refuse(**_args: Any) -> None:
        raise OpPrereqError("Invalid filter action 'DROP': must be one of ...", ECODE_INVAL)

    client.handlers["replace_filter"] = refuse
    assert run_cli(gnt_filter, ["add", "--action", "DROP"]) == 1
    assert "'DROP'" in capsys.readouterr().err


def test_list_and_info_layouts(client: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_filter, ["list", "-o", "uuid,priority,action", "--separator", "|",
                                "--no-headers"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{UUID}|0|REJECT", "1c|1|['RATE_LIMIT', 2]"]
    assert run_cli(gnt_filter, ["list", "-o", "watermark,predicates", "1c"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Watermark Predicates", "3         []"]
    assert run_cli(gnt_filter, ["info", UUID]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"UUID: {UUID}", "  Watermark: 12", "  Priority: 0",
        "  Predicates: [['jobid', ['>', 'id', 'watermark']]]", "  Action: REJECT",
        "  Reason trail: [['gnt:user', 'drain', 1], ['luxid', '', 2]]"]
    assert run_cli(gnt_filter, ["list-fields", "action"]) == 0
    assert "Action" in capsys.readouterr().out
