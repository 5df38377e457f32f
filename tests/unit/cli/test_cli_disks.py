"""gnt-cluster verify-disks and gnt-instance activate-disks / deactivate-disks / grow-disk:
options to opcodes, results printed as Ganeti prints them, exit codes."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import cluster, instance


def test_verify_disks_nothing_to_do(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [{}, [], {}])
    assert run_cli(cluster, ["verify-disks"]) == 0
    assert capsys.readouterr().out == "No disks need to be activated.\n"
    [op] = fake.submitted_ops()
    assert op["OP_ID"] == "OP_CLUSTER_VERIFY_DISKS" and op["group_name"] is None


def test_verify_disks_activates_and_reports(fake: FakeClient,
                                            capsys: pytest.CaptureFixture) -> None:
    fake.outcomes = {1: ("success", [{"node3": "ssh: No route to host"}, ["i1", "i2"],
                                     {"i2": [["node2", "xenvg/u.disk0_meta"]]}])}
    fake.outcome = ("success", [["node1", "disk/0", "/dev/drbd0"]])
    assert run_cli(cluster, ["verify-disks", "--node-group", "default"]) == 1
    out = capsys.readouterr().out
    assert out == ("Error gathering data on node node3: ssh: No route to host\n"
                   "You need to fix these nodes first before fixing instances\n"
                   "Activating disks for instance 'i1'\n"
                   "Instance i2 has missing logical volumes:\n"
                   "\tnode2 /dev/xenvg/u.disk0_meta\n"
                   "You need to replace or recreate disks for all the above instances if this"
                   " message persists after fixing broken nodes.\n")
    verify, activate = fake.submitted_ops()
    assert verify["group_name"] == "default"
    assert (activate["OP_ID"], activate["instance_name"]) == ("OP_INSTANCE_ACTIVATE_DISKS", "i1")


def test_activate_disks_prints_node_disk_device(fake: FakeClient,
                                                capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["node1", "disk/0", "/dev/drbd0"],
                                ["node1", "disk/1", "/dev/drbd1"]])
    assert run_cli(instance, ["activate-disks", "--wait-for-sync", "i1"]) == 0
    assert capsys.readouterr().out == "node1:disk/0:/dev/drbd0\nnode1:disk/1:/dev/drbd1\n"
    [op] = fake.submitted_ops()
    assert op["wait_for_sync"] is True and op["ignore_size"] is False


def test_deactivate_and_grow(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["deactivate-disks", "-f", "i1"]) == 0
    assert run_cli(instance, ["grow-disk", "--absolute", "--no-wait-for-sync", "i1", "0",
                              "2g"]) == 0
    assert run_cli(instance, ["grow-disk", "i1", "x", "1g"]) == 1
    assert run_cli(instance, ["grow-disk", "i1", "0", "lots"]) == 1
    err = capsys.readouterr().err
    assert "Invalid disk index passed: x" in err and "Invalid amount 'lots'" in err
    deactivate, grow = fake.submitted_ops()
    assert deactivate["force"] is True
    assert (grow["disk"], grow["amount"], grow["absolute"], grow["wait_for_sync"]) == \
        (0, 2048, True, False)


def test_replace_disks_modes(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["replace-disks", "-s", "--disks", "0,1", "i1"]) == 0
    assert run_cli(instance, ["replace-disks", "-n", "node3", "--early-release", "i1"]) == 0
    assert run_cli(instance, ["replace-disks", "-a", "i1"]) == 0
    assert run_cli(instance, ["replace-disks", "-I", "hail", "i1"]) == 0
    assert run_cli(instance, ["replace-disks", "i1"]) == 1
    assert run_cli(instance, ["replace-disks", "-p", "-s", "i1"]) == 1
    assert run_cli(instance, ["replace-disks", "-p", "--disks", "a", "i1"]) == 1
    err = capsys.readouterr().err
    assert err.count("One and only one of the -p, -s, -a, -n and -I options must be"
                     " passed") == 2
    assert "Invalid disk index passed: a" in err
    sec, new, auto, alloc = fake.submitted_ops()
    assert (sec["mode"], sec["disks"]) == ("replace_on_secondary", [0, 1])
    assert (new["mode"], new["remote_node"], new["early_release"]) == (
        "replace_new_secondary", "node3", True)
    assert auto["mode"] == "replace_auto" and auto["disks"] == []
    assert (alloc["mode"], alloc["iallocator"]) == ("replace_new_secondary", "hail")


def test_repair_disk_sizes(fake: FakeClient) -> None:
    fake.outcome = ("success", [["i1", 0, "size", 1536]])
    assert run_cli(cluster, ["repair-disk-sizes", "i1", "i2"]) == 0
    assert run_cli(cluster, ["repair-disk-sizes"]) == 0
    named, every = fake.submitted_ops()
    assert named["OP_ID"] == "OP_CLUSTER_REPAIR_DISK_SIZES"
    assert named["instances"] == ["i1", "i2"] and every["instances"] == []


def test_modify_disk_template(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["disk_template", "drbd"]])
    assert run_cli(instance, ["modify", "-t", "drbd", "-n", "node2", "--no-wait-for-sync",
                              "i1"]) == 0
    assert run_cli(instance, ["modify", "-t", "plain", "i1"]) == 0
    assert "disk_template -> drbd" in capsys.readouterr().out
    to_drbd, to_plain = fake.submitted_ops()
    assert (to_drbd["disk_template"], to_drbd["remote_node"], to_drbd["wait_for_sync"]) == (
        "drbd", "node2", False)
    assert to_plain["disk_template"] == "plain" and to_plain["wait_for_sync"] is True
