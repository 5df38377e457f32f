"""Table and info formatting of the gnt-* commands."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, rstripped, run_cli

from gnt.cli import _output, node

FIELDS = [{"name": "name", "title": "Node", "kind": "text"},
          {"name": "mtotal", "title": "MTotal", "kind": "unit"},
          {"name": "pinst_cnt", "title": "Pinst", "kind": "number"},
          {"name": "master_candidate", "title": "MasterC", "kind": "bool"},
          {"name": "pinst_list", "title": "PriInstances", "kind": "other"}]
DATA = [["node1", 2048, 2, True, ["a", "b"]],
        ["node10", 512, 10, False, []],
        ["node2", None, 0, None, ["c"]]]


def test_table_layout() -> None:
    assert _output.format_query_table(FIELDS, DATA) == [
        "Node   MTotal Pinst MasterC PriInstances",
        "node1    2.0G     2 Y       a,b",
        "node10   512M    10 N       ",
        "node2       -     0 -       c",
    ]


def test_table_no_headers_separator_and_units() -> None:
    assert _output.format_query_table(FIELDS, DATA[:2], header=False) == [
        "node1  2.0G  2 Y a,b", "node10 512M 10 N "]
    # With a separator the output is raw and sizes default to plain MiB (Ganeti's rule).
    assert _output.format_query_table(FIELDS, DATA[:2], separator="|") == [
        "Node|MTotal|Pinst|MasterC|PriInstances", "node1|2048|2|Y|a,b", "node10|512|10|N|"]
    assert _output.format_query_table(FIELDS[:2], DATA[:1], units="g", separator=":") == [
        "Node:MTotal", "node1:2.0"]
    assert _output.format_query_table(FIELDS[:2], DATA[:1], units="h", separator=":",
                                      header=False) == ["node1:2.0G"]
    assert _output.format_query_table(FIELDS[:1], [[None]], verbose=True,
                                      header=False) == ["(unavail)"]


def test_right_aligned_last_column_is_padded() -> None:
    assert _output.generate_table(["Name", "N"], [["a", "100"], ["bb", "7"]],
                                  [False, True]) == ["Name   N", "a    100", "bb     7"]


def test_parse_fields() -> None:
    assert _output.parse_fields(None, ["a", "b"]) == ["a", "b"]
    assert _output.parse_fields("+c,d", ["a", "b"]) == ["a", "b", "c", "d"]
    assert _output.parse_fields("x,y", ["a", "b"]) == ["x", "y"]


def test_generic_info() -> None:
    data = [[("Name", "n1"), ("flags", {"b": "2", "a": "1"}), ("empty", []),
             ("list", ["x", [("k", "v"), ("k2", "v2")]])]]
    assert _output.format_generic_info(data) == (
        "- Name: n1\n  flags: \n    a: 1\n    b: 2\n  empty: \n  list: \n    - x\n"
        "    - k: v\n      k2: v2")


def test_params_info() -> None:
    assert _output.format_params_info({"a": 1}, {"a": 1, "b": 2}) == {
        "a": "1", "b": "default (2)"}


def test_time_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    assert _output.format_time(1256516568) == "2009-10-26 00:22:48"
    assert _output.format_timestamp([1256516568, 42]) == "2009-10-26 00:22:48.000042"
    assert _output.format_time(None) == "N/A"
    assert _output.format_timestamp(None) == "?"


def test_node_list_and_info(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"fields": FIELDS[:2], "data": [["node1", 4096]]}
    assert run_cli(node, ["list", "--no-headers", "--units", "m", "node1"]) == 0
    assert capsys.readouterr().out == "node1 4096\n"
    assert fake.calls[0][1]["fields"] == list(node.LIST_DEFAULT_FIELDS)
    assert fake.calls[0][1]["names"] == ["node1"]

    fake.handlers["query_fields"] = [{"name": n} for n in node.INFO_FIELDS if n != "powered"]
    fake.handlers["query"] = {"data": [[
        "node1", "198.18.0.1", "198.18.0.1", ["i2", "i1"], [], True, False, False, True, True,
        {"ssh_port": 22, "spindle_count": 1}, {"ssh_port": 2222}]]}
    assert run_cli(node, ["info", "node1"]) == 0
    assert rstripped(capsys.readouterr().out) == """\
- Node name: node1
  primary ip: 198.18.0.1
  secondary ip: 198.18.0.1
  master candidate: True
  drained: False
  offline: False
  master_capable: True
  vm_capable: True
  primary for instances:
    - i1
    - i2
  secondary for instances:
  node parameters:
    spindle_count: default (1)
    ssh_port: 2222
"""
