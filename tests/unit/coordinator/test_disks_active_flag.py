"""Ganeti's persistent ``disks_active`` instance flag (issue 14): which operations set and
clear it (Ganeti's MarkInstanceUp / MarkInstanceDisksActive / MarkInstanceDisksInactive /
MarkInstanceOffline calls), that it is written inside the config write an operation already
makes (beside its Ansible run), put back by a failed run, read as the admin state from a
config written before it existed, queryable as ``disks_active`` (DisksActive), and used where
Ganeti uses it (verify's DRBD checks, verify-disks, failover's consistency check, what grow
and replace leave assembled).

Plays come from the recording executor, the hypervisor and the nodes' DRBD status from fakes
(tests/unit/coordinator/multinode.py); the node side runs in the lab (test_storage_lab*.py).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.config import objects, schema
from gnt.core.errors import ConfigError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.lu import verify_storage

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def drbd(cluster, monkeypatch):
    return drbd_cluster(cluster, monkeypatch, N2, N3)


def _create(cluster: Any, start: bool = False, name: str = NAME,
            template: str = "drbd") -> dict[str, Any]:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template=template,
                      disks=[{"size": "1G"}], pnode=N1,
                      snode=N2 if template == "drbd" else None, name_check=False,
                      ip_check=False, no_install=True, start=start, os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", name)


def _ok(cluster: Any, op_id: str, **kw: Any) -> Any:
    job = cluster.run(op_id, **kw)
    assert job.status == SUCCESS, (op_id, job.ops[0].log)
    return job


def _stored(cluster: Any, name: str = NAME) -> dict[str, Any]:
    return cluster.master.config.find("instances", name)


def _flag(cluster: Any, name: str = NAME) -> Any:
    """The flag as stored (None: absent)."""
    return _stored(cluster, name).get("disks_active")


def _queried(cluster: Any, name: str = NAME) -> Any:
    answer = cluster.api.query("instance", ["name", "disks_active", "admin_state"], [name])
    [[_name, active, _state]] = answer["data"]
    return active


def _record_writes(cluster: Any, name: str = NAME) -> list[tuple[str, Any]]:
    """(admin state, disks_active) of the instance in every config write from now on."""
    store, writes = cluster.master.config, []
    previous = store.on_commit

    def on_commit(data: dict[str, Any], blob: bytes, **kw: Any) -> Any:
        inst = next(i for i in data["instances"].values() if i["name"] == name)
        writes.append((inst["admin_state"], inst.get("disks_active")))
        return previous(data, blob, **kw) if previous else None

    store.on_commit = on_commit
    return writes


def test_create_start_shutdown_activate_deactivate_set_and_clear_it(cluster, drbd):
    _create(cluster)
    assert _flag(cluster) is False and _queried(cluster) is False       # add without start
    _ok(cluster, "OP_INSTANCE_STARTUP", instance_name=NAME)
    assert _flag(cluster) is True and _queried(cluster) is True
    _ok(cluster, "OP_INSTANCE_SHUTDOWN", instance_name=NAME)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", False)
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", True)
    _ok(cluster, "OP_INSTANCE_DEACTIVATE_DISKS", instance_name=NAME)
    assert _flag(cluster) is False
    _ok(cluster, "OP_INSTANCE_REBOOT", instance_name=NAME, reboot_type="hard")
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("up", True)
    other = _create(cluster, start=True, name="inst2.example.com")
    assert other["disks_active"] is True                                # add with start


def test_no_remember_start_marks_the_disks_active_not_the_instance_up(cluster, drbd):
    _create(cluster)
    _ok(cluster, "OP_INSTANCE_STARTUP", instance_name=NAME, no_remember=True)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", True)
    _ok(cluster, "OP_INSTANCE_SHUTDOWN", instance_name=NAME, no_remember=True)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", False)


@pytest.mark.parametrize("op_id, extra, written", [
    ("OP_INSTANCE_STARTUP", {}, ("up", True)),
    ("OP_INSTANCE_SHUTDOWN", {}, ("down", False)),
    ("OP_INSTANCE_ACTIVATE_DISKS", {}, ("down", True)),
])
def test_the_flag_rides_on_the_one_config_write(cluster, drbd, op_id, extra, written):
    _create(cluster, start=op_id == "OP_INSTANCE_SHUTDOWN")
    writes = _record_writes(cluster)
    _ok(cluster, op_id, instance_name=NAME, **extra)
    assert writes == [written]


def test_a_failed_run_puts_the_flag_back(cluster, drbd):
    _create(cluster)
    cluster.executor.fail_roles["instance_start"] = "domain did not start"
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME)
    assert job.status == ERROR
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", False)
    cluster.executor.fail_roles.clear()
    cluster.executor.fail_roles["instance_drbd"] = "drbdsetup failed"
    job = cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    assert job.status == ERROR and _flag(cluster) is False


def test_a_missing_flag_put_back_stays_missing(cluster, drbd):
    _create(cluster)
    cluster.master.config.modify("instances", _stored(cluster)["uuid"],
                                 lambda obj: obj.pop("disks_active"))
    cluster.executor.fail_roles["instance_drbd"] = "drbdsetup failed"
    assert cluster.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME).status == ERROR
    assert "disks_active" not in _stored(cluster)


def test_offline_and_conversion_clear_it(cluster, drbd):
    _create(cluster)
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_SET_PARAMS", instance_name=NAME, offline=True)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("offline", False)
    _ok(cluster, "OP_INSTANCE_SET_PARAMS", instance_name=NAME, offline=False)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("down", False)
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_SET_PARAMS", instance_name=NAME, disk_template="plain")
    assert (_stored(cluster)["disk_template"], _flag(cluster)) == ("plain", False)


def test_failover_marks_them_active_only_for_an_instance_marked_up(cluster, drbd):
    _create(cluster)
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert _flag(cluster) is False                  # shut down everywhere, not started
    _ok(cluster, "OP_INSTANCE_STARTUP", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert (_stored(cluster)["admin_state"], _flag(cluster)) == ("up", True)


def test_failover_checks_the_target_disks_when_they_are_marked_active(cluster, drbd):
    # Ganeti checks the disks' consistency by the flag, not by the admin state
    _create(cluster)
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    drbd["disk"] = "Inconsistent"
    job = cluster.run("OP_INSTANCE_FAILOVER", instance_name=NAME)
    assert job.status == ERROR
    assert "Disk 0 is degraded on target node node2.example.com" in str(job.ops[0].result)
    _ok(cluster, "OP_INSTANCE_DEACTIVATE_DISKS", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_FAILOVER", instance_name=NAME)      # inactive: not checked


def test_grow_of_a_stopped_instance_keeps_the_disks_as_the_flag_says(cluster, drbd):
    _create(cluster)
    _ok(cluster, "OP_INSTANCE_GROW_DISK", instance_name=NAME, disk=0, amount=64)
    assert cluster.executor.calls[-1][-1].hosts[N1]["gnt_drbd_state"] == "down"
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    _ok(cluster, "OP_INSTANCE_GROW_DISK", instance_name=NAME, disk=0, amount=64)
    assert cluster.executor.calls[-1][-1].hosts[N1].get("gnt_drbd_state") != "down"
    assert _flag(cluster) is True


def test_old_config_reads_the_admin_state_and_a_bad_value_is_refused():
    assert objects.disks_active({"admin_state": "up"}) is True
    assert objects.disks_active({"admin_state": "down"}) is False
    assert objects.disks_active({"admin_state": "up", "disks_active": False}) is False
    assert objects.disks_active({"admin_state": "down", "disks_active": True}) is True


def test_schema_refuses_a_flag_that_is_not_a_boolean(cluster, drbd):
    _create(cluster)
    data = copy.deepcopy(json.loads(cluster.config_bytes()))
    schema.validate(data)
    uuid = _stored(cluster)["uuid"]
    del data["instances"][uuid]["disks_active"]
    schema.validate(data)                                   # an older config: no field
    data["instances"][uuid]["disks_active"] = "yes"
    with pytest.raises(ConfigError, match=f"'instances/{uuid}/disks_active' must be a"
                                          " boolean, found 'yes'"):
        schema.validate(data)


def test_query_field_title_and_kind():
    from gnt.query import engine
    [field] = [f for f in engine.field_list("instance") if f["name"] == "disks_active"]
    assert (field["title"], field["kind"]) == ("DisksActive", "bool")


def test_verify_drbd_minors_follow_the_flag(cluster, drbd):
    _create(cluster)
    cfg = cluster.master.config
    nodes = cfg.all("nodes")
    infos = {n["uuid"]: {"drbd_minors": {}, "drbd_helper": "/bin/true"} for n in nodes}

    def findings() -> list[str]:
        return [f.message for f in verify_storage.storage_findings(cfg, nodes, infos)
                if "drbd minor" in f.message]

    assert findings() == []                          # stopped, disks inactive: not required
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    found = findings()                               # marked active: each end must be up
    assert len(found) == 2 and all(m.endswith("is not active") for m in found), found


def test_verify_disks_looks_at_instances_whose_disks_are_marked_active(
        cluster, drbd, monkeypatch):
    from gnt.nodes import rpc
    _create(cluster)
    monkeypatch.setattr(rpc, "drbd_status", lambda store, node: {})    # nothing configured
    monkeypatch.setattr(rpc, "lv_list", lambda store, node, vgs: {})

    def verify() -> list[Any]:
        return list(_ok(cluster, "OP_CLUSTER_VERIFY_DISKS").ops[0].result)

    assert verify() == [{}, [], {}]                  # inactive: not looked at
    _ok(cluster, "OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME)
    bad, _activate, missing = verify()
    assert bad == {} and NAME in missing             # now its volumes are looked for
