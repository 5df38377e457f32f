"""gnt-node list-drbd's table and the storage options of gnt-cluster modify (issue 14)."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import cluster as gnt_cluster
from gnt.cli import node as gnt_node

ROWS = [["node2.example.com", 10, "inst2.example.com", 0, "primary", "node1.example.com"],
        ["node2.example.com", 2, "inst1.example.com", 1, "secondary", "node3.example.com"]]


def test_list_drbd_table_as_ganeti(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["node_drbd"] = lambda node: ROWS if node == "node2" else []
    assert run_cli(gnt_node, ["list-drbd", "node2"]) == 0
    assert capsys.readouterr().out == (
        "Node              Minor Instance          Disk Role      PeerNode\n"
        "node2.example.com     2 inst1.example.com 1    secondary node3.example.com\n"
        "node2.example.com    10 inst2.example.com 0    primary   node1.example.com\n")
    assert run_cli(gnt_node, ["list-drbd", "--no-headers", "--separator", "|", "node2"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "node2.example.com|2|inst1.example.com|1|secondary|node3.example.com")


def test_list_drbd_needs_exactly_one_node(fake: FakeClient,
                                          capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_node, ["list-drbd"]) != 0
    assert "node_drbd" not in fake.methods()


def test_cluster_modify_storage_options(fake: FakeClient) -> None:
    assert run_cli(gnt_cluster, ["modify", "--vg-name", "data", "--drbd-usermode-helper",
                                 "/bin/true", "--reserved-lvs", "data/root,x\\,y"]) == 0
    (op,) = fake.submitted_ops()
    assert (op["OP_ID"], op["vg_name"], op["drbd_helper"], op["reserved_lvs"]) == (
        "OP_CLUSTER_SET_PARAMS", "data", "/bin/true", ["data/root", "x,y"])


def test_cluster_modify_bad_reserved_lvs_submits_nothing(fake: FakeClient,
                                                         capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_cluster, ["modify", "--reserved-lvs", "("]) != 0
    assert "Invalid reserved LV expression '('" in capsys.readouterr().err
    assert fake.submitted_ops() == []


def test_list_storage_and_volumes_tables(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["node2", "lvm-pv", "/dev/sda7", 689971, 1536, 688435, True],
                                ["node2", "lvm-pv", "/dev/sdb1", 715366, 0, 715366, False]])
    assert run_cli(gnt_node, ["list-storage", "-t", "lvm-pv", "node2"]) == 0
    assert capsys.readouterr().out == (
        "Node  Type   Name        Size Used   Free Allocatable\n"
        "node2 lvm-pv /dev/sda7 673.8G 1.5G 672.3G Y\n"
        "node2 lvm-pv /dev/sdb1 698.6G   0M 698.6G N\n")
    [op] = fake.submitted_ops()
    assert (op["OP_ID"], op["storage_type"], op["nodes"]) == ("OP_NODE_QUERY_STORAGE",
                                                              "lvm-pv", ["node2"])
    fake.outcome = ("success", [["node1", "xenvg", "abc.disk0", 1024, "inst1"]])
    assert run_cli(gnt_node, ["volumes", "--separator", "|", "--no-headers", "-o",
                              "node,vg,name,size,instance"]) == 0
    assert capsys.readouterr().out == "node1|xenvg|abc.disk0|1024|inst1\n"


def test_modify_and_repair_storage(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(gnt_node, ["modify-storage", "node2", "lvm-pv", "/dev/sdb1"]) == 0
    assert capsys.readouterr().err == "No changes to perform, exiting.\n"
    assert fake.submitted_ops() == []
    assert run_cli(gnt_node, ["modify-storage", "--allocatable", "no", "node2", "lvm-pv",
                              "/dev/sdb1"]) == 0
    assert run_cli(gnt_node, ["repair-storage", "--ignore-consistency", "node2", "lvm-vg",
                              "xenvg"]) == 0
    modify, repair = fake.submitted_ops()
    assert (modify["OP_ID"], modify["node_name"], modify["storage_type"], modify["name"],
            modify["changes"]) == ("OP_NODE_MODIFY_STORAGE", "node2", "lvm-pv", "/dev/sdb1",
                                   {"allocatable": False})
    assert (repair["OP_ID"], repair["name"], repair["ignore_consistency"]) == (
        "OP_REPAIR_NODE_STORAGE", "xenvg", True)
    # a known type goes to the job (which refuses what cannot be repaired), as Ganeti's
    assert run_cli(gnt_node, ["repair-storage", "node2", "lvm-pv", "/dev/sdb1"]) == 0
    assert fake.submitted_ops()[-1]["storage_type"] == "lvm-pv"
    capsys.readouterr()
    assert run_cli(gnt_node, ["repair-storage", "node2", "nosuch", "x"]) == 1
    assert "Unknown storage type: nosuch" in capsys.readouterr().err
    assert len(fake.submitted_ops()) == 3
