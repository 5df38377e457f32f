"""--dry-run on every opcode that has it: checks run, then stop (issue 10).

Real logical units, a real config store and job queue; the executor records plays. With
dry_run every opcode must succeed when its checks pass, leave config.data byte-identical, run
no play, change no domain, and say in the job log what it would have done.
"""

from __future__ import annotations

import pytest

from gnt.core.jobstate import ERROR, SUCCESS

NAME = "inst1.example.com"
NODE = "node1.example.com"

# opcode -> parameters valid on a one-node cluster holding the running file instance NAME
CASES = {
    "OP_INSTANCE_CREATE": {"instance_name": "inst2.example.com", "disk_template": "file",
                           "disks": [{"size": "1G"}], "os_type": "tinylinux",
                           "pnode": "node1", "beparams": {"memory": "256M"}},
    "OP_INSTANCE_REMOVE": {"instance_name": NAME},
    "OP_INSTANCE_SHUTDOWN": {"instance_name": NAME},
    "OP_INSTANCE_REBOOT": {"instance_name": NAME, "reboot_type": "hard"},
    "OP_INSTANCE_SET_PARAMS": {"instance_name": NAME, "beparams": {"vcpus": 2}},
    "OP_TAGS_SET": {"kind": "instance", "name": NAME, "tags": ["a"]},
    "OP_CLUSTER_SET_PARAMS": {"candidate_pool_size": 3},
    "OP_GROUP_ADD": {"group_name": "g2"},
    "OP_GROUP_SET_PARAMS": {"group_name": "default", "alloc_policy": "last_resort"},
    "OP_CLUSTER_VERIFY": {},
}
# opcodes whose checks need the instance stopped
STOPPED_CASES = {
    "OP_INSTANCE_STARTUP": {"instance_name": NAME},
    "OP_INSTANCE_REINSTALL": {"instance_name": NAME},
    "OP_INSTANCE_RENAME": {"instance_name": NAME, "new_name": "inst9.example.com",
                           "name_check": False, "ip_check": False},
}


@pytest.fixture
def with_instance(cluster):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="file",
                      disks=[{"size": "1G"}], os_type="tinylinux", pnode="node1",
                      beparams={"memory": "256M"})
    assert job.status == SUCCESS, job.ops[0].result
    return cluster


def _dry_run(cluster, op_id, params):
    before, plays, running = (cluster.config_bytes(), len(cluster.executor.calls),
                              dict(cluster.hv.running))
    job = cluster.run(op_id, dry_run=True, **params)
    assert job.status == SUCCESS, (op_id, job.ops[0].result, job.ops[0].log)
    assert cluster.config_bytes() == before, f"{op_id} --dry-run changed config.data"
    assert len(cluster.executor.calls) == plays, f"{op_id} --dry-run ran plays"
    assert cluster.hv.running == running
    log = [entry[3] for entry in job.ops[0].log]
    assert f"Dry run: the checks of {op_id} passed; nothing was changed" in log
    return log


@pytest.mark.parametrize("op_id", sorted(CASES))
def test_dry_run_checks_then_stops(with_instance, op_id):
    log = _dry_run(with_instance, op_id, CASES[op_id])
    if "instance_name" in CASES[op_id] and op_id != "OP_INSTANCE_CREATE":
        assert f"  would use instance(s): {NAME}" in log
        assert f"  would use node(s): {NODE}" in log


@pytest.mark.parametrize("op_id", sorted(STOPPED_CASES))
def test_dry_run_of_operations_on_a_stopped_instance(with_instance, op_id):
    assert with_instance.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME).status == SUCCESS
    _dry_run(with_instance, op_id, STOPPED_CASES[op_id])


def test_dry_run_still_refuses_what_would_fail(with_instance):
    before = with_instance.config_bytes()
    job = with_instance.run("OP_INSTANCE_STARTUP", instance_name="nosuch.example.com",
                            dry_run=True)
    assert job.status == ERROR and "nosuch" in job.ops[0].result["args"][0]
    job = with_instance.run("OP_INSTANCE_RENAME", instance_name=NAME, dry_run=True,
                            new_name="inst9.example.com", name_check=False, ip_check=False)
    assert job.status == ERROR and "running" in job.ops[0].result["args"][0]
    assert with_instance.config_bytes() == before
