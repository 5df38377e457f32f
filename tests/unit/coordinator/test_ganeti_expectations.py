"""Commands checked against Ganeti 3.0's behaviour (issue 16): OS parameter reset with
``default``, online/offline changes, boolean spellings, rename to the same name or to a name
that resolves elsewhere, always_failover on migrate, and the delay opcode's locks.

Real LUs and Master; the recording executor and hypervisor fakes of conftest.py/multinode.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from multinode import add_node, install

from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from gnt.core.jobstate import CANCELED, ERROR, QUEUED, SUCCESS
from gnt.opcodes import params

NAME = "inst1.example.com"
N2, N3 = "node2.example.com", "node3.example.com"


def _ok(job: Any) -> Any:
    assert job.status == SUCCESS, job.ops[0].result
    return job.ops[0].result


def _error(job: Any) -> tuple[str, str]:
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"][0], job.ops[0].result["args"][1]


def _create(cluster: Any, **kw: Any) -> dict[str, Any]:
    spec = {"instance_name": NAME, "disk_template": "file", "disks": [{"size": "1G"}],
            "os_type": "tinylinux", "pnode": "node1", "beparams": {"memory": "256M"},
            "start": False}
    spec.update(kw)
    _ok(cluster.run("OP_INSTANCE_CREATE", **spec))
    return cluster.master.config.lookup("instances", spec["instance_name"])


# -- OS parameters: ``name=default`` drops the instance's own value --------------------------

def test_os_parameter_default_resets_it(cluster: Any) -> None:
    _create(cluster, osparams={"hostname": "guest1"})
    store = cluster.master.config
    assert store.lookup("instances", NAME)["osparams"] == {"hostname": "guest1"}
    result = _ok(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                             osparams={"hostname": "default"}))
    assert store.lookup("instances", NAME)["osparams"] == {}
    assert ["os/hostname", "default"] in result
    # and the spec the OS scripts get carries no literal "default"
    _ok(cluster.run("OP_INSTANCE_REINSTALL", instance_name=NAME))
    spec = cluster.executor.calls[-1][0].hosts["node1.example.com"]["gnt_instance"]
    assert "default" not in spec["osparams"].values()


# -- online/offline --------------------------------------------------------------------------

def test_online_of_a_running_instance_is_refused(cluster: Any) -> None:
    _create(cluster, start=True)
    before = cluster.config_bytes()
    msg, code = _error(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                                   offline=False))
    assert "marked to be up" in msg and "online" in msg and code == ECODE_STATE
    assert cluster.config_bytes() == before


def test_online_of_a_down_instance_that_runs_is_refused(cluster: Any) -> None:
    _create(cluster)
    cluster.hv.running[NAME] = 256     # started behind the cluster's back
    before = cluster.config_bytes()
    msg, code = _error(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                                   offline=False))
    assert f"{NAME} is running" in msg and code == ECODE_STATE
    assert cluster.config_bytes() == before


def test_offline_then_online_of_a_stopped_instance(cluster: Any) -> None:
    _create(cluster)
    store = cluster.master.config
    _ok(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, offline=True))
    assert store.lookup("instances", NAME)["admin_state"] == "offline"
    _ok(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, offline=False))
    assert store.lookup("instances", NAME)["admin_state"] == "down"


# -- booleans: Ganeti's spellings only ---------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("true", True), ("False", False), ("TRUE", True),
                                             ("", False), (True, True), (0, False)])
def test_boolean_spellings_accepted(value: Any, expected: bool) -> None:
    assert params.check_beparams({"auto_balance": value}) == {"auto_balance": expected}


@pytest.mark.parametrize("value", ["1", "0", "yes", "no", "on", "y"])
def test_other_boolean_spellings_refused(value: str) -> None:
    with pytest.raises(OpPrereqError) as err:
        params.check_beparams({"auto_balance": value})
    assert f"'{value}'" in str(err.value) and "auto_balance" in str(err.value)
    assert err.value.args[1] == ECODE_INVAL


def test_boolean_beparam_refuses_one(cluster: Any) -> None:
    _create(cluster)
    before = cluster.config_bytes()
    with pytest.raises(OpPrereqError) as err:     # refused when the job is submitted
        cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                    beparams={"auto_balance": "1"})
    assert "auto_balance" in str(err.value) and "'1'" in str(err.value)
    assert err.value.args[1] == ECODE_INVAL
    assert cluster.config_bytes() == before


# -- rename ----------------------------------------------------------------------------------

def test_rename_to_the_same_name_is_allowed(cluster: Any) -> None:
    _create(cluster)
    before = cluster.master.config.lookup("instances", NAME)
    since = len(cluster.executor.calls)
    assert _ok(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME, new_name=NAME)) == NAME
    after = cluster.master.config.lookup("instances", NAME)
    assert after["uuid"] == before["uuid"] and after["name"] == NAME
    [plays] = cluster.executor.calls[since:]
    [play] = plays
    host = play.hosts["node1.example.com"]
    assert play.role == "instance_rename" and host["gnt_rename_os"] is True
    assert host["gnt_instance"]["disks"] == host["gnt_old_instance"]["disks"]


def test_rename_to_a_name_resolving_elsewhere_is_refused(cluster: Any, tmp_path: Any) -> None:
    _create(cluster)
    hosts = tmp_path / "hosts"
    hosts.write_text(hosts.read_text() + "198.18.0.150 other.example.com alias9\n")
    before = cluster.config_bytes()
    msg, code = _error(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME,
                                   new_name="alias9", name_check=True, ip_check=False))
    assert "'alias9' resolves to 'other.example.com'" in msg and code == ECODE_INVAL
    assert cluster.config_bytes() == before
    _ok(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME, new_name="alias9",
                    name_check=False, ip_check=False))
    assert cluster.master.config.lookup("instances", "alias9")["name"] == "alias9"


def test_failed_rename_defines_the_old_domain_again(cluster: Any, monkeypatch: Any) -> None:
    from gnt.nodes import live

    _create(cluster)
    # the stopped instance's domain is defined on its node (shut off)
    monkeypatch.setattr(live, "node_domains", lambda store, node: {
        NAME: {"state": "shutoff", "memory_mib": 0, "maxmem_mib": 256, "vcpus": 1, "id": -1}})
    cluster.executor.fail_roles = {"instance_rename": "rename script exited with 1"}
    since = len(cluster.executor.calls)
    job = cluster.run("OP_INSTANCE_RENAME", instance_name=NAME, new_name="inst2.example.com")
    assert job.status == ERROR
    msg = job.ops[0].result["args"][0]
    assert "moved back" in msg
    undo = cluster.executor.calls[since + 1]
    assert [play.role for play in undo] == ["instance_rename", "instance_define"]
    back = undo[0].hosts["node1.example.com"]
    assert back["gnt_instance"]["name"] == NAME and back["gnt_rename_os"] is False
    assert undo[1].hosts["node1.example.com"]["gnt_instance"]["name"] == NAME
    assert cluster.master.config.lookup("instances", NAME)["name"] == NAME


# -- migrate with always_failover ----------------------------------------------------------

@pytest.fixture
def mn(cluster: Any, monkeypatch: Any) -> Any:
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2, cluster.ssh = hv, fake_ssh
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    add_node(cluster, N3, "198.18.0.13")
    return cluster


def test_migrate_of_an_always_failover_instance_fails_over(mn: Any) -> None:
    _create(mn, instance_name="shared1", disk_template="sharedfile", pnode=N2, start=True,
            beparams={"memory": "256M", "always_failover": "true"})
    since = len(mn.executor.calls)
    job = mn.run("OP_INSTANCE_MIGRATE", instance_name="shared1", target_node=N3)
    assert _ok(job)["node"] == N3
    roles = [play.role for plays in mn.executor.calls[since:] for play in plays]
    assert "instance_migrate" not in roles
    assert roles == ["instance_stop", "instance_start"]     # the stop undefines too
    assert any("always fail over" in entry[3] for entry in job.ops[0].log)
    store = mn.master.config
    assert store.get("nodes", store.lookup("instances", "shared1")["primary_node"])["name"] \
        == N3


def test_migrate_of_an_always_failover_instance_checks_memory(mn: Any) -> None:
    _create(mn, instance_name="shared1", disk_template="sharedfile", pnode=N2, start=True,
            beparams={"memory": "512M", "always_failover": "true"})
    mn.hv2.mfree[N3] = 100
    before = mn.config_bytes()
    msg, code = _error(mn.run("OP_INSTANCE_MIGRATE", instance_name="shared1", target_node=N3))
    assert "Not enough memory" in msg and code == "insufficient_resources"
    assert mn.config_bytes() == before


# -- gnt-debug delay holds the nodes' locks --------------------------------------------------

def _wait_status(cluster: Any, job_id: int, status: str) -> None:
    deadline = time.monotonic() + 5
    while cluster.master.queue.get(job_id).status != status:
        assert time.monotonic() < deadline, cluster.master.queue.get(job_id).status
        time.sleep(0.01)


def test_a_second_delay_on_the_master_waits_and_can_be_cancelled(cluster: Any) -> None:
    # as gnt-debug delay sends it (the opcode's own default is no locks, as Ganeti's)
    first = cluster.submit("OP_TEST_DELAY", duration=1.0, no_locks=False)
    _wait_status(cluster, first, "running")
    second = cluster.submit("OP_TEST_DELAY", duration=0, no_locks=False)
    _wait_status(cluster, second, "waiting")
    ok, msg = cluster.api.cancel_job(second)
    assert ok, msg
    assert cluster.wait(second).status == CANCELED
    assert cluster.wait(first).status == SUCCESS


def test_delay_without_locks_does_not_wait(cluster: Any) -> None:
    first = cluster.submit("OP_TEST_DELAY", duration=1.0, no_locks=False)
    _wait_status(cluster, first, "running")
    started = time.monotonic()
    assert cluster.run("OP_TEST_DELAY", duration=0, no_locks=True).status == SUCCESS
    assert time.monotonic() - started < 0.9
    assert cluster.master.queue.get(first).status != QUEUED
    cluster.wait(first)


def test_delay_locks_the_named_nodes_not_the_master(mn: Any, monkeypatch: Any) -> None:
    real_run = mn.executor.run

    def sleeping_run(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        for play in plays:            # the nodes sleep as the test_delay role would
            if play.role == "test_delay":
                time.sleep(max(host["gnt_delay"] for host in play.hosts.values()))
        return real_run(plays, nodes, feedback)

    monkeypatch.setattr(mn.executor, "run", sleeping_run)
    first = mn.submit("OP_TEST_DELAY", duration=1.0, on_nodes=[N2], on_master=False,
                      no_locks=False)
    _wait_status(mn, first, "running")
    other = mn.submit("OP_TEST_DELAY", duration=0, on_nodes=[N3], on_master=False,
                      no_locks=False)
    assert mn.wait(other).status == SUCCESS
    assert mn.master.queue.get(first).status == "running"
    same = mn.submit("OP_TEST_DELAY", duration=0, on_nodes=[N2], on_master=False,
                     no_locks=False)
    _wait_status(mn, same, "waiting")
    assert mn.wait(first).status == SUCCESS
    assert mn.wait(same).status == SUCCESS
