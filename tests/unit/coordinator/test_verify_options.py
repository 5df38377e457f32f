"""OP_CLUSTER_VERIFY's optional fields (Ganeti's OpClusterVerify): ``group_name``,
``skip_checks`` (``nplusone_mem``, ``hvparam_assessment``), ``verify_clutter`` and
``debug_simulate_errors``, through a real master with the nodes' answers faked at the network
edge (the ssh-clutter node call reads real ``authorized_keys`` files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from multinode import MASTER, add_node
from test_verify_nplus1 import mn  # noqa: F401  # pylint: disable=unused-import

from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import agent, rpc, ssh, sshclutter

N2, N3 = "node2.example.com", "node3.example.com"


def _lines(job: Any) -> list[str]:
    return [str(entry[3]) for entry in job.ops[0].log]


def _findings(job: Any) -> list[str]:
    return [line for line in _lines(job) if line.startswith("  - ERROR") or
            line.startswith("  - WARNING")]


def _healthy(cfg: Any, node: dict[str, Any]) -> dict[str, Any]:
    shared = cfg.cluster()["shared_file_storage_dir"]
    return {"dirs": {cfg.cluster()["file_storage_dir"]: True, shared: True}, "files": [],
            "bridges": ["gnt-br0"], "ssconf_master_node": MASTER,
            "config_serial": cfg.serial_no if node["master_candidate"] else None,
            "ssconf_serial": cfg.serial_no}


@pytest.fixture
def asked(mn, monkeypatch):  # noqa: F811
    """The names of the nodes each verify asked, per call; node2's bridge is missing."""
    calls: list[list[str]] = []

    def verify_info_many(cfg, nodes, asks=None):
        calls.append(sorted(n["name"] for n in nodes))
        files = [d["logical_id"][1] for d in cfg.data["disks"].values()]
        out = {}
        for node in nodes:
            out[node["uuid"]] = answer = dict(_healthy(cfg, node), files=files)
            if node["name"] == N2:
                answer["bridges"] = []
        return out

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    return calls


@pytest.fixture
def two_groups(mn, asked):  # noqa: F811
    """node1 and node2 in group default, node3 in rack3."""
    job = mn.run("OP_GROUP_ADD", group_name="rack3")
    assert job.status == SUCCESS, job.ops[0].log
    rack3 = mn.master.config.find("nodegroups", "rack3")
    add_node(mn, N3, "198.18.0.13", group=rack3["uuid"])
    return mn


# -- opcode fields --------------------------------------------------------------------------

def test_unknown_skip_check_and_empty_group_name_refused_before_queueing(mn):  # noqa: F811
    with pytest.raises(OpPrereqError) as err:
        mn.submit("OP_CLUSTER_VERIFY", skip_checks=["nplusone_mem", "no_such_check"])
    assert "'no_such_check'" in str(err.value) and err.value.args[1] == ECODE_INVAL
    with pytest.raises(OpPrereqError) as err:
        mn.submit("OP_CLUSTER_VERIFY", group_name="")
    assert "group_name" in str(err.value) and err.value.args[1] == ECODE_INVAL


# -- group_name -----------------------------------------------------------------------------

def test_node_group_verifies_only_its_nodes_and_instances(two_groups, asked):
    cluster = two_groups
    created = cluster.run("OP_INSTANCE_CREATE", instance_name="i2.example.com",
                          disk_template="sharedfile", disks=[{"size": "1G"}],
                          os_type="tinylinux", pnode=N2, start=False)
    assert created.status == SUCCESS
    cluster.hv2.put(N2, "i2.example.com")          # running although marked down
    job = cluster.run("OP_CLUSTER_VERIFY", group_name="rack3", error_codes=True)
    assert job.status == SUCCESS, job.ops[0].result
    assert asked[-1] == [N3]
    lines = _lines(job)
    assert "* Verifying group 'rack3'" in lines
    assert "* Verifying cluster config" not in lines    # no cluster-wide checks
    assert not [line for line in _findings(job) if N2 in line or "i2.example.com" in line]
    assert job.ops[0].result == {"ok": True, "errors": 0}
    # the default group has node2's missing bridge and i2's wrong run state
    job = cluster.run("OP_CLUSTER_VERIFY", group_name="default", error_codes=True)
    assert asked[-1] == [MASTER, N2]
    errors = [line for line in _findings(job) if "ERROR" in line]
    assert sorted(line.split(":")[1] for line in errors) == ["EINSTANCEDOWN", "ENODENET"]
    assert job.ops[0].result == {"ok": False, "errors": 2}
    # a group by UUID; the whole cluster without one
    uuid = cluster.master.config.find("nodegroups", "rack3")["uuid"]
    assert cluster.run("OP_CLUSTER_VERIFY", group_name=uuid).ops[0].result["ok"] is True
    job = cluster.run("OP_CLUSTER_VERIFY")
    assert asked[-1] == [MASTER, N2, N3] and "* Verifying cluster config" in _lines(job)


def test_node_group_locks_only_its_nodes_and_instances(two_groups):
    cluster = two_groups
    created = cluster.run("OP_INSTANCE_CREATE", instance_name="i3.example.com",
                          disk_template="sharedfile", disks=[{"size": "1G"}],
                          os_type="tinylinux", pnode=N3, start=False)
    assert created.status == SUCCESS
    job = cluster.run("OP_CLUSTER_VERIFY", group_name="rack3", dry_run=True)
    assert job.status == SUCCESS, job.ops[0].log
    lines = _lines(job)
    assert "  would use instance(s): i3.example.com" in lines
    assert "  would use nodegroup(s): rack3" in lines
    assert "  would use node(s): node3.example.com" in lines, lines
    lines = _lines(cluster.run("OP_CLUSTER_VERIFY", dry_run=True))
    assert "  would use node(s): all" in lines, lines


def test_unknown_node_group_refused_before_any_node_is_asked(two_groups, asked):
    cluster = two_groups
    before = len(asked)
    job = cluster.run("OP_CLUSTER_VERIFY", group_name="rack")     # no short forms, as Ganeti
    assert job.status == ERROR
    assert job.ops[0].result["type"] == "OpPrereqError"
    assert job.ops[0].result["args"] == ["Node group 'rack' not found", ECODE_NOENT]
    assert len(asked) == before


def test_empty_node_group_is_skipped(mn, asked):  # noqa: F811
    assert mn.run("OP_GROUP_ADD", group_name="empty").status == SUCCESS
    job = mn.run("OP_CLUSTER_VERIFY", group_name="empty")
    assert "* Empty node group, skipping verification" in _lines(job)
    assert job.ops[0].result == {"ok": True, "errors": 0} and asked == []


# -- skip_checks ----------------------------------------------------------------------------

def test_skip_nplusone_mem(mn, asked):  # noqa: F811
    assert mn.run("OP_INSTANCE_CREATE", instance_name="big.example.com",
                  disk_template="sharedfile", disks=[{"size": "1G"}], os_type="tinylinux",
                  pnode=N2, beparams={"memory": "2G"}).status == SUCCESS
    mn.hv2.mfree.update({MASTER: 1024, N2: 4096})
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"], error_codes=True)
    assert [line.split(":")[1] for line in _findings(job) if "ERROR" in line] == ["ENODEN1"]
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"],
                 skip_checks=["nplusone_mem"])
    assert "* Verifying N+1 memory redundancy" not in _lines(job)
    assert job.ops[0].result == {"ok": True, "errors": 0}


def test_hvparam_assessment_notes_never_count(mn, asked):  # noqa: F811
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"])
    lines = _lines(job)
    start = lines.index("* Assessing cluster hypervisor parameters")
    assert lines[start + 1].startswith("  - kvm: cpu_type is empty")   # the default
    assert job.ops[0].result == {"ok": True, "errors": 0}
    assert mn.run("OP_CLUSTER_SET_PARAMS", hvparams={"kvm": {
        "cpu_type": "host", "disk_type": "ide", "nic_type": "e1000",
        "vnc_bind_address": "0.0.0.0"}}).status == SUCCESS
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"])
    lines = _lines(job)
    start = lines.index("* Assessing cluster hypervisor parameters")
    notes = lines[start + 1:start + 6]
    assert [note.split(" is ")[0] for note in notes[:4]] == [
        "  - kvm: cpu_type", "  - kvm: disk_type", "  - kvm: nic_type",
        "  - kvm: vnc_bind_address"]
    assert "'host'" in notes[0] and "'ide'" in notes[1] and "'0.0.0.0'" in notes[3]
    assert notes[4].startswith("  - Note: ") and "gnt-cluster modify -H" in notes[4]
    assert job.ops[0].result == {"ok": True, "errors": 0}
    job = mn.run("OP_CLUSTER_VERIFY", skip_checks=["hvparam_assessment"])
    assert not [line for line in _lines(job) if "ssessing" in line or "kvm:" in line]
    # values no note is about
    assert mn.run("OP_CLUSTER_SET_PARAMS", hvparams={"kvm": {
        "cpu_type": "Haswell", "disk_type": "paravirtual", "nic_type": "paravirtual",
        "vnc_bind_address": "127.0.0.1"}}).status == SUCCESS
    lines = _lines(mn.run("OP_CLUSTER_VERIFY"))
    start = lines.index("* Assessing cluster hypervisor parameters")
    assert not lines[start + 1].startswith("  - kvm:")


# -- debug_simulate_errors ------------------------------------------------------------------

def test_simulated_errors_fail_every_check(mn):  # noqa: F811
    assert mn.run("OP_INSTANCE_CREATE", instance_name="i1.example.com",
                  disk_template="sharedfile", disks=[{"size": "1G"}], os_type="tinylinux",
                  pnode=N2).status == SUCCESS
    job = mn.run("OP_CLUSTER_VERIFY", error_codes=True)
    assert job.ops[0].result == {"ok": True, "errors": 0}, _findings(job)
    job = mn.run("OP_CLUSTER_VERIFY", error_codes=True, debug_simulate_errors=True)
    assert job.status == SUCCESS
    findings = _findings(job)
    errors = [line for line in findings if line.startswith("  - ERROR:")]
    codes = {(line.split(":")[1], line.split(":")[3]) for line in errors}
    for node in (MASTER, N2):
        for code in ("ENODERPC", "ENODEHV", "ENODEFILESTORAGEPATHUNUSABLE",
                     "ENODESHAREDFILESTORAGEPATHUNUSABLE", "ENODENET", "ENODEFILECHECK",
                     "ENODEN1"):
            assert (code, node) in codes, (code, node, findings)
    for code in ("EINSTANCEWRONGNODE", "EINSTANCEDOWN", "EINSTANCEBADNODE",
                 "EINSTANCEMISSINGDISK"):
        assert (code, "i1.example.com") in codes, (code, findings)
    assert ("ECLUSTERCFG", "config") in codes
    warnings = {line.split(":")[1] for line in findings if line.startswith("  - WARNING:")}
    assert {"EINSTANCEPOLICY", "ENODEORPHANINSTANCE", "ENODEORPHANLV"} <= warnings
    assert job.ops[0].result == {"ok": False, "errors": len(errors)}
    # ignored codes stay ignored
    job = mn.run("OP_CLUSTER_VERIFY", debug_simulate_errors=True,
                 ignore_errors=sorted({code for code, _name in codes}))
    assert job.ops[0].result == {"ok": True, "errors": 0}


# -- verify_clutter -------------------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{}"


def _authorized_keys(path: Path, *owners: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{KEY.format(i)} {owner}\n" for i, owner in enumerate(owners))
    path.write_text("# managed\n" + lines)
    return path


def test_ssh_clutter_reported_per_node(mn, asked, monkeypatch, tmp_path):  # noqa: F811
    # the master answers in-process: its root's authorized_keys under HOME
    monkeypatch.setenv("HOME", str(tmp_path / "master"))
    _authorized_keys(tmp_path / "master/.ssh/authorized_keys", "root@node1", "gnt-cluster",
                     "root@node2.example.com", "root@laptop", "root@node1", "root@laptop")
    node2_file = _authorized_keys(tmp_path / "node2/authorized_keys", "root@node1",
                                  "gnt-cluster")

    def answer(target, command):
        if "ssh-clutter" not in command:
            return ""
        names = command.split("--node-names ")[1:]
        return json.dumps(sshclutter.multiple_keys([n.split()[0] for n in names],
                                                   str(node2_file)))

    fake_ssh = ssh.run          # the FakeSSH the mn fixture installed
    fake_ssh.stdout_for = answer
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"], error_codes=True)
    assert not [line for line in _lines(job) if "clutter" in line or "authorized_keys" in line]
    assert not [c for c in fake_ssh.calls if "ssh-clutter" in c[1]]
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"], error_codes=True,
                 verify_clutter=True)
    assert "* Verifying SSH key clutter" in _lines(job)
    [line] = [line for line in _findings(job) if "authorized_keys" in line]
    assert line.startswith(f"  - ERROR:ENODESSH:node:{MASTER}:")
    assert "root@node1 on lines 2, 6" in line and "laptop" not in line
    assert [c[1] for c in fake_ssh.to(N2) if "ssh-clutter" in c[1]]
    assert job.ops[0].result == {"ok": False, "errors": 1}
    # node2's file too
    _authorized_keys(node2_file, "root@node1", "root@node2", "root@node2")
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"], verify_clutter=True)
    found = [line for line in _findings(job) if "authorized_keys" in line]
    assert len(found) == 2 and f"node {N2}: " in found[1] and "root@node2 on lines 3, 4" \
        in found[1]
    # a node whose call fails
    fake_ssh.rules.append(lambda t, c: ssh.Result(t.name, 1, "", "PermissionError: denied\n")
                          if "ssh-clutter" in c else None)
    job = mn.run("OP_CLUSTER_VERIFY", ignore_errors=["ENODENET"], verify_clutter=True)
    assert [line for line in _findings(job) if "could not check its authorized_keys" in line
            and N2 in line]


# -- the node side --------------------------------------------------------------------------

def test_key_owners_reads_the_comment_of_each_key_line():
    text = ("# comment root@node1\n\n"
            'from="10.0.0.1",command="/bin/x user@elsewhere" ssh-rsa AAAA root@node1\n'
            "ssh-ed25519 AAAB root@node1.example.com extra words\n"
            "ecdsa-sha2-nistp256 AAAC\n"
            "ssh-ed25519 AAAD gnt-cluster\n"
            "sk-ssh-ed25519@openssh.com AAAE admin@node2 \n")
    assert sshclutter.key_owners(text) == {"root@node1": [3],
                                           "root@node1.example.com": [4],
                                           "admin@node2": [7]}


def test_multiple_keys_of_cluster_nodes_only(tmp_path, monkeypatch):
    path = _authorized_keys(tmp_path / "ak", "root@node1", "root@other", "root@node1",
                            "root@other", "root@node2.example.com", "admin@node2.example.com",
                            "root@node2.example.com")
    names = [MASTER, N2]
    assert sshclutter.multiple_keys(names, str(path)) == {
        "root@node1": [2, 4], "root@node2.example.com": [6, 8]}
    assert sshclutter.multiple_keys(names, str(tmp_path / "none")) == {}
    # default: root's (HOME's) .ssh/authorized_keys, and through the agent's command line
    monkeypatch.setenv("HOME", str(tmp_path))
    _authorized_keys(tmp_path / ".ssh/authorized_keys", "root@node2", "root@node2")
    assert agent.CALLS["ssh-clutter"].local(node_names=names) == {"root@node2": [2, 3]}
    assert sshclutter.multiple_keys(["node3.example.com"]) == {}
