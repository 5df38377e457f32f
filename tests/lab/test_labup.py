"""Node kinds of a lab without starting one: the kinds ``Lab.up`` asks for, and ``Lab.nodes``
read from state files of every format (per-node kinds; one lab-level kind, as written before
mixed labs; no kind at all, as written before guest nodes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lab import Lab
from labproc import LabError
from labup import check_kinds, lab_kind, record_kind

# no lab is started here (kinds and state files only), but every tests/lab module carries the
# integration marker (tests/unit/test_integration_markers.py)
pytestmark = pytest.mark.integration


def _state(kinds: list[str | None], lab_level: str | None,
           actual: list[str]) -> dict[str, Any]:
    """A slot-3 state file: ``kinds`` per node record (None: no key), ``lab_level`` the
    lab's, ``actual`` what each node is (guest records have no network namespace)."""
    nodes = []
    for i, (kind, real) in enumerate(zip(kinds, actual, strict=True), start=1):
        rec: dict[str, Any] = {"index": i, "name": f"node{i}", "veth": f"gntlab3-n{i}",
                               "netns": "" if real == "guest" else f"gntlab3-node{i}",
                               "address": f"198.18.0.{202 + i}", "init_pid": 0}
        if kind is not None:
            rec["kind"] = kind
        nodes.append(rec)
    state: dict[str, Any] = {"slot": 3, "phase": "up", "bridge": "gntlab3", "nodes": nodes}
    if lab_level is not None:
        state["kind"] = lab_level
    return state


def test_check_kinds() -> None:
    assert check_kinds(2, "netns", 0) == ["netns", "netns"]
    assert check_kinds(1, "netns", 2) == ["netns", "guest", "guest"]
    assert check_kinds(2, "guest", 0) == ["guest", "guest"]
    with pytest.raises(LabError, match="unknown node kind 'xen'"):
        check_kinds(1, "xen", 0)
    with pytest.raises(LabError, match="negative"):
        check_kinds(1, "netns", -1)
    assert [lab_kind(k) for k in (["netns"], ["guest"] * 2, ["netns", "guest"])] == \
        ["netns", "guest", "mixed"]


@pytest.mark.parametrize(("kinds", "lab_level", "expected"), [
    (["netns", "guest"], "mixed", ["netns", "guest"]),       # written by labup
    ([None, None], "guest", ["guest", "guest"]),             # guest lab before mixed labs
    ([None, None], None, ["netns", "netns"]),                # netns lab before guest nodes
])
def test_nodes_from_state_files(tmp_path: Path, kinds: list[str | None],
                                lab_level: str | None, expected: list[str]) -> None:
    state = _state(kinds, lab_level, expected)
    assert [record_kind(state, rec) for rec in state["nodes"]] == expected
    (tmp_path / "lab.json").write_text(json.dumps(state))
    nodes = Lab(tmp_path).nodes
    assert [node.kind for node in nodes] == expected
    for node in nodes:
        if node.kind == "guest":
            assert node.netns == "" and node.root_on_host == ""
        else:
            assert node.netns == f"gntlab3-{node.name}"
            assert node.root_on_host == str(tmp_path / node.name / "root")
        assert node.gnt_root == str(tmp_path / "root")
