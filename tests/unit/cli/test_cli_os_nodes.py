"""gnt-os diagnose/list with per-node answers (issue 10): an OS missing on a node is
"OS not found" there and only "partial valid"; list shows OSes valid on every node."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import os as gnt_os
from gnt.core.errors import GntError


def _entry(node: str, name: str, **kw):
    base = {"node": node, "name": name, "valid": True, "error": "", "path": f"/srv/gnt/os/{name}",
            "api_versions": [20], "variants": [], "parameters": []}
    base.update(kw)
    return base


DIAG = [_entry("node1", "blank"), _entry("node2", "blank"), _entry("node1", "onlyone"),
        {"node": "node2", "name": "onlyone", "valid": False, "not_found": True,
         "error": "OS not found", "path": None, "api_versions": [], "variants": [],
         "parameters": []}]


def test_missing_on_a_node_is_partial(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", DIAG)
    assert run_cli(gnt_os, ["diagnose"]) == 1
    out = capsys.readouterr().out
    assert "OS: onlyone [global status: partial valid]" in out
    assert "  Node: node2, status: OS not found\n" in out
    assert "OS: blank [global status: valid]" in out

    def no_os_query(**_):
        raise GntError("unknown query resource 'os'")

    fake.handlers["query"] = no_os_query
    assert run_cli(gnt_os, ["list", "--no-headers"]) == 0
    assert capsys.readouterr().out == "blank\n"
