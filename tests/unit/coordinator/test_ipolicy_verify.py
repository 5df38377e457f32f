"""gnt-cluster verify and the instance policy: an instance that its group's policy refuses is
reported as Ganeti's EINSTANCEPOLICY does (a warning naming the instance and the violations),
which does not make the verification fail."""

from __future__ import annotations

from ipolicy_testlib import SMALL, ok
from test_ipolicy_enforced import _create
from test_verify_nplus1 import _verify, mn  # noqa: F401  # pylint: disable=unused-import

N2 = "node2.example.com"


def _policy_warnings(cluster):
    job = cluster.run("OP_CLUSTER_VERIFY")
    return [str(entry[3]) for entry in job.ops[0].log if "WARNING: instance" in str(entry[3])]


def test_verify_warns_about_instances_outside_their_groups_policy(mn):  # noqa: F811
    ok(_create(mn, "big.example.com", N2, memory="1G"))
    ok(_create(mn, "fits.example.com", N2, memory="256M"))
    assert _policy_warnings(mn) == []
    ok(mn.run("OP_CLUSTER_SET_PARAMS", ipolicy={"minmax": SMALL}))
    assert _policy_warnings(mn) == [
        "  - WARNING: instance big.example.com: memory-size value 1024 is not in range"
        " [64, 512]"]
    result, errors = _verify(mn)
    assert result == {"ok": True, "errors": 0}, errors


def test_verify_uses_the_policy_of_the_primary_nodes_group(mn):  # noqa: F811
    ok(_create(mn, "big.example.com", N2, memory="1G", disks=("4G",)))
    ok(mn.run("OP_GROUP_ADD", group_name="small", ipolicy={"minmax": SMALL}))
    assert _policy_warnings(mn) == []
    ok(mn.run("OP_GROUP_ASSIGN_NODES", group_name="small", nodes=[N2], force=True))
    assert _policy_warnings(mn) == [
        "  - WARNING: instance big.example.com: memory-size value 1024 is not in range"
        " [64, 512], disk-size/0 value 4096 is not in range [32, 2048]"]
