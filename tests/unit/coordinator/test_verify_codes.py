"""Ganeti's verify error codes: the table, the two report forms, and the code each node and
instance finding of ``gnt-cluster verify`` carries (through OP_CLUSTER_VERIFY with
``error_codes``, the nodes' answers faked at the network edge; the LVM/DRBD findings' codes
are tested in test_verify_storage.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_verify_nplus1 import mn  # noqa: F401  # pylint: disable=unused-import

from gnt.core.jobstate import SUCCESS
from gnt.nodes import rpc
from gnt.opcodes import verify_codes as cv

MASTER, N2 = "node1.example.com", "node2.example.com"


def test_table_holds_ganetis_codes_with_their_item_kinds():
    assert len(cv.CODES) == 41                     # every code Ganeti's -I accepts
    assert all(name.startswith("E") and code.name == name for name, code in cv.CODES.items())
    assert {code.item for code in cv.CODES.values()} == {"cluster", "group", "node",
                                                         "instance"}
    # Ganeti's kinds, including its oddities (dangling instances are a node finding)
    assert [cv.CODES[name].item for name in ("ECLUSTERCFG", "EGROUPDIFFERENTPVSIZE",
                                             "ECLUSTERDANGLINGINST", "EINSTANCEDOWN",
                                             "ENODESSH")] == \
        ["cluster", "group", "node", "instance", "node"]
    assert cv.CODE_NAMES == tuple(sorted(cv.CODES))


def test_report_line_in_human_and_parseable_form():
    assert cv.format_line("ERROR", cv.ENODELVM, "node2", "volume group 'xenvg' missing",
                          False) == "  - ERROR: node node2: volume group 'xenvg' missing"
    assert cv.format_line("WARNING", cv.EINSTANCEPOLICY, "i1", "a: b", True) == \
        "  - WARNING:EINSTANCEPOLICY:instance:i1:a: b"


def _healthy(cfg: Any) -> dict[str, Any]:
    shared = cfg.cluster()["shared_file_storage_dir"]
    return {"dirs": {cfg.cluster()["file_storage_dir"]: True, shared: True}, "files": [],
            "bridges": ["gnt-br0"], "ssconf_master_node": MASTER,
            "config_serial": cfg.serial_no, "ssconf_serial": cfg.serial_no}


def _spoil_dir(which: str) -> Callable[[Any, dict[str, Any]], Any]:
    def spoil(cfg: Any, answer: dict[str, Any]) -> None:
        answer["dirs"][cfg.cluster()[which]] = False
    return spoil


CASES = [
    (_spoil_dir("file_storage_dir"), "ERROR", "ENODEFILESTORAGEPATHUNUSABLE", "storage"
     " directory"),
    (_spoil_dir("shared_file_storage_dir"), "ERROR", "ENODESHAREDFILESTORAGEPATHUNUSABLE",
     "storage directory"),
    (lambda cfg, a: a.update(bridges=[]), "ERROR", "ENODENET", "bridge gnt-br0 missing"),
    (lambda cfg, a: a.update(ssconf_master_node=N2), "ERROR", "ENODEFILECHECK",
     "its ssconf names"),
    (lambda cfg, a: a.update(config_serial=1), "ERROR", "ENODEFILECHECK",
     "its configuration copy has serial 1"),
    (lambda cfg, a: "ssh: connect to host: Connection refused", "ERROR", "ENODERPC",
     "not reachable"),
    (lambda cfg, a: f"{N2}: Host key verification failed.", "ERROR", "ENODESSH",
     "not reachable"),
]


@pytest.mark.parametrize("spoil, level, code, text", CASES)
def test_each_node_finding_carries_its_ganeti_code(mn, monkeypatch,  # noqa: F811
                                                    spoil, level, code, text):
    def verify_info_many(cfg, nodes, asks=None):
        out: dict[str, Any] = {}
        for node in nodes:
            out[node["uuid"]] = answer = _healthy(cfg)
            if node["name"] == N2:
                out[node["uuid"]] = spoil(cfg, answer) or answer
        return out

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    job = mn.run("OP_CLUSTER_VERIFY", error_codes=True)
    assert job.status == SUCCESS, job.ops[0].result
    lines = [str(entry[3]) for entry in job.ops[0].log if f":{N2}:" in str(entry[3])]
    [line] = [line for line in lines if text in line]
    assert line.startswith(f"  - {level}:{code}:node:{N2}:"), lines
    assert job.ops[0].result == {"ok": False, "errors": 1}
    # the same finding ignored: a warning, and the verify passes
    job = mn.run("OP_CLUSTER_VERIFY", error_codes=True, ignore_errors=[code])
    lines = [str(entry[3]) for entry in job.ops[0].log if f":{N2}:" in str(entry[3])]
    assert [line for line in lines if text in line][0].startswith(f"  - WARNING:{code}:")
    assert job.ops[0].result == {"ok": True, "errors": 0}


def test_missing_file_disk_is_an_instance_finding_and_an_unused_file_an_orphan(
        mn, monkeypatch):  # noqa: F811
    assert mn.run("OP_INSTANCE_CREATE", instance_name="f1.example.com",
                  disk_template="sharedfile", disks=[{"size": "1G"}], os_type="tinylinux",
                  pnode=N2, start=False).status == SUCCESS
    cfg = mn.master.config
    [disk] = [d["logical_id"][1] for d in cfg.data["disks"].values()]

    def verify_info_many(store, nodes, asks=None):
        return {n["uuid"]: dict(_healthy(store), files=[disk + ".moved"]) for n in nodes}

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    job = mn.run("OP_CLUSTER_VERIFY", error_codes=True)
    lines = [str(e[3]) for e in job.ops[0].log if "ERROR" in str(e[3]) or "orphan" in str(e[3])]
    assert [line.split(":")[:4] for line in lines] == [
        ["  - ERROR", "EINSTANCEMISSINGDISK", "instance", "f1.example.com"],
        ["  - WARNING", "ENODEORPHANLV", "node", MASTER]], lines
    assert f"instance disk {disk} missing" in lines[0]
    assert "gnt-instance remove --ignore-failures f1.example.com" in lines[0]
