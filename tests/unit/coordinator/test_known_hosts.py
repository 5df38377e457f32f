"""The cluster's known_hosts file (gnt.nodes.knownhosts): host keys recorded at init and node
add/readd, the file derived from the config and pushed with the ssconf files, and every
connection of the cluster's tools checking host keys strictly against it (SSH faked at the
network edge, as in test_node_lus.py)."""

from __future__ import annotations

import base64
import io
import json
import struct
import tarfile
from typing import Any

import pytest
from multinode import MASTER, add_node, install

from gnt.config import schema
from gnt.core import settings
from gnt.core.errors import ConfigError
from gnt.core.jobstate import SUCCESS
from gnt.nodes import executor as executor_mod
from gnt.nodes import knownhosts, nodevars, rpc, ssh, sshkeys
from gnt.nodes.executor import NodeAccess, Play, build_inventory
from gnt.nodes.replication import Replicator

N2, N3 = "node2.example.com", "node3.example.com"
FACTS = {"ctotal": 2, "mtotal": 4096, "hv_version": "QEMU 7.2"}
JOIN_CHECK = "gnt.nodes.agent join-check"


def key(seed: int, key_type: str = "ssh-ed25519") -> str:
    """A well-formed public key line ``type base64`` (32 bytes of ``seed``)."""
    name = key_type.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32
    return f"{key_type} {base64.b64encode(blob).decode()}"


MASTER_KEY, KEY2, KEY2_NEW, KEY3 = key(1), key(2), key(22), key(3)


def options(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == "-o"]


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def members(blob: bytes) -> dict[str, tarfile.TarInfo]:
    """The files of a pushed tar; none for other stdin (the job queue's copies to candidates
    also go over ssh.run, in the background)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            return {info.name: info for info in tar.getmembers()}
    except tarfile.ReadError:
        return {}


def file_content(blob: bytes, name: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read().decode()


# --- keys and the file ----------------------------------------------------------------------

def test_parse_keys_takes_keyscan_and_pub_files_and_drops_the_rest():
    text = (f"# 198.18.0.12:22 SSH-2.0-OpenSSH_9.2\n198.18.0.12 {KEY2}\n"
            f"{KEY3} root@node3\n{KEY2} again\n"
            "198.18.0.12 ssh-ed25519 not-base64!\n"
            f"198.18.0.12 ssh-rsa {KEY2.split()[1]}\n"      # blob of another key type
            "ssh-ed25519 AAAA\n\ngarbage line\n")
    assert knownhosts.parse_keys(text) == sorted([KEY2, KEY3])
    assert knownhosts.parse_keys("") == []


def test_file_lists_every_node_under_name_and_addresses():
    data = {"nodes": {
        "u1": {"uuid": "u1", "name": MASTER, "primary_ip": "198.18.0.11",
               "secondary_ip": "198.18.0.11", "ssh_host_keys": [MASTER_KEY]},
        "u2": {"uuid": "u2", "name": N2, "primary_ip": "198.18.0.12",
               "secondary_ip": "198.18.1.12", "ssh_host_keys": [KEY2, KEY3]},
        "u3": {"uuid": "u3", "name": N3, "primary_ip": "198.18.0.13",
               "secondary_ip": "198.18.0.13"},                     # an older config: no keys
    }}
    assert lines(knownhosts.content(data)) == [
        f"{MASTER},198.18.0.11 {MASTER_KEY}",
        f"{N2},198.18.0.12,198.18.1.12 {KEY2}",
        f"{N2},198.18.0.12,198.18.1.12 {KEY3}",
    ]


def test_schema_accepts_old_configs_and_checks_the_keys_field(cluster):
    data = json.loads(cluster.config_bytes())
    master = data["nodes"][data["cluster"]["master_node"]]
    master.pop("ssh_host_keys")
    schema.validate(data)                       # written by an older version: no keys
    master["ssh_host_keys"] = "ssh-ed25519 AAAA"
    with pytest.raises(ConfigError, match="ssh_host_keys"):
        schema.validate(data)


def test_local_keys_of_an_address_not_here_come_from_the_system_files(tmp_path, monkeypatch):
    (tmp_path / "ssh_host_ed25519_key.pub").write_text(f"{KEY3} root@here\n")
    (tmp_path / "ssh_host_rsa_key.pub").write_text("broken\n")
    monkeypatch.setattr(knownhosts, "SYSTEM_HOST_KEYS", str(tmp_path / "ssh_host_*_key.pub"))
    assert knownhosts.local_keys("192.0.2.1", 22) == [KEY3]   # TEST-NET: never local


# --- the connections ------------------------------------------------------------------------

def test_coordinator_ssh_checks_the_host_key_strictly(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    argv = ssh.ssh_argv(ssh.Target(N2, "198.18.0.12"))
    opts = options(argv)
    known = settings.paths().data_dir / "known_hosts"
    assert f"UserKnownHostsFile={known}" in opts and "StrictHostKeyChecking=yes" in opts
    assert "HostKeyAlias=198.18.0.12" in opts and "GlobalKnownHostsFile=/dev/null" in opts
    assert not any(o.startswith("StrictHostKeyChecking=") and o != "StrictHostKeyChecking=yes"
                   for o in opts)
    # only the first contact of gnt-node add accepts a key, and learns it into no file
    first = options(ssh.ssh_argv(knownhosts.first_contact_target(N2, "198.18.0.12", 22)))
    assert "StrictHostKeyChecking=accept-new" in first and "UserKnownHostsFile=/dev/null" in first
    assert not any(o.startswith("HostKeyAlias=") for o in first)


def test_ansible_connections_check_the_host_key_strictly(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    env = executor_mod.AnsibleExecutor()._env(tmp_path)
    known = settings.paths().data_dir / "known_hosts"
    assert f"-o UserKnownHostsFile={known}" in env["ANSIBLE_SSH_ARGS"]
    assert "-o StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]
    assert "accept-new" not in env["ANSIBLE_SSH_ARGS"]
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"   # Ansible adds no StrictHostKeyChecking=no
    inventory = build_inventory([Play("node_prepare", {N2: {}, MASTER: {}})],
                                {N2: NodeAccess(N2, "198.18.0.12", False),
                                 MASTER: NodeAccess(MASTER, "198.18.0.11", True)})
    hosts = inventory["all"]["hosts"]
    assert hosts[N2]["ansible_ssh_extra_args"] == "-o HostKeyAlias=198.18.0.12"
    assert "ansible_ssh_extra_args" not in hosts[MASTER]


def test_node_to_node_ssh_uses_the_cluster_file(cluster):
    node2 = add_node(cluster, N2, "198.18.0.12", secondary_ip="198.18.0.12")
    store, master = cluster.master.config, cluster.master.config.master_node()
    peer = nodevars.transfer_peer(store, node2, master)
    opts = options(peer["ssh_args"])
    assert f"UserKnownHostsFile={settings.paths().data_dir / 'known_hosts'}" in opts
    assert "StrictHostKeyChecking=yes" in opts and "HostKeyAlias=198.18.0.12" in opts
    assert f"IdentityFile=~/.ssh/{sshkeys.KEY_NAME}" in opts
    assert "StrictHostKeyChecking=accept-new" not in nodevars.node_to_node_ssh_args()


# --- init, add, readd, remove ----------------------------------------------------------------

@pytest.fixture
def mn(tmp_path, monkeypatch, request):
    """A cluster whose master's sshd presents MASTER_KEY; node2/node3 answer the add's checks
    and, when asked for their host keys, present ``cluster.node_keys[name]``."""
    monkeypatch.setattr(knownhosts, "local_keys", lambda address, port: [MASTER_KEY])
    cluster = request.getfixturevalue("cluster")
    hosts = tmp_path / "hosts"
    hosts.write_text("198.18.0.11 node1.example.com node1\n"
                     "198.18.0.12 node2.example.com node2\n"
                     "198.18.0.13 node3.example.com node3\n")
    monkeypatch.setenv("GNT_HOSTS_FILE", str(hosts))
    monkeypatch.setattr(sshkeys, "master_public_keys", lambda: ["ssh-ed25519 AAAAtest gnt"])
    monkeypatch.setattr(sshkeys, "ensure_cluster_key",
                        lambda: (b"PRIVATE KEY", "ssh-ed25519 AAAAtest gnt"))
    _hv, fake_ssh = install(cluster, monkeypatch)
    cluster.node_keys = {N2: [KEY2], N3: [KEY3]}

    def answer(target: ssh.Target, command: str) -> str:
        if JOIN_CHECK in command:
            return json.dumps({"info": FACTS, "cluster_config": None})
        if "ssh-keyscan" in command:
            return "".join(f"{target.address} {k}\n" for k in cluster.node_keys[target.name])
        return ""

    fake_ssh.stdout_for = answer
    cluster.ssh = fake_ssh
    # what the master's known_hosts file said while each play ran
    cluster.file_at_play: list[str] = []
    recorded_run = cluster.executor.run

    def run(plays, nodes, feedback):  # type: ignore[no-untyped-def]
        cluster.file_at_play.append(ssh.known_hosts_file().read_text())
        return recorded_run(plays, nodes, feedback)

    monkeypatch.setattr(cluster.executor, "run", run)
    return cluster


def _node(cluster: Any, name: str) -> dict[str, Any]:
    return cluster.master.config.lookup("nodes", name)


def _pushed_known_hosts(cluster: Any, name: str) -> str | None:
    """The known_hosts file last pushed to node ``name`` (None if none was)."""
    for _target, _command, stdin in reversed(cluster.ssh.to(name)):
        if stdin and "known_hosts" in members(stdin):
            return file_content(stdin, "known_hosts")
    return None


def test_init_records_the_masters_keys_and_writes_the_file(mn):
    master = mn.master.config.master_node()
    assert master["ssh_host_keys"] == [MASTER_KEY]
    path = ssh.known_hosts_file()
    assert path.stat().st_mode & 0o777 == 0o644 and path.stat().st_uid == 0
    assert lines(path.read_text()) == [f"{MASTER},198.18.0.11 {MASTER_KEY}"]


def test_add_records_the_nodes_keys_over_the_first_contact(mn):
    job = mn.run("OP_NODE_ADD", node_name=N2)
    assert job.status == SUCCESS, job.ops[0].result
    assert _node(mn, N2)["ssh_host_keys"] == [KEY2]
    first = [(t, c) for t, c, _s in mn.ssh.to(N2) if t.first_contact]
    assert any(JOIN_CHECK in c for _t, c in first) and any("ssh-keyscan" in c for _t, c in first)
    # only the add's first contact accepts a key: the config pushes go strictly
    assert all(not t.first_contact for t, c, stdin in mn.ssh.to(N2)
               if stdin and "gnt.nodes.agent" not in c)   # node calls send theirs on stdin
    # the add's own plays ran with the new node's key already in the master's file
    assert f"{N2},198.18.0.12 {KEY2}" in lines(mn.file_at_play[-1])
    expected = [f"{MASTER},198.18.0.11 {MASTER_KEY}", f"{N2},198.18.0.12 {KEY2}"]
    assert lines(ssh.known_hosts_file().read_text()) == expected
    assert lines(_pushed_known_hosts(mn, N2) or "") == expected
    log = "\n".join(entry[3] for entry in job.ops[0].log)
    assert knownhosts.fingerprint(KEY2) in log
    assert "warm module interpreter" not in log     # node_prepare did not report one


def test_add_says_when_the_nodes_modules_run_warm(mn):
    mn.executor.facts["node_prepare"] = {"gnt_node_info": {"module_process": "warm"}}
    job = mn.run("OP_NODE_ADD", node_name=N2)
    assert job.status == SUCCESS, job.ops[0].result
    log = [entry[3] for entry in job.ops[0].log]
    assert f"Modules on {N2} run in its warm module interpreter" in log


def test_readd_of_a_reinstalled_node_refreshes_its_key_everywhere(mn):
    mn.master.config.modify_cluster(lambda c: c.update(candidate_pool_size=2))
    assert mn.run("OP_NODE_ADD", node_name=N2).status == SUCCESS
    assert mn.run("OP_NODE_ADD", node_name=N3).status == SUCCESS
    assert not _node(mn, N3)["master_candidate"]
    mn.node_keys[N2] = [KEY2_NEW]                   # node2 reinstalled: a new host key
    mn.ssh.calls.clear()
    job = mn.run("OP_NODE_ADD", node_name=N2, readd=True)
    assert job.status == SUCCESS, job.ops[0].result
    assert _node(mn, N2)["ssh_host_keys"] == [KEY2_NEW]
    text = ssh.known_hosts_file().read_text()
    assert KEY2_NEW in text and KEY2 not in text
    # node3 (no candidate) gets it too, though none of its ssconf files changed
    for name in (N2, N3):
        pushed = _pushed_known_hosts(mn, name)
        assert pushed is not None and KEY2_NEW in pushed and KEY2 not in pushed


def test_failed_add_leaves_the_file_of_the_config(mn):
    mn.executor.fail_roles["node_prepare"] = "boom"
    assert mn.run("OP_NODE_ADD", node_name=N2).status != SUCCESS
    assert N2 in mn.file_at_play[-1]               # the plays could check its key
    assert N2 not in ssh.known_hosts_file().read_text()


def test_remove_drops_the_node_from_the_file(mn):
    assert mn.run("OP_NODE_ADD", node_name=N2).status == SUCCESS
    assert mn.run("OP_NODE_ADD", node_name=N3).status == SUCCESS
    assert N3 in ssh.known_hosts_file().read_text()
    assert mn.run("OP_NODE_REMOVE", node_name=N3).status == SUCCESS
    assert N3 not in ssh.known_hosts_file().read_text()
    pushed = _pushed_known_hosts(mn, N2)
    assert pushed is not None and N3 not in pushed


def test_add_records_the_masters_keys_when_an_older_version_did_not(mn):
    master = mn.master.config.master_node()
    mn.master.config.modify("nodes", master["uuid"], lambda obj: obj.pop("ssh_host_keys"))
    assert mn.run("OP_NODE_ADD", node_name=N2).status == SUCCESS
    assert mn.master.config.master_node()["ssh_host_keys"] == [MASTER_KEY]
    assert f"{MASTER},198.18.0.11 {MASTER_KEY}" in ssh.known_hosts_file().read_text()


# --- replication ----------------------------------------------------------------------------

def test_replication_pushes_the_file_0644_to_every_node(mn):
    assert mn.run("OP_NODE_ADD", node_name=N2).status == SUCCESS
    assert mn.run("OP_NODE_ADD", node_name=N3).status == SUCCESS
    mn.ssh.calls.clear()
    store = mn.master.config
    warnings = Replicator()(store.data, mn.config_bytes(), force=True)   # redist-conf
    assert warnings == []
    for name in (N2, N3):
        [(_target, _command, stdin)] = [c for c in mn.ssh.to(name)
                                        if c[2] and "known_hosts" in members(c[2])]
        info = members(stdin or b"")["known_hosts"]
        assert info.mode == 0o644 and info.uid == 0
        assert lines(file_content(stdin or b"", "known_hosts")) == \
            lines(knownhosts.content(store.data))


# --- verify ---------------------------------------------------------------------------------

def test_verify_names_a_node_whose_host_key_changed(mn, monkeypatch):
    assert mn.run("OP_NODE_ADD", node_name=N2).status == SUCCESS
    add_node(mn, N3, "198.18.0.13")                # recorded by an older version: no keys

    def verify_info_many(cfg, nodes, asks=None):
        out: dict[str, Any] = {}
        for n in nodes:
            if n["name"] == N2:
                out[n["uuid"]] = f"{N2}: Host key verification failed."
            else:
                out[n["uuid"]] = {"dirs": {}, "files": [], "bridges": ["gnt-br0"],
                                  "ssconf_master_node": MASTER,
                                  "config_serial": cfg.serial_no}
        return out

    monkeypatch.setattr(rpc, "verify_info_many", verify_info_many)
    job = mn.run("OP_CLUSTER_VERIFY")
    log = [entry[3] for entry in job.ops[0].log]
    [changed] = [line for line in log if "ERROR" in line and N2 in line]
    assert "differs from the one recorded" in changed and f"--readd {N2}" in changed
    [missing] = [line for line in log if N3 in line and "SSH host keys" in line]
    assert "WARNING" in missing and f"--readd {N3}" in missing
