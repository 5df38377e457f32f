"""Disk parameters (``-D``, issue 14): the table's defaults, validation before any change,
cluster and group overrides, what ``gnt-cluster info`` and ``gnt-group info`` answer, and the
parameters that act on the nodes (drbd resync-rate, protocol, data/meta-stripes, metavg)."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.daemon.handlers import Handlers
from gnt.opcodes import params

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"


def _ok(job: Any) -> Any:
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job.ops[0]


def _refused(cluster: Any, op: str, **kw: Any) -> str:
    """The message of an opcode refused before or while it ran; the config unchanged."""
    before = cluster.config_bytes()
    try:
        job = cluster.run(op, **kw)
    except OpPrereqError as err:
        message = str(err)
    else:
        assert job.status == ERROR, job.ops[0].log
        message = str(job.ops[0].result["args"][0])
    assert cluster.config_bytes() == before
    return message


def test_defaults_are_ganetis_and_fill_an_old_config(cluster):
    data = cluster.master.config.data
    data["cluster"].pop("diskparams", None)     # a config written before diskparams
    info = Handlers(cluster.master).cluster_info()
    drbd = info["diskparams"]["drbd"]
    assert drbd["resync-rate"] == 61440 and drbd["protocol"] == "C"
    assert drbd["c-min-rate"] == 4096 and drbd["c-plan-ahead"] == 20
    assert drbd["disk-barriers"] == "n" and drbd["meta-barriers"] is False
    assert drbd["metavg"] == (data["cluster"].get("volume_group_name") or "xenvg")
    assert info["diskparams"]["plain"] == {"stripes": 1}
    assert info["diskparams"]["rbd"] == {"pool": "rbd", "access": "kernelspace", "user-id": ""}
    assert set(info["diskparams"]) == set(params.DISKPARAMS)


def test_cluster_modify_merges_per_template_and_default_drops(cluster):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS",
                    diskparams={"drbd": {"resync-rate": 1000, "protocol": "B"},
                                "plain": {"stripes": "2"}}))
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"c-max-rate": 5000}}))
    own = cluster.master.config.cluster()["diskparams"]
    assert own == {"drbd": {"resync-rate": 1000, "protocol": "B", "c-max-rate": 5000},
                   "plain": {"stripes": 2}}
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"plain": {"stripes": "default"}}))
    assert "plain" not in cluster.master.config.cluster()["diskparams"]
    assert Handlers(cluster.master).cluster_info()["diskparams"]["plain"]["stripes"] == 1


@pytest.mark.parametrize("diskparams, needle", [
    ({"nosuch": {"x": 1}}, "Unknown disk template 'nosuch'"),
    ({"drbd": {"nosuch": 1}}, "Unknown disk (drbd) parameter 'nosuch'"),
    ({"drbd": {"resync-rate": "fast"}}, "parameter 'resync-rate'"),
    ({"drbd": {"protocol": "D"}}, "parameter 'protocol'"),
    ({"drbd": {"metavg": "{{ lookup('pipe', 'id') }}"}}, "parameter 'metavg'"),
    ({"plain": {"stripes": 0}}, "parameter 'stripes'"),
    ({"drbd": {"dynamic-resync": "yes"}}, "parameter 'dynamic-resync'"),
])
def test_bad_values_are_refused_and_nothing_changes(cluster, diskparams, needle):
    assert needle in _refused(cluster, "OP_CLUSTER_SET_PARAMS", diskparams=diskparams)
    assert needle in _refused(cluster, "OP_GROUP_ADD", group_name="g1", diskparams=diskparams)
    assert needle in _refused(cluster, "OP_GROUP_SET_PARAMS", group_name="default",
                              diskparams=diskparams)


PACING = "dynamic-resync=True with c-plan-ahead=0"


def test_a_dynamic_resync_the_nodes_would_refuse_is_refused_at_once(cluster):
    """dynamic-resync on with c-plan-ahead 0 (the controller off) would fail every drbd
    attach on the nodes: refused where it is set, at any level, naming where."""
    bad = {"drbd": {"dynamic-resync": True, "c-plan-ahead": 0}}
    message = _refused(cluster, "OP_CLUSTER_SET_PARAMS", diskparams=bad)
    assert PACING in message and "the cluster" in message
    assert PACING in _refused(cluster, "OP_GROUP_ADD", group_name="g1", diskparams=bad)
    assert PACING in _refused(cluster, "OP_GROUP_SET_PARAMS", group_name="default",
                              diskparams=bad)
    # half of it at each level: the group's dynamic-resync meets the cluster's plan-ahead 0
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"c-plan-ahead": 0}}))
    message = _refused(cluster, "OP_GROUP_SET_PARAMS", group_name="default",
                       diskparams={"drbd": {"dynamic-resync": True}})
    assert PACING in message and "node group 'default'" in message
    # and the other way round: a group with dynamic-resync, then the cluster's plan-ahead
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"c-plan-ahead": 20}}))
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="default",
                    diskparams={"drbd": {"dynamic-resync": True}}))
    assert PACING in _refused(cluster, "OP_CLUSTER_SET_PARAMS",
                              diskparams={"drbd": {"c-plan-ahead": 0}})
    # the fixed rate with the controller off is fine, once no group turns dynamic-resync on
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="default",
                    diskparams={"drbd": {"dynamic-resync": "default"}}))
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS",
                    diskparams={"drbd": {"dynamic-resync": False, "c-plan-ahead": 0}}))


def test_string_values_are_stored_literally(cluster):
    value = "{{ lookup('pipe', 'id') }}"
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"net-custom": value}}))
    assert Handlers(cluster.master).cluster_info()["diskparams"]["drbd"]["net-custom"] == value


def test_group_overrides_the_cluster_and_group_info_shows_both(cluster):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"resync-rate": 1000}}))
    _ok(cluster.run("OP_GROUP_ADD", group_name="g1", diskparams={"drbd": {"protocol": "A"}}))
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="g1",
                    diskparams={"drbd": {"resync-rate": 2000}}))
    group = cluster.master.config.find("nodegroups", "g1")
    assert group["diskparams"] == {"drbd": {"protocol": "A", "resync-rate": 2000}}
    filled = params.filled_diskparams(cluster.master.config.cluster(), group)
    assert (filled["drbd"]["protocol"], filled["drbd"]["resync-rate"]) == ("A", 2000)
    answer = Handlers(cluster.master).query("group", ["diskparams", "custom_diskparams"],
                                            ["g1"])
    [[filled_field, own_field]] = [[value for _status, value in row]
                                   if isinstance(row[0], (list, tuple)) else row
                                   for row in answer["data"]]
    assert filled_field["drbd"]["protocol"] == "A" and filled_field["drbd"]["c-min-rate"] == 4096
    assert filled_field["plain"] == {"stripes": 1}
    assert own_field == {"drbd": {"protocol": "A", "resync-rate": 2000}}


@pytest.fixture
def drbd(cluster, monkeypatch):
    return drbd_cluster(cluster, monkeypatch, N2, N3)


def _create(cluster, name="inst1.example.com", disk=None):
    spec = {"instance_name": name, "disk_template": "drbd",
            "disks": [disk or {"size": "1G"}], "pnode": N1, "snode": N2,
            "name_check": False, "ip_check": False, "no_install": True, "start": False,
            "os_type": "blank"}
    job = cluster.run("OP_INSTANCE_CREATE", **spec)
    assert job.status == SUCCESS, job.ops[0].log
    return cluster.master.config.find("instances", name)


def test_drbd_ends_get_the_default_parameters(cluster, drbd):
    _create(cluster)
    ends = cluster.executor.calls[-1][0].hosts
    for host in (N1, N2):
        [end] = ends[host]["gnt_drbd"]
        assert end["protocol"] == "C"
        assert end["sync_params"] == {"dynamic_resync": False, "resync_rate": 61440,
                                      "c_plan_ahead": 20, "c_fill_target": 0,
                                      "c_delay_target": 1, "c_max_rate": 61440,
                                      "c_min_rate": 4096}
        assert (end["data_stripes"], end["meta_stripes"]) == (1, 1)


def test_cluster_then_group_parameters_reach_both_ends(cluster, drbd):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS",
                    diskparams={"drbd": {"resync-rate": 1000, "data-stripes": 2,
                                         "c-max-rate": 2048}}))
    group = cluster.master.config.lookup("nodes", N1)["group"]
    group_name = cluster.master.config.get("nodegroups", group)["name"]
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name=group_name,
                    diskparams={"drbd": {"protocol": "A", "meta-stripes": 3,
                                         "dynamic-resync": True, "c-plan-ahead": 30}}))
    _create(cluster)
    ends = cluster.executor.calls[-1][0].hosts
    assert ends[N1]["gnt_drbd"][0]["protocol"] == "A"
    for host in (N1, N2):
        [end] = ends[host]["gnt_drbd"]
        assert end["protocol"] == "A"
        sync = end["sync_params"]
        assert (sync["resync_rate"], sync["dynamic_resync"]) == (1000, True)
        assert (sync["c_plan_ahead"], sync["c_max_rate"], sync["c_min_rate"]) == (30, 2048, 4096)
        assert (end["data_stripes"], end["meta_stripes"]) == (2, 3)


def _meta_vg(cluster: Any, inst: dict[str, Any]) -> str:
    [disk] = cluster.master.config.instance_disks(inst)
    return str(disk["children"][1]["logical_id"][0])


def test_metavg_parameter_places_new_meta_volumes(cluster, drbd):
    # without the parameter: the data volume's group, as before
    assert _meta_vg(cluster, _create(cluster)) == "xenvg"
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"metavg": "metavg"}}))
    assert _meta_vg(cluster, _create(cluster, name="inst2.example.com")) == "metavg"
    # an explicit --disk metavg wins over the parameter
    inst = _create(cluster, name="inst3.example.com", disk={"size": "1G", "metavg": "xenvg"})
    assert _meta_vg(cluster, inst) == "xenvg"


def test_group_metavg_wins_over_the_clusters(cluster, drbd):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"drbd": {"metavg": "nosuchvg"}}))
    group = cluster.master.config.lookup("nodes", N1)["group"]
    group_name = cluster.master.config.get("nodegroups", group)["name"]
    _ok(cluster.run("OP_GROUP_SET_PARAMS", group_name=group_name,
                    diskparams={"drbd": {"metavg": "metavg"}}))
    assert _meta_vg(cluster, _create(cluster)) == "metavg"


def test_plain_stripes_reach_the_volume_creation(cluster, drbd):
    def created_disks() -> list[dict[str, Any]]:
        [play] = [p for p in cluster.executor.calls[-1] if p.role == "instance_create"]
        return list(play.hosts[N1]["gnt_instance"]["disks"])

    spec = {"disk_template": "plain", "disks": [{"size": "1G"}], "pnode": N1,
            "name_check": False, "ip_check": False, "no_install": True, "start": False,
            "os_type": "blank"}
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name="p1.example.com", **spec))
    assert [d["stripes"] for d in created_disks()] == [1]
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS", diskparams={"plain": {"stripes": 2}}))
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name="p2.example.com", **spec))
    assert [d["stripes"] for d in created_disks()] == [2]
