"""Node logical units (add/readd, remove, modify roles, redist-conf) on a real Master with the
recording executor; SSH and the nodes' hypervisors are faked at the network edge."""

from __future__ import annotations

import json

import pytest
from multinode import MASTER, add_node, install

from gnt.core import settings
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import sshkeys

N2, N3, N4 = "node2.example.com", "node3.example.com", "node4.example.com"
FACTS = {"ctotal": 2, "mtotal": 4096, "hv_version": "QEMU 7.2"}
JOIN_CHECK = "gnt.nodes.agent join-check"


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"][0]


def _ok(job):
    assert job.status == SUCCESS, job.ops[0].result
    return job.ops[0].result


@pytest.fixture
def mn(cluster, tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    hosts.write_text("198.18.0.11 node1.example.com node1\n"
                     "198.18.0.12 node2.example.com node2\n"
                     "198.18.0.13 node3.example.com node3\n"
                     "198.18.0.14 node4.example.com node4\n")
    monkeypatch.setenv("GNT_HOSTS_FILE", str(hosts))
    monkeypatch.setattr(sshkeys, "master_public_keys", lambda: ["ssh-ed25519 AAAAtest gnt"])
    monkeypatch.setattr(sshkeys, "ensure_cluster_key",
                        lambda: (b"PRIVATE KEY", "ssh-ed25519 AAAAtest gnt"))
    hv, fake_ssh = install(cluster, monkeypatch)
    fake_ssh.stdout_for = lambda t, c: (json.dumps({"info": FACTS, "cluster_config": None})
                                        if JOIN_CHECK in c else "")
    cluster.hv2, cluster.ssh = hv, fake_ssh
    return cluster


def _node(cluster, name):
    return cluster.master.config.lookup("nodes", name)


def _pool(cluster, size):
    cluster.master.config.modify_cluster(lambda c: c.update(candidate_pool_size=size))


# --- add ----------------------------------------------------------------------------------

def test_add_node_becomes_candidate_while_pool_short(mn):
    result = _ok(mn.run("OP_NODE_ADD", node_name="node2"))
    assert result == N2   # the short name expanded from the hosts file
    node = _node(mn, N2)
    assert node["primary_ip"] == node["secondary_ip"] == "198.18.0.12"
    assert node["master_candidate"] and node["master_capable"] and node["vm_capable"]
    assert node["group"] == _node(mn, MASTER)["group"]
    # the keys after the preparation: their modules run in the interpreter it installed
    assert mn.executor.roles()[-2:] == ["node_prepare", "node_ssh_keys"]
    keys = mn.executor.calls[-1][1].hosts[N2]["gnt_ssh_keys"]
    assert keys["authorized_keys"] == ["ssh-ed25519 AAAAtest gnt"]
    assert keys["private_key_src"] == str(sshkeys.key_path())
    commands = [c for _t, c, _s in mn.ssh.to(N2)]
    assert JOIN_CHECK in commands[0]
    # the node is changed only through roles: no shell command over SSH writes keys
    assert not any("authorized_keys" in c for c in commands)
    # replication reached the new candidate with config.data
    assert any(stdin and b"config.data" in stdin for _t, _c, stdin in mn.ssh.to(N2))


def test_add_node_not_candidate_when_pool_full(mn):
    _pool(mn, 1)
    _ok(mn.run("OP_NODE_ADD", node_name=N2))
    assert not _node(mn, N2)["master_candidate"]


def test_add_not_master_capable_is_no_candidate(mn):
    _ok(mn.run("OP_NODE_ADD", node_name=N2, master_capable=False, vm_capable=False))
    node = _node(mn, N2)
    assert (node["master_candidate"], node["master_capable"], node["vm_capable"]) == \
        (False, False, False)


def test_add_with_explicit_primary_ip(mn):
    _ok(mn.run("OP_NODE_ADD", node_name="other.example.com", primary_ip="198.18.0.20"))
    assert _node(mn, "other.example.com")["primary_ip"] == "198.18.0.20"


def test_add_unresolvable_name_refused(mn):
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name="nowhere.example.com"))
    assert "nowhere.example.com" in msg and "does not resolve" in msg
    assert mn.config_bytes() == before


def test_add_bad_ip_refused(mn):
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2, primary_ip="198.18.0.300"))
    assert "198.18.0.300" in msg


def test_add_duplicate_name_refused(mn):
    _ok(mn.run("OP_NODE_ADD", node_name=N2))
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2))
    assert N2 in msg and "--readd" in msg
    assert mn.config_bytes() == before


def test_add_duplicate_ip_refused(mn):
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2, primary_ip="198.18.0.11"))
    assert "198.18.0.11" in msg and MASTER in msg
    assert mn.config_bytes() == before


def test_add_unknown_group_refused(mn):
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2, group="nogroup"))
    assert "nogroup" in msg
    assert mn.config_bytes() == before


def test_add_secondary_ip_on_single_homed_cluster_refused(mn):
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2, secondary_ip="198.18.0.112"))
    assert "secondary" in msg and "198.18.0.112" in msg
    assert mn.config_bytes() == before


def test_add_unreachable_node_refused_naming_node_and_address(mn):
    mn.ssh.unreachable(N2)
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2))
    assert N2 in msg and "198.18.0.12" in msg and "SSH" in msg
    assert mn.config_bytes() == before
    assert mn.master.config.find("nodes", N2) is None
    assert "node_prepare" not in mn.executor.roles()[1:]


def test_add_node_of_another_cluster_refused(mn):
    mn.ssh.stdout_for = lambda t, c: json.dumps({"info": FACTS,
                                                 "cluster_config": "/var/lib/gnt/config.data"})
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2))
    assert N2 in msg and "/var/lib/gnt/config.data" in msg and "--readd" in msg
    assert mn.config_bytes() == before and "node_prepare" not in mn.executor.roles()[1:]


def test_add_garbage_answer_refused(mn):
    mn.ssh.stdout_for = lambda t, c: "not json"
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2))
    assert "garbage" in msg and N2 in msg


def test_readd_keeps_uuid_and_brings_node_back(mn):
    _ok(mn.run("OP_NODE_ADD", node_name=N2))
    uuid = _node(mn, N2)["uuid"]
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True, force=True))
    assert _node(mn, N2)["offline"]
    _ok(mn.run("OP_NODE_ADD", node_name=N2, readd=True))
    node = _node(mn, N2)
    assert node["uuid"] == uuid and not node["offline"] and node["master_candidate"]
    assert len(mn.master.config.all("nodes")) == 2


def test_readd_unknown_or_master_refused(mn):
    assert "not in the configuration" in _error(mn.run("OP_NODE_ADD", node_name=N2,
                                                       readd=True))
    assert "master" in _error(mn.run("OP_NODE_ADD", node_name=MASTER, readd=True))


# --- remove -------------------------------------------------------------------------------

def test_remove_master_refused(mn):
    msg = _error(mn.run("OP_NODE_REMOVE", node_name=MASTER))
    assert "master" in msg and "master-failover" in msg


def test_remove_node_with_instances_refused(mn):
    add_node(mn, N2, "198.18.0.12")
    _ok(mn.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
               disk_template="diskless", disks=[], os_type="tinylinux", pnode=N2,
               beparams={"memory": "128M"}))
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_REMOVE", node_name=N2))
    assert N2 in msg and "inst1.example.com" in msg
    assert mn.config_bytes() == before


def test_remove_refills_candidate_pool(mn):
    _pool(mn, 2)
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    add_node(mn, N3, "198.18.0.13")
    add_node(mn, N4, "198.18.0.14", offline=True)
    _ok(mn.run("OP_NODE_REMOVE", node_name=N2))
    assert mn.master.config.find("nodes", N2) is None
    assert _node(mn, N3)["master_candidate"]
    assert not _node(mn, N4)["master_candidate"]
    leave = [plays[0] for plays in mn.executor.calls if plays[0].role == "node_leave"]
    assert [list(play.hosts) for play in leave] == [[N2]]
    assert leave[0].hosts[N2]["gnt_node_leave"]["data_dir"] == str(settings.paths().data_dir)
    assert leave[0].hosts[N2]["gnt_node_leave"]["os_dir"] == str(settings.paths().os_dir)


# --- modify -------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [{"master_candidate": False}, {"offline": True},
                                    {"drained": True}, {"master_capable": False}])
def test_master_cannot_be_demoted_offlined_or_drained(mn, change):
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=MASTER, force=True, **change))
    assert MASTER in msg and "master" in msg
    assert mn.config_bytes() == before


def test_one_role_at_a_time(mn):
    add_node(mn, N2, "198.18.0.12")
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True, drained=True))
    assert "offline" in msg and "drained" in msg


def test_nothing_to_change_refused(mn):
    assert "at least one" in _error(mn.run("OP_NODE_SET_PARAMS", node_name=MASTER))


def test_demotion_below_pool_refused_without_auto_promote(mn):
    _pool(mn, 2)
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    add_node(mn, N3, "198.18.0.13")
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=N2, master_candidate=False))
    assert N2 in msg and "--auto-promote" in msg and N3 in msg
    assert mn.config_bytes() == before


def test_demotion_with_auto_promote_promotes_another_node(mn):
    _pool(mn, 2)
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    add_node(mn, N3, "198.18.0.13")
    result = _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, master_candidate=False,
                        auto_promote=True))
    assert ["master_candidate", False] in result
    assert not _node(mn, N2)["master_candidate"]
    assert _node(mn, N3)["master_candidate"]


def test_demotion_with_force_leaves_pool_short(mn):
    _pool(mn, 2)
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    add_node(mn, N3, "198.18.0.13")
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, master_candidate=False, force=True))
    assert not _node(mn, N2)["master_candidate"] and not _node(mn, N3)["master_candidate"]


def test_offline_with_running_instances_refused(mn):
    n2 = add_node(mn, N2, "198.18.0.12")
    _ok(mn.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
               disk_template="diskless", disks=[], os_type="tinylinux", pnode=N2,
               beparams={"memory": "128M"}))
    assert mn.hv2.where("inst1.example.com") == [N2]
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True))
    assert "inst1.example.com" in msg and "running" in msg
    assert mn.config_bytes() == before
    # an unreachable node can be offlined (that is what the operator wants)
    mn.hv2.down.add(n2["name"])
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True))
    assert _node(mn, N2)["offline"]


def test_drained_node_leaves_the_pool(mn):
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, drained=True))
    node = _node(mn, N2)
    assert node["drained"] and not node["master_candidate"]
    # and an un-drained node comes back as candidate while the pool is short
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, drained=False))
    assert _node(mn, N2)["master_candidate"]


def test_offlining_a_drained_node_replaces_the_drained_role(mn):
    """As in Ganeti (one role per node): drained, then offline, is offline only."""
    add_node(mn, N2, "198.18.0.12")
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, drained=True))
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True, force=True))
    node = _node(mn, N2)
    assert node["offline"] and not node["drained"] and not node["master_candidate"]


def test_offline_node_cannot_be_candidate(mn):
    add_node(mn, N2, "198.18.0.12", offline=True)
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=N2, master_candidate=True))
    assert N2 in msg and "offline" in msg


def test_secondary_ip_in_use_refused(mn):
    add_node(mn, N2, "198.18.0.12")
    msg = _error(mn.run("OP_NODE_SET_PARAMS", node_name=N2, secondary_ip="198.18.0.11"))
    assert "198.18.0.11" in msg and MASTER in msg


def test_offline_node_gets_no_replication(mn):
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    _ok(mn.run("OP_NODE_SET_PARAMS", node_name=N2, offline=True, force=True))
    mn.ssh.calls.clear()
    _ok(mn.run("OP_CLUSTER_REDIST_CONF"))
    assert mn.ssh.to(N2) == []


def test_redist_conf_reports_unreachable_node(mn):
    add_node(mn, N2, "198.18.0.12", master_candidate=True)
    add_node(mn, N3, "198.18.0.13")
    mn.ssh.unreachable(N3)
    mn.ssh.calls.clear()
    msg = _error(mn.run("OP_CLUSTER_REDIST_CONF"))
    assert N3 in msg and "No route to host" in msg
    assert {t.name for t, _c, _s in mn.ssh.calls} == {N2, N3}
    assert mn.master.replicator.failures.keys() == {N3}


# --- dual-homed clusters, ports, offline removal ------------------------------------------

def _dual_homed(cluster):
    master = cluster.master.config.master_node()
    cluster.master.config.modify("nodes", master["uuid"],
                                 lambda obj: obj.update(secondary_ip="198.18.1.11"))


def test_add_on_dual_homed_cluster_needs_secondary_ip(mn):
    _dual_homed(mn)
    before = mn.config_bytes()
    msg = _error(mn.run("OP_NODE_ADD", node_name=N2))
    assert "secondary IP" in msg and "-s" in msg
    assert mn.config_bytes() == before
    _ok(mn.run("OP_NODE_ADD", node_name=N2, secondary_ip="198.18.1.12"))
    assert _node(mn, N2)["secondary_ip"] == "198.18.1.12"
    msg = _error(mn.run("OP_NODE_ADD", node_name=N3, secondary_ip="198.18.1.12"))
    assert "198.18.1.12" in msg and N2 in msg


def test_add_uses_ssh_port_node_parameter(mn):
    _ok(mn.run("OP_NODE_ADD", node_name=N2, ndparams={"ssh_port": "2222"}))
    assert {t.port for t, _c, _s in mn.ssh.to(N2)} == {2222}
    assert _node(mn, N2)["ndparams"]["ssh_port"] == 2222


def test_remove_offline_node_does_not_contact_it(mn):
    add_node(mn, N2, "198.18.0.12", offline=True)
    mn.ssh.calls.clear()
    _ok(mn.run("OP_NODE_REMOVE", node_name=N2))
    assert mn.ssh.to(N2) == []
    assert mn.master.config.find("nodes", N2) is None


def test_remove_unreachable_node_still_removed_with_warning(mn):
    add_node(mn, N2, "198.18.0.12")
    mn.executor.fail_roles["node_leave"] = "Failed to connect to the host via ssh"
    job = mn.run("OP_NODE_REMOVE", node_name=N2)
    _ok(job)
    assert mn.master.config.find("nodes", N2) is None
    assert any("could not clean up" in entry[3] for entry in job.ops[0].log)


def test_modify_secondary_ip_on_single_homed_cluster_refused(mn):
    add_node(mn, N2, "198.18.0.12")
    before = mn.config_bytes()
    job = mn.run("OP_NODE_SET_PARAMS", node_name=N2, secondary_ip="198.18.1.12")
    assert job.status == ERROR and "single-homed" in job.ops[0].result["args"][0]
    assert mn.config_bytes() == before


def test_modify_vm_capable_off_with_instances_refused(mn):
    add_node(mn, N2, "198.18.0.12")
    _ok(mn.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
               disk_template="diskless", disks=[], os_type="tinylinux", pnode=N2,
               beparams={"memory": "128M"}))
    before = mn.config_bytes()
    job = mn.run("OP_NODE_SET_PARAMS", node_name=N2, vm_capable=False)
    assert job.status == ERROR and "inst1.example.com" in job.ops[0].result["args"][0]
    assert mn.config_bytes() == before
