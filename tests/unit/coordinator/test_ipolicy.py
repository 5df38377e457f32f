"""The instance policy's ratios and disk templates (--ipolicy-*): validation, inheritance
cluster -> group, the config, cluster info and the allocator's input."""

import pytest
from ipolicy_testlib import cluster_policy_refused, failed, group, ok

from gnt.core.errors import OpPrereqError
from gnt.iallocator import request as ia
from gnt.opcodes import ipolicy, params


def test_check_ipolicy_converts_and_names_bad_values():
    assert params.check_ipolicy({"vcpu-ratio": "8", "spindle-ratio": 2.5,
                                 "disk-templates": "file,diskless,file"}) == {
        "vcpu-ratio": 8.0, "spindle-ratio": 2.5, "disk-templates": ["diskless", "file"]}
    for values, text in (({"vcpu-ratio": "abc"}, "'vcpu-ratio'"),
                         ({"vcpu-ratio": "0"}, "not above 0"),
                         ({"spindle-ratio": "-1"}, "not above 0"),
                         ({"vcpu-ratio": "nan"}, "not above 0"),
                         ({"vcpu-ratio": True}, "not a number"),
                         ({"disk-templates": "file,floppy"}, "unknown disk template 'floppy'"),
                         ({"memory-size": 4}, "Unknown instance policy parameter 'memory-size'")):
        with pytest.raises(OpPrereqError, match=text):
            params.check_ipolicy(values)
    assert params.check_ipolicy({"vcpu-ratio": "default"}, allow_default=True) == {
        "vcpu-ratio": None}


def test_effective_policy_inherits_defaults_cluster_then_group():
    cluster = {"enabled_disk_templates": ["file", "diskless"], "ipolicy": {"vcpu-ratio": 8.0}}
    group = {"ipolicy": {"spindle-ratio": 3.0, "disk-templates": ["file"]}}
    assert params.effective_ipolicy(cluster) == {
        "vcpu-ratio": 8.0, "spindle-ratio": 32.0, "disk-templates": ["diskless", "file"]}
    assert params.effective_ipolicy(cluster, group) == {
        "vcpu-ratio": 8.0, "spindle-ratio": 3.0, "disk-templates": ["file"]}
    full = params.full_ipolicy(cluster, group)
    assert full["minmax"][0]["max"]["cpu-count"] == ipolicy.DEFAULT_MAX["cpu-count"]
    assert full["std"] == ipolicy.DEFAULT_STD


def test_cluster_modify_sets_ratios_seen_by_info_and_the_allocator(cluster):
    ok(cluster.run("OP_CLUSTER_SET_PARAMS", ipolicy={"vcpu-ratio": "16"}))
    config = cluster.master.config
    assert config.cluster()["ipolicy"] == {"vcpu-ratio": 16.0}
    info = cluster.api.cluster_info()["ipolicy"]
    assert info["vcpu-ratio"] == 16.0 and info["spindle-ratio"] == 32.0
    assert info["disk-templates"] == sorted(config.cluster()["enabled_disk_templates"])
    data = ia.build_request(config.data, {}, ia.request_allocate("x", 128, [64], "file"))
    assert data["ipolicy"]["vcpu-ratio"] == 16.0
    assert all(g["ipolicy"]["vcpu-ratio"] == 16.0 for g in data["nodegroups"].values())


@pytest.mark.parametrize("policy, text", [
    ({"vcpu-ratio": "x"}, "Invalid value for instance policy parameter 'vcpu-ratio'"),
    ({"disk-templates": ["plain"]}, "not enabled on the cluster: plain"),
    ({"std": {}}, "Can't unset ipolicy attribute 'std' on the cluster"),
    ({"std": {"memory-size": 4, "foo": 1}}, "Unknown instance spec parameter(s) foo in std"),
])
def test_cluster_modify_refuses_bad_policies_and_changes_nothing(cluster, policy, text):
    cluster_policy_refused(cluster, policy, text)


def test_disabling_a_template_the_policy_names_is_refused(cluster):
    ok(cluster.run("OP_CLUSTER_SET_PARAMS", ipolicy={"disk-templates": ["file", "diskless"]}))
    message = failed(cluster.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=["file"]))
    assert "not enabled on the cluster: diskless" in message
    assert "diskless" in cluster.master.config.cluster()["enabled_disk_templates"]


def test_group_policy_overrides_and_default_drops_it(cluster):
    ok(cluster.run("OP_GROUP_ADD", group_name="rack1",
                   ipolicy={"vcpu-ratio": "2", "disk-templates": ["diskless"]}))
    assert group(cluster, "rack1")["ipolicy"] == {"vcpu-ratio": 2.0,
                                                  "disk-templates": ["diskless"]}
    row = cluster.api.query("group", ["ipolicy", "custom_ipolicy"], ["rack1"])["data"][0]
    assert row[0]["vcpu-ratio"] == 2.0 and row[0]["spindle-ratio"] == 32.0
    assert row[1] == {"vcpu-ratio": 2.0, "disk-templates": ["diskless"]}
    ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="rack1",
                   ipolicy={"vcpu-ratio": "default", "spindle-ratio": 4}))
    assert group(cluster, "rack1")["ipolicy"] == {"spindle-ratio": 4.0,
                                                  "disk-templates": ["diskless"]}
    assert "not enabled on the cluster: plain" in failed(cluster.run(
        "OP_GROUP_SET_PARAMS", group_name="rack1", ipolicy={"disk-templates": ["plain"]}))
    assert "not enabled on the cluster: plain" in failed(cluster.run(
        "OP_GROUP_ADD", group_name="rack2", ipolicy={"disk-templates": ["plain"]}))
    assert group(cluster, "rack1")["ipolicy"]["disk-templates"] == ["diskless"]


def test_group_policy_change_warns_about_violating_instances(cluster):
    ok(cluster.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
                   disk_template="file", disks=[{"size": 64}], os_type="tinylinux",
                   pnode="node1.example.com", start=False, name_check=False, ip_check=False))
    op = ok(cluster.run("OP_GROUP_SET_PARAMS", group_name="default",
                        ipolicy={"disk-templates": ["diskless"]}))
    assert any("the following instances violate them: inst1.example.com" in str(line)
               for line in op.log)
