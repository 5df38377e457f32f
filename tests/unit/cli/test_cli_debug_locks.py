"""``gnt-debug locks``: Ganeti's table of the master daemon's locks."""

from __future__ import annotations

from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import debug
from gnt.query import engine

ROWS = [("cluster/BGL", "shared", ["12", "14"], []),
        ("instance/uuid-a", "exclusive", ["12"], [["shared", ["15"]], ["exclusive", ["16"]]]),
        ("node/[lockset]", None, [], [["exclusive", ["17"]]])]


def _query(what: str, fields: list[str], names: list[str]) -> dict[str, Any]:
    assert what == "lock"
    return engine.query(None, "lock", fields, names, rows=ROWS)  # type: ignore[arg-type]


@pytest.fixture
def locks(fake: FakeClient) -> FakeClient:
    fake.handlers["query"] = _query
    fake.handlers["query_fields"] = engine.field_list
    return fake


def test_locks_table(locks: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(debug, ["locks"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Name            Mode      Owner Pending",
        "cluster/BGL     shared    12,14 -",
        "instance/uuid-a exclusive 12    shared:15, exclusive:16",
        "node/[lockset]  -         -     exclusive:17",
    ]


def test_locks_fields_separator_and_unknown(locks: FakeClient,
                                            capsys: pytest.CaptureFixture) -> None:
    assert run_cli(debug, ["locks", "-o", "name,owner", "--no-headers",
                           "--separator", "|"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cluster/BGL|12,14", "instance/uuid-a|12", "node/[lockset]|-"]
    assert run_cli(debug, ["locks", "-o", "name,nosuch"]) == 14
    assert "Queried for unknown fields nosuch" in capsys.readouterr().err


def test_locks_interval_repeats(locks: FakeClient, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(debug.time, "sleep", sleep)
    assert run_cli(debug, ["locks", "--interval", "3", "-o", "name"]) != 0   # interrupted
    assert sleeps == [3, 3]
    assert capsys.readouterr().out.count("cluster/BGL") == 2


def test_job_list_fields_are_the_daemons(fake: FakeClient,
                                         capsys: pytest.CaptureFixture) -> None:
    from gnt.cli import job
    fake.handlers["query_fields"] = engine.field_list
    assert run_cli(job, ["list-fields", "priority", "archived"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["priority", "Number", "Priority"]
    assert lines[2].split()[:3] == ["archived", "Boolean", "Archived"]
