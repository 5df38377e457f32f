"""The instance policy's ispecs (bounds and standard values): validation, cluster and group
values through the opcodes, what cluster/group info and the allocator see."""

import pytest
from ipolicy_testlib import BIG, SPEC, cluster_policy_refused, group, ok, refused

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.iallocator import request as ia
from gnt.opcodes import ipolicy, params


def test_bounds_are_checked_and_converted():
    got = params.check_ipolicy({"minmax": [{"min": dict(SPEC, **{"memory-size": "64M"}),
                                            "max": dict(BIG, **{"disk-size": "4G"})}],
                                "std": {"cpu-count": "2"}})
    assert got == {"minmax": [{"min": SPEC, "max": BIG}], "std": {"cpu-count": 2}}
    bad = [
        ({"minmax": [{"min": SPEC}]}, "Missing instance specification: max"),
        ({"minmax": [{"min": SPEC, "max": BIG, "avg": SPEC}]},
         "Invalid key in bounds instance specifications: avg"),
        ({"minmax": [{"min": {"memory-size": 1}, "max": BIG}]},
         "Missing parameters in ipolicy spec min: cpu-count, disk-count"),
        ({"minmax": [{"min": dict(SPEC, foo=1), "max": BIG}]},
         "Unknown instance spec parameter(s) foo in min"),
        ({"minmax": [{"min": BIG, "max": SPEC}]},
         "Invalid specification of min/max values for cpu-count: 4/1"),
        ({"minmax": [{"min": SPEC, "max": dict(BIG, **{"memory-size": "lots"})}]},
         "Invalid value 'lots' for memory-size in max instance specs"),
        ({"minmax": []}, "a non-empty list of min/max pairs"),
        ({"minmax": "default"}, "Can't unset ipolicy attribute 'minmax' on the cluster"),
        ({"std": {"nic-count": -1}}, "must not be negative"),
    ]
    for values, text in bad:
        with pytest.raises(OpPrereqError) as err:
            params.check_ipolicy(values)
        assert text in err.value.args[0] and err.value.args[1] == ECODE_INVAL, values
    with pytest.raises(OpPrereqError, match="std cannot appear in group instance specs"):
        params.check_ipolicy({"std": {"cpu-count": 1}}, group=True)
    assert params.check_ipolicy({"minmax": "default"}, allow_default=True, group=True) == {
        "minmax": None}


def test_std_must_fit_one_pair():
    policy = ipolicy.fill({"minmax": [{"min": SPEC, "max": BIG}], "std": {"cpu-count": 8}})
    with pytest.raises(OpPrereqError, match="Invalid std specifications"):
        ipolicy.check_std_in_bounds(policy)
    two = [{"min": SPEC, "max": BIG},
           {"min": dict(SPEC, **{"cpu-count": 8}), "max": dict(BIG, **{"cpu-count": 16})}]
    ipolicy.check_std_in_bounds(ipolicy.fill({"minmax": two, "std": {"cpu-count": 8}}))


def test_spec_violations_as_ganeti_words_them():
    policy = ipolicy.fill({"minmax": [{"min": SPEC, "max": BIG}]})
    policy["disk-templates"] = ["file", "plain"]
    assert ipolicy.spec_violations(policy, 512, 2, [64, 128], 1, 1, ["file", "file"]) == []
    assert ipolicy.spec_violations(policy, 2048, 2, [64, 8192], 1, None, ["file"] * 2) == [
        "memory-size value 2048 is not in range [64, 1024]",
        "disk-size/1 value 8192 is not in range [32, 4096]"]
    assert ipolicy.spec_violations(policy, 512, 2, [], 1, 1, []) == [
        "Disk template diskless is not allowed (allowed templates file, plain)"]
    assert ipolicy.spec_violations(policy, 512, 2, [64], 1, 1, ["drbd"]) == [
        "Disk template drbd is not allowed (allowed templates: file, plain)"]
    # None is not checked; with two pairs the one with fewer violations is reported
    two = dict(policy, minmax=[{"min": SPEC, "max": BIG},
                               {"min": dict(SPEC, **{"memory-size": 2048}),
                                "max": dict(BIG, **{"memory-size": 8192})}])
    assert ipolicy.spec_violations(two, 4096, None, [64], 1, 1, ["file"]) == []
    assert ipolicy.spec_violations(two, 1500, None, [64], 1, 1, ["file"]) == [
        "memory-size value 1500 is not in range [64, 1024]"]


def test_cluster_bounds_and_std_set_shown_and_sent(cluster):
    ok(cluster.run("OP_CLUSTER_SET_PARAMS", ipolicy={
        "minmax": [{"min": SPEC, "max": BIG}], "std": {"memory-size": 128}}))
    ok(cluster.run("OP_CLUSTER_SET_PARAMS", ipolicy={"std": {"cpu-count": 2}}))
    own = cluster.master.config.cluster()["ipolicy"]
    assert own == {"minmax": [{"min": SPEC, "max": BIG}],
                   "std": {"memory-size": 128, "cpu-count": 2}}     # std merged, as Ganeti
    info = cluster.api.cluster_info()["ipolicy"]
    assert info["minmax"] == [{"min": SPEC, "max": BIG}]
    assert info["std"] == dict(ipolicy.DEFAULT_STD, **{"memory-size": 128, "cpu-count": 2})
    row = cluster.api.query("group", ["ipolicy"], ["default"])["data"][0]
    assert row[0]["minmax"] == [{"min": SPEC, "max": BIG}]
    data = ia.build_request(cluster.master.config.data, {},
                            ia.request_allocate("x", 128, [64], "file"))
    assert data["ipolicy"]["minmax"] == [{"min": SPEC, "max": BIG}]
    assert all(g["ipolicy"]["minmax"] == [{"min": SPEC, "max": BIG}]
               for g in data["nodegroups"].values())


@pytest.mark.parametrize("ipolicy_change, text", [
    ({"std": {"cpu-count": 512}}, "Invalid std specifications"),
    ({"minmax": [{"min": BIG, "max": SPEC}]}, "Invalid specification of min/max values"),
    ({"minmax": [{"min": SPEC, "max": BIG}], "std": {"memory-size": 8}},
     "Invalid std specifications"),
])
def test_cluster_bad_bounds_refused_and_nothing_changes(cluster, ipolicy_change, text):
    cluster_policy_refused(cluster, ipolicy_change, text)


def test_group_bounds_override_and_default_drops_them(cluster):
    ok(cluster.run("OP_GROUP_ADD", group_name="rack1",
                   ipolicy={"minmax": [{"min": SPEC, "max": BIG}]}))
    assert group(cluster, "rack1")["ipolicy"] == {"minmax": [{"min": SPEC, "max": BIG}]}
    row = cluster.api.query("group", ["ipolicy", "custom_ipolicy"], ["rack1"])["data"][0]
    assert row[0]["minmax"] == [{"min": SPEC, "max": BIG}]
    assert row[0]["std"] == ipolicy.DEFAULT_STD
    serial = cluster.master.config.serial_no
    assert "std cannot appear in group instance specs" in refused(
        cluster, "OP_GROUP_SET_PARAMS", group_name="rack1", ipolicy={"std": {"cpu-count": 2}})
    assert cluster.master.config.serial_no == serial
    ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="rack1", ipolicy={"minmax": "default"}))
    assert group(cluster, "rack1")["ipolicy"] == {}


def test_policy_change_warns_about_instances_now_violating(cluster):
    ok(cluster.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
                   disk_template="file", disks=[{"size": 64}], os_type="tinylinux",
                   beparams={"memory": 2048},
                   pnode="node1.example.com", start=False, name_check=False, ip_check=False))
    op = ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="default",
                        ipolicy={"minmax": [{"min": SPEC, "max": BIG}]}))
    assert any("After the ipolicy change the following instances violate them:"
               " inst1.example.com" in str(line) for line in op.log), op.log
    op = ok(cluster.run("OP_CLUSTER_SET_PARAMS",
                        ipolicy={"minmax": [{"min": SPEC, "max": BIG}]}))
    # the group's own bounds are the same: nothing new violates
    assert not any("violate them" in str(line) for line in op.log), op.log
