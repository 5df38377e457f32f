"""OP_INSTANCE_MULTI_ALLOC (RAPI /2/instances-multi-alloc): several instances placed in one
allocator run, one creation job each; bad requests refused before anything is created."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import add_node, install

from gnt.core.jobstate import ERROR, SUCCESS

N2 = "node2.example.com"


def _inst(name: str, **kw: Any) -> dict[str, Any]:
    return {"instance_name": name, "disk_template": "file", "disks": [{"size": "64M"}],
            "os_type": "tinylinux", "beparams": {"memory": "128M"}, "start": False,
            "name_check": False, "ip_check": False, **kw}


@pytest.fixture
def mn(cluster: Any, monkeypatch: Any) -> Any:
    hv, _ssh = install(cluster, monkeypatch)
    cluster.hv2 = hv
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    return cluster


def test_instances_are_placed_together_and_created(mn: Any) -> None:
    job = mn.run("OP_INSTANCE_MULTI_ALLOC", instances=[_inst("a1"), _inst("a2"), _inst("a3")])
    assert job.status == SUCCESS, job.ops[0].result
    result = job.ops[0].result
    assert result["allocatable"] == ["a1", "a2", "a3"] and result["failed"] == []
    children = mn.children(job)
    assert [child.status for child in children] == [SUCCESS] * 3
    store = mn.master.config
    placed = {inst["name"]: store.get("nodes", inst["primary_node"])["name"]
              for inst in store.all("instances")}
    assert sorted(placed) == ["a1", "a2", "a3"]
    assert len(set(placed.values())) == 2      # spread over both nodes, not all on one


def test_given_nodes_are_kept(mn: Any) -> None:
    job = mn.run("OP_INSTANCE_MULTI_ALLOC",
                 instances=[_inst("b1", pnode=N2), _inst("b2", pnode="node1")])
    assert job.status == SUCCESS, job.ops[0].result
    [c1, c2] = mn.children(job)
    store = mn.master.config
    assert store.get("nodes", store.lookup("instances", "b1")["primary_node"])["name"] == N2


@pytest.mark.parametrize("instances, needle", [
    ([], "No instances"),
    ([_inst("c1"), _inst("c1")], "given twice"),
    ([_inst("c1", pnode=N2), _inst("c2")], "Either every instance"),
    ([_inst("c1"), _inst("c2", bogus=1)], "Instance 1"),
])
def test_bad_requests_create_nothing(mn: Any, instances: list[dict[str, Any]],
                                     needle: str) -> None:
    before = mn.config_bytes()
    job = mn.run("OP_INSTANCE_MULTI_ALLOC", instances=instances)
    assert job.status == ERROR and needle in job.ops[0].result["args"][0]
    assert mn.config_bytes() == before and mn.master.config.all("instances") == []
