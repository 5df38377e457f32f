"""The instance policy's bounds enforced as Ganeti: instance add, modify, grow-disk, and
failover/migrate/move and replace-disks -n to another group's node refuse violations
(ECODE_INVAL, config unchanged, no node play), ``ignore_ipolicy`` lets them through (a warning
where Ganeti warns)."""

from __future__ import annotations

import pytest
from ipolicy_testlib import SMALL, ok, refused_untouched, warned
from multinode import MASTER, add_node, drbd_cluster, install

from gnt.core.jobstate import ERROR, SUCCESS

N2, N3 = "node2.example.com", "node3.example.com"


@pytest.fixture
def mn(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    ok(cluster.run("OP_GROUP_ADD", group_name="small", ipolicy={"minmax": SMALL}))
    small = cluster.master.config.lookup("nodegroups", "small")
    add_node(cluster, N3, "198.18.0.13", group=small["uuid"])
    cluster.small = small["uuid"]
    return cluster


def _create(cluster, name, pnode, memory="1G", disks=("1G",), start=False, **kw):
    return cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template="sharedfile",
                       disks=[{"size": size} for size in disks], os_type="tinylinux",
                       pnode=pnode, start=start, beparams={"memory": memory}, **kw)


def test_add_refused_by_the_groups_bounds_unless_ignored(mn):
    message = refused_untouched(mn, "OP_INSTANCE_CREATE", instance_name="big.example.com",
                                disk_template="sharedfile", disks=[{"size": "4G"}],
                                os_type="tinylinux", pnode=N3, start=False,
                                beparams={"memory": "1G", "vcpus": 4})
    assert message == (f"Instance allocation to group {mn.small} (small) violates policy:"
                       " memory-size value 1024 is not in range [64, 512],"
                       " cpu-count value 4 is not in range [1, 2],"
                       " disk-size/0 value 4096 is not in range [32, 2048]")
    assert mn.master.config.find("instances", "big.example.com") is None
    ok(_create(mn, "big.example.com", N2))               # the default group: permissive
    ok(_create(mn, "big2.example.com", N3, ignore_ipolicy=True))


def test_add_refused_when_the_policy_disallows_the_template(mn):
    ok(mn.run("OP_GROUP_SET_PARAMS", group_name="small",
              ipolicy={"disk-templates": ["file"]}))
    message = refused_untouched(mn, "OP_INSTANCE_CREATE", instance_name="t.example.com",
                                disk_template="sharedfile", disks=[{"size": 64}], os_type="tinylinux",
                                pnode=N3, start=False, beparams={"memory": 128})
    assert "Disk template sharedfile is not allowed (allowed templates: file)" in message


def test_modify_checks_the_new_specs(mn):
    ok(_create(mn, "a.example.com", N3, memory="256M", disks=("1G",)))
    message = refused_untouched(mn, "OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                                beparams={"maxmem": "1G"})
    assert "violates policy: memory-size value 1024 is not in range [64, 512]" in message
    message = refused_untouched(mn, "OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                                beparams={"minmem": "32M"})
    assert "memory-size value 32 is not in range [64, 512]" in message
    message = refused_untouched(mn, "OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                                disks=[["add", -1, {"size": 4096}]])
    assert "disk-size/1 value 4096 is not in range [32, 2048]" in message
    message = refused_untouched(mn, "OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                                disks=[["add", -1, {"size": 64}], ["add", -1, {"size": 64}]])
    assert "disk-count value 3 is not in range [1, 2]" in message
    message = refused_untouched(mn, "OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                                nics=[["add", -1, {}], ["add", -1, {}]])
    assert "nic-count value 3 is not in range [0, 2]" in message
    ok(mn.run("OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
              beparams={"maxmem": "1G"}, ignore_ipolicy=True))
    assert mn.master.config.lookup("instances", "a.example.com")["beparams"]["maxmem"] == 1024


def test_grow_disk_checks_the_new_size(mn):
    ok(_create(mn, "g.example.com", N3, memory="256M", disks=("1G",)))
    message = refused_untouched(mn, "OP_INSTANCE_GROW_DISK", instance_name="g.example.com", disk=0,
                                amount=2048)
    assert message == ("Growing disk 0 violates policy:"
                       " disk-size/0 value 3072 is not in range [32, 2048]")
    op = ok(mn.run("OP_INSTANCE_GROW_DISK", instance_name="g.example.com", disk=0,
                   amount=2048, ignore_ipolicy=True))
    assert warned(op, "WARNING: Growing disk 0 violates policy")
    ok(mn.run("OP_INSTANCE_GROW_DISK", instance_name="g.example.com", disk=0, amount=1,
              absolute=False, ignore_ipolicy=True))


@pytest.mark.parametrize("op_id, extra", [
    ("OP_INSTANCE_FAILOVER", {}),
    ("OP_INSTANCE_MIGRATE", {"allow_failover": True}),
])
def test_failover_and_migrate_to_another_groups_node(mn, op_id, extra):
    ok(_create(mn, "m.example.com", N2, memory="1G"))
    message = refused_untouched(mn, op_id, instance_name="m.example.com", target_node=N3, **extra)
    assert message == (f"Instance does not meet target node group's ({mn.small}) instance"
                       " policy: memory-size value 1024 is not in range [64, 512]")
    op = ok(mn.run(op_id, instance_name="m.example.com", target_node=N3,
                   ignore_ipolicy=True, **extra))
    assert warned(op, "WARNING: Instance does not meet target node group's")
    store = mn.master.config
    assert store.get("nodes", store.lookup("instances", "m.example.com")["primary_node"]
                     )["name"] == N3


def test_node_migrate_passes_ignore_ipolicy_to_each_migration(mn):
    ok(_create(mn, "r.example.com", N2, memory="1G", start=True))
    [child] = mn.children(mn.run("OP_NODE_MIGRATE", node_name=N2, target_node=N3))
    assert child.status == ERROR and child.ops[0].input["ignore_ipolicy"] is False
    assert "Instance does not meet target node group's" in child.ops[0].result["args"][0]
    [child] = mn.children(mn.run("OP_NODE_MIGRATE", node_name=N2, target_node=N3,
                                 ignore_ipolicy=True))
    assert child.status == SUCCESS and child.ops[0].input["ignore_ipolicy"] is True
    assert warned(child.ops[0], "WARNING: Instance does not meet target node group's")


def test_same_group_target_is_not_checked(mn):
    ok(_create(mn, "s.example.com", N3, memory="1G", ignore_ipolicy=True))
    add_node(mn, "node4.example.com", "198.18.0.14", group=mn.small)
    ok(mn.run("OP_INSTANCE_FAILOVER", instance_name="s.example.com",
              target_node="node4.example.com"))


def test_move_to_another_groups_node(mn):
    ok(mn.run("OP_INSTANCE_CREATE", instance_name="f.example.com", disk_template="file",
              disks=[{"size": "4G"}], os_type="tinylinux", pnode=N2, start=False,
              beparams={"memory": "256M"}))
    message = refused_untouched(mn, "OP_INSTANCE_MOVE", instance_name="f.example.com", target_node=N3)
    assert "disk-size/0 value 4096 is not in range [32, 2048]" in message


def test_builtin_allocator_skips_groups_whose_bounds_refuse_the_instance():
    from gnt import iallocator as ia
    from gnt.core.errors import OpPrereqError
    from gnt.iallocator import simulate as sim

    config = sim.new_config()
    live: dict = {}
    small = sim.add_group(config, "small")
    config["nodegroups"][small]["ipolicy"] = {"minmax": SMALL}
    sim.add_node(config, live, "big-free", memory=65536, group="small")
    sim.add_node(config, live, "tight", memory=4096)

    def place(memory, **kw):
        data = ia.build_request(config, live,
                                ia.request_allocate("new", memory, [64], "file", **kw))
        return ia.run_iallocator("builtin", data).nodes

    assert place(256) == ["big-free"]          # fits the small group's bounds
    assert place(1024) == ["tight"]            # 1024 MiB > the small group's max 512
    with pytest.raises(OpPrereqError, match="violates the instance policy of every node group"
                       r" \(group small: memory-size value 1024 is not in range"):
        place(1024, group_name="small")


def test_replace_disks_new_secondary_in_another_group(cluster, monkeypatch):
    drbd_cluster(cluster, monkeypatch, N2, N3)
    ok(cluster.run("OP_GROUP_ADD", group_name="small", ipolicy={"minmax": SMALL}))
    ok(cluster.run("OP_GROUP_ASSIGN_NODES", group_name="small", nodes=[N3]))
    small = cluster.master.config.lookup("nodegroups", "small")["uuid"]
    ok(cluster.run("OP_INSTANCE_CREATE", instance_name="d.example.com", disk_template="drbd",
                   disks=[{"size": "1G"}], pnode=MASTER, snode=N2, name_check=False,
                   ip_check=False, no_install=True, start=False, os_type="blank",
                   beparams={"memory": "1G"}))
    replace = {"instance_name": "d.example.com", "mode": "replace_new_secondary",
               "remote_node": N3}
    message = refused_untouched(cluster, "OP_INSTANCE_REPLACE_DISKS", **replace)
    assert message == (f"Instance does not meet target node group's ({small}) instance"
                       " policy: memory-size value 1024 is not in range [64, 512]")
    op = ok(cluster.run("OP_INSTANCE_REPLACE_DISKS", ignore_ipolicy=True, **replace))
    assert warned(op, "WARNING: Instance does not meet target node group's")
    store = cluster.master.config
    assert store.instance_secondaries(store.lookup("instances", "d.example.com")) == [
        store.lookup("nodes", N3)["uuid"]]
