"""Node groups through the real gnt-group CLI and master daemon on a one-node cluster.

add -> list -> rename -> assign the node to a new group and back -> modify -> tags -> info ->
remove; then bad input (remove non-empty, remove last, rename to an existing name, unknown
group or node, bad alloc policy, bad names), each refused with a non-zero exit and a message
naming the value, config.data byte-for-byte unchanged.
"""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("groups"), "cluster.groups.example")
    yield gnt
    destroy_cluster(gnt)


def _groups(gnt) -> dict[str, dict]:
    return {g["name"]: g for g in gnt.config()["nodegroups"].values()}


def _node(gnt) -> dict:
    (node,) = gnt.config()["nodes"].values()
    return node


def _list(gnt, *args: str) -> list[list[str]]:
    out = gnt.run("gnt-group", "list", "--no-headers", "--separator", "|", *args).stdout
    return [line.split("|") for line in out.splitlines()]


def test_group_lifecycle(gnt):
    node = _node(gnt)["name"]
    assert _list(gnt, "-o", "name,node_cnt,node_list,alloc_policy") == [
        ["default", "1", node, "preferred"]]
    out = gnt.run("gnt-group", "list").stdout.splitlines()
    assert out[0].split() == ["Group", "Nodes", "Instances", "AllocPolicy", "NDParams"]

    serial = gnt.config()["serial_no"]
    gnt.run("gnt-group", "add", "--alloc-policy=last_resort", "--node-parameters",
            "spindle_count=3", "--tags", "site:ams", "rack1")
    gnt.run("gnt-group", "add", "rack2")
    assert gnt.config()["serial_no"] == serial + 2
    groups = _groups(gnt)
    assert groups["rack1"]["alloc_policy"] == "last_resort"
    assert groups["rack1"]["ndparams"] == {"spindle_count": 3}
    assert groups["rack1"]["tags"] == ["site:ams"]
    assert groups["rack2"]["alloc_policy"] == "preferred"
    assert _list(gnt, "-o", "name,node_cnt,alloc_policy,custom_ndparams") == [
        ["default", "1", "preferred", ""], ["rack1", "0", "last_resort", "spindle_count=3"],
        ["rack2", "0", "preferred", ""]]

    uuid = groups["rack2"]["uuid"]
    gnt.run("gnt-group", "rename", "rack2", "rack3")
    groups = _groups(gnt)
    assert "rack2" not in groups and groups["rack3"]["uuid"] == uuid

    gnt.run("gnt-group", "assign-nodes", "rack1", node)
    groups = _groups(gnt)
    assert _node(gnt)["group"] == groups["rack1"]["uuid"]
    assert _list(gnt, "-o", "name,node_cnt", "default", "rack1") == [
        ["default", "0"], ["rack1", "1"]]
    node_group = gnt.run("gnt-node", "list", "--no-headers", "-o", "group").stdout.strip()
    assert node_group == "rack1"
    # the default group is empty now and may go; then rack1 takes the node back later
    gnt.run("gnt-group", "assign-nodes", "rack3", node)
    gnt.run("gnt-group", "assign-nodes", "default", node)
    assert _node(gnt)["group"] == _groups(gnt)["default"]["uuid"]

    out = gnt.run("gnt-group", "modify", "--alloc-policy", "unallocable", "rack1").stdout
    assert "unallocable" in out
    assert _groups(gnt)["rack1"]["alloc_policy"] == "unallocable"

    gnt.run("gnt-group", "add-tags", "rack1", "a", "b")
    assert gnt.run("gnt-group", "list-tags", "rack1").stdout.split() == ["a", "b", "site:ams"]
    gnt.run("gnt-group", "remove-tags", "rack1", "a")
    assert _groups(gnt)["rack1"]["tags"] == ["b", "site:ams"]

    info = gnt.run("gnt-group", "info", "rack1").stdout
    assert "Node group: rack1" in info and "Allocation policy: unallocable" in info
    assert "spindle_count: 3" in info
    fields = gnt.run("gnt-group", "list-fields").stdout
    for name in ("node_cnt", "pinst_list", "alloc_policy", "custom_ndparams"):
        assert name in fields

    gnt.run("gnt-group", "remove", "rack3")
    gnt.run("gnt-group", "remove", "rack1")
    assert list(_groups(gnt)) == ["default"]
    jobs = gnt.run("gnt-job", "list", "--no-headers", "-o", "status").stdout.split()
    assert jobs and set(jobs) == {"success"}


BAD = {
    "remove non-empty": (["remove", "default"], "not empty"),
    "rename to existing": (["rename", "spare", "default"], "'default' clashes"),
    "unknown group (remove)": (["remove", "rack404"], "rack404"),
    "unknown group (rename)": (["rename", "rack404", "rack405"], "rack404"),
    "unknown group (modify)": (["modify", "--alloc-policy", "preferred", "rack404"], "rack404"),
    "unknown group (assign)": (["assign-nodes", "rack404", "NODE"], "rack404"),
    "unknown group (info)": (["info", "rack404"], "rack404"),
    "unknown group (list)": (["list", "rack404"], "rack404"),
    "unknown group (tags)": (["add-tags", "rack404", "t"], "rack404"),
    "unknown node": (["assign-nodes", "spare", "node404.example"], "node404.example"),
    "bad alloc policy (add)": (["add", "--alloc-policy", "sometimes", "rack9"], "sometimes"),
    "bad alloc policy (modify)": (["modify", "--alloc-policy", "sometimes", "spare"],
                                  "sometimes"),
    "bad group name": (["add", "bad/name"], "bad/name"),
    "bad new name": (["rename", "spare", "no spaces"], "no spaces"),
    "duplicate add": (["add", "spare"], "'spare' already exists"),
    "bad node parameter": (["add", "--node-parameters", "colour=blue", "rack9"], "colour"),
    "bad node parameter value": (["modify", "--node-parameters", "ssh_port=x", "spare"],
                                 "ssh_port"),
    "unknown field": (["list", "-o", "name,colour"], "colour"),
    "modify without changes": (["modify", "spare"], "at least one"),
}


@pytest.fixture(scope="module")
def spare(gnt):
    """A second, empty group so that the last-group rule is not what refuses."""
    if "spare" not in _groups(gnt):
        gnt.run("gnt-group", "add", "spare")
    return "spare"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_and_changes_nothing(gnt, spare, case):
    argv, needle = BAD[case]
    argv = [_node(gnt)["name"] if arg == "NODE" else arg for arg in argv]
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-group", *argv, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert needle in output, output
    assert "Traceback" not in output
    assert gnt.config_file.read_bytes() == before


def test_last_group_cannot_be_removed(gnt, spare):
    node = _node(gnt)["name"]
    gnt.run("gnt-group", "assign-nodes", spare, node)
    gnt.run("gnt-group", "remove", "default")
    assert list(_groups(gnt)) == [spare]
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-group", "remove", spare, check=False)
    assert proc.returncode == 1
    # the node keeps it non-empty, which is checked first; both rules refuse
    assert "not empty" in proc.stderr and node in proc.stderr
    assert gnt.config_file.read_bytes() == before
    # put things back as init made them
    gnt.run("gnt-group", "add", "default")
    gnt.run("gnt-group", "assign-nodes", "default", node)
    gnt.run("gnt-group", "remove", spare)
    assert list(_groups(gnt)) == ["default"]
