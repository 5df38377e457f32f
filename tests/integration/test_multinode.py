"""A real 3-node cluster in the lab: nodes and roles, replication, master failover and back,
instances placed by the allocator, live migration with the guest alive, failover, move and
node evacuation. Every command runs inside a lab node, as an operator would type it there.

Tests depend on each other's end state (one cluster per module, in order).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    POWEROFF_MARKER,
    LabCluster,
    lab_marks,
    running_cluster,
    submit_job,
    wait_job,
)

pytestmark = lab_marks(pytest.mark.timeout(900))

NODES = ("node1", "node2", "node3")
HAIL = "/usr/lib/ganeti/iallocators/hail"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("multi", 3) as cluster:
        yield cluster


def roles(lc: LabCluster, node: str = "node1") -> dict[str, str]:
    out = lc.gnt("gnt-node list --no-headers -o name,role", node=node).stdout
    return {line.split()[0].split(".")[0]: line.split()[1] for line in out.splitlines()}


def test_nodes_are_added_with_roles_and_replicated_config(lc: LabCluster) -> None:
    assert roles(lc) == {"node1": "M", "node2": "C", "node3": "C"}
    out = lc.gnt("gnt-node list --no-headers -o name,pinst_cnt,mtotal,dfree,group").stdout
    for line in out.splitlines():
        name, pinst, mtotal, dfree, group = line.split()
        assert pinst == "0" and group == "default"
        assert mtotal.endswith(("G", "M")) and dfree.endswith(("G", "M", "T"))
    master_cfg = lc.config_bytes("node1")
    for node in ("node2", "node3"):     # candidates hold the same config, byte for byte
        assert lc.config_bytes(node) == master_cfg
    for node in NODES:
        assert lc.ssconf(node, "master_node").strip() == lc.fqdn("node1")
        assert lc.ssconf(node, "node_list").split() == [lc.fqdn(n) for n in NODES]
    info = lc.gnt("gnt-node info node2").stdout
    assert "master candidate: True" in info and lc.fqdn("node2") in info
    # Node add gave every node the cluster key pair: node2 reaches node3 with it alone.
    address = lc.lab.node("node3").address
    lc.run("node2", "ssh -o IdentitiesOnly=yes -i ~/.ssh/gnt_cluster_id_ed25519"
                    f" -o BatchMode=yes -F /dev/null -o StrictHostKeyChecking=no root@{address}"
                    " hostname")


def test_every_node_has_its_warm_module_interpreter(lc: LabCluster) -> None:
    """node_prepare installed the warm module interpreter on each node and its record says
    so; a module run on node2 goes through it: a server of node2's Python, in node2's
    namespaces, with Ansible's module_utils from the zip of the master's version."""
    interpreters = {node["name"].split(".")[0]: node.get("module_interpreter")
                    for node in lc.config()["nodes"].values()}
    assert set(interpreters) == set(NODES)
    launcher = interpreters["node2"]
    assert launcher and launcher.endswith("/var/lib/gnt/modexec/python")
    assert set(interpreters.values()) == {launcher}
    version = lc.run("node1", "ansible --version | head -1").stdout
    release = re.search(r"core ([0-9][^\]\s]*)", version)
    assert release, version
    lc.gnt("gnt-debug delay --no-master -n node2 0.01")   # a command module on node2
    servers = lc.run("node2", "pgrep -af '^/usr/bin/python3 .*modexec.py --serve' || true").stdout
    expected = (f"/usr/bin/python3 -I {launcher.rsplit('/', 1)[0]}/modexec.py --serve"
                f" /run/gnt-modexec/")
    assert expected in servers and servers.rstrip().endswith(f"/ansible-{release.group(1)}.zip"), \
        servers


def _ancestors(procs: dict[int, tuple[int, str]], pid: int) -> list[str]:
    """The command lines of ``pid``'s ancestors, nearest first (``procs``: pid -> ppid, args)."""
    found = []
    while pid in procs and procs[pid][0] in procs:
        pid = procs[pid][0]
        found.append(procs[pid][1])
    return found


def test_module_tasks_on_other_nodes_are_relayed_to_their_warm_interpreter(lc: LabCluster) -> None:
    """Once a module task on node2 has set up the forward (gnt.cluster.ssh), the next ones go
    over the master's SSH control master to node2's server: no SSH session, shell or client
    process for them. Seen in node2's processes while a module runs: ``sleep``'s parent is the
    module, a fork of the relaying child, a fork of the server; no modexec client runs."""
    lc.gnt("gnt-debug delay --no-master -n node2 0.01")
    job = submit_job(lc, "gnt-debug delay --no-master -n node2 6")
    ancestry: list[str] = []
    deadline = time.monotonic() + 60
    while not ancestry and time.monotonic() < deadline:
        out = lc.run("node2", "ps -eo pid=,ppid=,args=").stdout
        procs = {int(pid): (int(ppid), args) for pid, ppid, args in
                 (line.split(None, 2) for line in out.splitlines() if len(line.split()) > 2)}
        sleeper = [pid for pid, (_ppid, args) in procs.items() if args == "sleep 6.0"]
        if sleeper:
            ancestry = _ancestors(procs, sleeper[0])
            assert not [args for _ppid, args in procs.values() if "modexec.client()" in args]
        else:
            time.sleep(0.1)
    assert wait_job(lc, job)[0] == "success"
    assert len(ancestry) >= 3, ancestry
    assert all("/modexec.py --serve /run/gnt-modexec/" in args for args in ancestry[:3]), \
        ancestry
    # the server's socket is the one node2's stable link (what the master forwards to) names
    [launcher] = [node["module_interpreter"] for node in lc.config()["nodes"].values()
                  if node["name"] == lc.fqdn("node2")]
    link = lc.run("node2", f"readlink {launcher.rsplit('/', 1)[0]}/relay-v1-[0-9]*.sock").stdout
    assert link.split() == [ancestry[2].split("--serve ")[1].split()[0] + "/sock"], \
        (ancestry, link)


def test_node_calls_to_other_nodes_are_relayed_too(lc: LabCluster) -> None:
    """Node calls (here the live figures of ``gnt-node list``) start node2's server of the
    master's Python with node2's modexec directory named: it links its socket there, and the
    master's control master forwards a socket of its own to that link (gnt.nodes.relay). The
    answers do not change with the path they take."""
    fields = "gnt-node list --no-headers -o name,mtotal,pinst_cnt,sinst_cnt,role"
    first = lc.gnt(fields).stdout
    [launcher] = [node["module_interpreter"] for node in lc.config()["nodes"].values()
                  if node["name"] == lc.fqdn("node2")]
    link = lc.run("node2", f"readlink {launcher.rsplit('/', 1)[0]}/relay-v1-python-*.sock")
    [target] = link.stdout.split()
    assert target.startswith("/run/gnt-modexec/") and target.endswith("/sock"), target
    lc.run("node2", f"test -S {target}")                 # its server is there
    forwards = lc.run("node1", "ls $GNT_ROOT/var/lib/gnt/ansible/ssh-cm/ | grep -c '^relay-'")
    assert int(forwards.stdout) >= 2                      # node2's module and call servers
    assert lc.gnt(fields).stdout == first


def test_role_changes_follow_the_pool_rules(lc: LabCluster) -> None:
    lc.gnt("gnt-cluster modify --candidate-pool-size 2")
    lc.gnt("gnt-node modify -C no node3")          # two candidates remain: the pool is full
    assert roles(lc) == {"node1": "M", "node2": "C", "node3": "R"}
    assert not (lc.root_on_host("node3") / "var/lib/gnt/config.data").exists()
    wanted = [lc.fqdn("node1"), lc.fqdn("node2")]
    assert lc.ssconf("node3", "master_candidates").split() == wanted
    before = lc.config_bytes()
    refused = lc.gnt("gnt-node modify -C no node2", check=False)
    message = refused.stderr + refused.stdout
    assert refused.returncode == 1 and "pool size" in message and lc.fqdn("node3") in message
    assert lc.config_bytes() == before
    lc.gnt("gnt-node modify -C no --auto-promote node2")
    assert roles(lc) == {"node1": "M", "node2": "R", "node3": "C"}
    assert lc.config_bytes("node3") == lc.config_bytes("node1")
    lc.gnt("gnt-node modify -D yes node2")
    assert roles(lc)["node2"] == "D"
    lc.gnt("gnt-node modify -D no node2")
    lc.gnt("gnt-node modify -O yes node2")
    assert roles(lc)["node2"] == "O"
    assert lc.ssconf("node1", "offline_nodes").split() == [lc.fqdn("node2")]
    lc.gnt("gnt-node modify -O no node2")
    assert roles(lc)["node2"] == "R"
    lc.gnt("gnt-cluster modify --candidate-pool-size 10")   # refills the pool
    assert roles(lc) == {"node1": "M", "node2": "C", "node3": "C"}
    assert lc.config_bytes("node2") == lc.config_bytes("node1")


def _has_master_ip(lc: LabCluster, node: str) -> bool:
    address = lc.lab.net.cluster_address if hasattr(lc.lab, "net") else "198.18.0.10"
    out = lc.run(node, "ip -o addr show dev eth0").stdout
    return f" {address}/32 " in out


def test_master_failover_and_back(lc: LabCluster) -> None:
    assert _has_master_ip(lc, "node1")
    # The job queue: drained on node1, the flag on every candidate before the command returns.
    old_ids = [_submit(lc, "node1") for _unused in range(2)]
    lc.gnt("gnt-cluster queue drain")
    for node in ("node2", "node3"):
        queue = lc.root_on_host(node) / "var/lib/gnt/queue"
        assert (queue / "drain").exists()
        assert queue.stat().st_mode & 0o777 == 0o700
    refused_old = lc.gnt("gnt-debug delay 0", check=False)
    assert refused_old.returncode != 0 and "drained" in refused_old.stderr
    out = lc.gnt("gnt-cluster master-failover", node="node2").stdout
    assert "Master role moved" in out
    assert f"Took over the job queue of {lc.fqdn('node1')}" in out
    # The new master continues with the drained queue, the old jobs and their ids.
    assert lc.gnt("gnt-cluster queue info", node="node2").stdout == "The drain flag is set\n"
    refused_new = lc.gnt("gnt-debug delay 0", node="node2", check=False)
    assert (refused_new.returncode, refused_new.stderr) == (refused_old.returncode,
                                                            refused_old.stderr)
    assert set(old_ids) <= set(_job_ids(lc, "node2"))
    lc.gnt("gnt-cluster queue undrain", node="node2")
    new_id = _submit(lc, "node2")
    assert new_id > max(old_ids)
    for node in NODES:
        assert lc.gnt("gnt-cluster getmaster", node=node).stdout.strip() == lc.fqdn("node2")
    assert _has_master_ip(lc, "node2") and not _has_master_ip(lc, "node1")
    assert roles(lc, "node2") == {"node1": "C", "node2": "M", "node3": "C"}
    not_master = lc.gnt("gnt-node list", node="node1", check=False)
    assert not_master.returncode != 0
    assert f"the master is {lc.fqdn('node2')}" in not_master.stderr
    lc.gnt("gnt-cluster verify", node="node2")
    lc.gnt("gnt-cluster master-failover", node="node1")
    assert lc.gnt("gnt-cluster getmaster", node="node3").stdout.strip() == lc.fqdn("node1")
    assert _has_master_ip(lc, "node1") and not _has_master_ip(lc, "node2")
    lc.gnt("gnt-cluster verify")
    # Back on node1: undrained (as left on node2), ids after those node2 handed out.
    assert lc.gnt("gnt-cluster queue info").stdout == "The drain flag is unset\n"
    assert new_id in _job_ids(lc, "node1")
    assert _submit(lc, "node1") > new_id


def _submit(lc: LabCluster, node: str) -> int:
    """A no-op job submitted on ``node`` (its master daemon); its id."""
    out = lc.gnt("gnt-debug delay --submit 0", node=node).stdout
    match = re.search(r"JobID: (\d+)", out)
    assert match, out
    return int(match.group(1))


def _job_ids(lc: LabCluster, node: str) -> list[int]:
    out = lc.gnt("gnt-job list --no-headers -o id", node=node).stdout
    return [int(word) for word in out.split()]


def _add(lc: LabCluster, name: str, extra: str) -> str:
    out = lc.gnt(f"gnt-instance add -o tinylinux --disk 0:size=64M {extra} {name}").stdout
    return out


def test_allocator_places_sharedfile_instances(lc: LabCluster) -> None:
    for name in ("inst1", "inst2"):
        out = _add(lc, name, "-t sharedfile")
        assert re.search(rf"Selected node node\d\.lab\.example for instance {name}", out)
    placed = {lc.instance_node(n) for n in ("inst1", "inst2")}
    assert placed <= set(NODES)
    listing = lc.gnt("gnt-instance list --no-headers -o name,status").stdout
    assert listing.split() == ["inst1", "running", "inst2", "running"]


@pytest.mark.skipif(not Path(HAIL).exists(),
                    reason=f"{HAIL} missing (Debian package ganeti-htools, installed by"
                           " scripts/setup.sh --test)")
def test_hail_places_an_instance(lc: LabCluster) -> None:
    out = lc.gnt("gnt-instance add -I hail -t diskless --no-install --no-start inst9").stdout
    assert re.search(r"Selected node node\d\.lab\.example for instance inst9 \(iallocator"
                     r" hail", out)
    lc.gnt("gnt-instance remove -f inst9")


def test_live_migration_keeps_the_guest_alive(lc: LabCluster) -> None:
    source = lc.instance_node("inst1")
    target = next(n for n in NODES if n != source)
    lc.wait_console(source, "inst1", BOOT_MARKER)
    out = lc.gnt(f"gnt-instance migrate -f -n {target} inst1").stdout
    assert "Migration done" in out
    assert lc.instance_node("inst1") == target
    assert lc.domains(target).get("inst1") == "running"
    assert "inst1" not in lc.domains(source)
    # The same guest, still alive on the target: it answers ACPI there and says so.
    lc.gnt("gnt-instance shutdown inst1")
    lc.wait_console(target, "inst1", POWEROFF_MARKER, timeout=60)
    assert BOOT_MARKER not in lc.console(target, "inst1")   # it never booted again
    lc.gnt("gnt-instance startup inst1")


def test_failover_restarts_on_another_node(lc: LabCluster) -> None:
    source = lc.instance_node("inst2")
    target = next(n for n in NODES if n != source)
    lc.wait_console(source, "inst2", BOOT_MARKER)
    lc.gnt(f"gnt-instance failover -f -n {target} inst2")
    assert lc.instance_node("inst2") == target
    assert "inst2" not in lc.domains(source)
    lc.wait_console(target, "inst2", BOOT_MARKER)


def test_move_copies_a_file_instance(lc: LabCluster) -> None:
    _add(lc, "inst3", "-t file -n node2")
    lc.wait_console("node2", "inst3", BOOT_MARKER)
    disk = "srv/gnt/file-storage/inst3/disk0"
    before = (lc.root_on_host("node2") / disk).read_bytes()
    lc.gnt("gnt-instance move -f -n node3 inst3")
    assert lc.instance_node("inst3") == "node3"
    assert (lc.root_on_host("node3") / disk).read_bytes() == before
    assert not (lc.root_on_host("node2") / disk).exists()
    lc.wait_console("node3", "inst3", BOOT_MARKER)
    assert lc.domains("node3").get("inst3") == "running"


def test_evacuate_empties_a_node_and_it_can_leave(lc: LabCluster) -> None:
    for name in ("inst1", "inst2", "inst3"):
        lc.wait_console(lc.instance_node(name), name, BOOT_MARKER)
    lc.gnt("gnt-node evacuate -f -I builtin node3")
    assert all(lc.instance_node(n) != "node3" for n in ("inst1", "inst2", "inst3"))
    assert lc.domains("node3") == {}
    pinst = lc.gnt("gnt-node list --no-headers -o pinst_cnt node3").stdout.strip()
    assert pinst == "0"
    lc.gnt("gnt-cluster verify")
    lc.gnt("gnt-node remove node3")
    assert lc.fqdn("node3") not in lc.ssconf("node1", "node_list")
    assert not (lc.root_on_host("node3") / "var/lib/gnt/config.data").exists()
    added = lc.gnt("gnt-node add node3")
    # node_prepare ran its modules after the install through the warm module interpreter
    assert f"Modules on {lc.fqdn('node3')} run in its warm module interpreter" in \
        added.stdout + added.stderr, added.stdout + added.stderr
    assert roles(lc)["node3"] == "C"
    lc.gnt("gnt-cluster verify")


def test_nodes_verify_each_others_host_keys_with_the_cluster_file(lc: LabCluster) -> None:
    """Every node has the cluster's known_hosts file listing every node (its own sshd key,
    under its name and address); a node reaches another as the cluster's tools do, with
    strict host key checking and no prompt, and a key missing from the file is refused."""
    nodes = sorted(lc.config()["nodes"].values(), key=lambda n: n["name"])
    assert [n["name"] for n in nodes] == [lc.fqdn(n) for n in NODES]
    expected = []
    for node in nodes:
        short = node["name"].split(".")[0]
        own = (Path(lc.lab.dir) / short / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        assert node["ssh_host_keys"] == [" ".join(own)]
        expected.append(f"{node['name']},{node['primary_ip']} {' '.join(own)}")
    for name in NODES:
        path = lc.root_on_host(name) / "var/lib/gnt/known_hosts"
        assert path.stat().st_mode & 0o777 == 0o644 and path.stat().st_uid == 0
        listed = [line for line in path.read_text().splitlines()
                  if line and not line.startswith("#")]
        assert listed == expected, name
    # node2 -> node3 with the options the tools use (node_to_node_ssh_args plus the address
    # alias), a fresh connection (no control master) in batch mode: no prompt possible.
    address = lc.lab.node("node3").address
    args = lc.run("node2", "python3 -c 'import shlex, sys; from gnt.nodes.nodevars import"
                           " node_to_node_ssh_args as a; print(shlex.join(a(sys.argv[1])))'"
                           f" {address}").stdout.strip()
    assert "StrictHostKeyChecking=yes" in args and "/var/lib/gnt/known_hosts" in args
    ssh = f"ssh -o BatchMode=yes -o ControlPath=none -o IdentitiesOnly=yes {args}"
    out = lc.run("node2", f"{ssh} root@{address} hostname").stdout
    assert out.strip() == lc.fqdn("node3")
    # the same with node3's line taken out of a copy of the file: refused, not learnt
    known = f"{lc.lab.node('node2').gnt_root}/var/lib/gnt/known_hosts"
    refused = lc.run("node2", f"d=$(mktemp -d) && grep -v '^{lc.fqdn('node3')},' {known}"
                              f" > $d/kh && {ssh.replace(known, '$d/kh')} root@{address}"
                              " hostname; echo rc=$?; rm -rf $d", check=False)
    assert "rc=255" in refused.stdout and "Host key verification failed" in refused.stderr
