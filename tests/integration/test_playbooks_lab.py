"""playbooks/node_maintenance.yml and rolling_maintenance.yml end to end with ansible-playbook
on the host against a real 3-node lab cluster's remote API (issue 13). After each run the
cluster's real state is asserted through the master's config and the nodes' libvirt: the
instances left the node (no domain there), the node's flags, the instances back home after
the re-balance, ``gnt-cluster verify`` clean; a rerun of a finished step changes nothing.

One cluster for the module; the tests run in order (the rolling maintenance starts from the
state node_maintenance left).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gnt_ansible import PLAYBOOK, ansible_env
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks(pytest.mark.timeout(1200))

REPO = Path(__file__).resolve().parents[2]
USERS = "awx {cleartext}awxpw write\n"
# name -> (disk template, started): shared storage running and stopped, local disks running
INSTANCES = {"sh1": ("sharedfile", True), "sh2": ("sharedfile", False), "fl1": ("file", True)}
HOME_TAG = "gnt-maintenance-home:"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("pblab")
    ansible = ansible_env(base)
    with running_cluster("pblab", 3) as cluster:
        cluster.run("node1", "umask 077 && mkdir -p $GNT_ROOT/var/lib/gnt/rapi && printf"
                             f" '{USERS}' > $GNT_ROOT/var/lib/gnt/rapi/users")
        cluster.gnt("gnt-cluster copyfile $GNT_ROOT/var/lib/gnt/rapi/users")
        for name, (template, started) in INSTANCES.items():
            cluster.gnt(f"gnt-instance add -o tinylinux -t {template} --disk 0:size=32M"
                        f" -n node3 {'' if started else '--no-start '}{name}")
        address = cluster.ssconf("node1", "master_ip").strip()
        cert = cluster.root_on_host("node1") / "var/lib/gnt/rapi.pem"
        deadline = time.monotonic() + 60
        while not cert.exists():
            assert time.monotonic() < deadline, "gnt-rapi wrote no rapi.pem"
            time.sleep(0.5)
        extra = base / "connection.json"
        extra.write_text(json.dumps({
            "gnt_rapi_host": address, "gnt_rapi_port": 5080, "gnt_rapi_user": "awx",
            "gnt_rapi_password": "awxpw", "gnt_rapi_ca_path": str(cert),
            "ansible_python_interpreter": sys.executable}))
        _wait_rapi(address)
        yield cluster, ansible, extra, base


def _wait_rapi(address: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((address, 5080), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"no gnt-rapi on {address}:5080"
            time.sleep(0.5)


def play(lab, name: str, **variables) -> tuple[int, str]:
    """Run playbooks/<name> from the host; (changed count, output); fails on a failed run."""
    _cluster, ansible, extra, base = lab
    varfile = base / f"vars-{time.monotonic_ns()}.json"
    varfile.write_text(json.dumps(variables))
    proc = subprocess.run([str(PLAYBOOK), "-i", "localhost,", str(REPO / "playbooks" / name),
                           "-e", f"@{extra}", "-e", f"@{varfile}"], env=ansible,
                          capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", proc.stdout)
    assert proc.returncode == 0 and recap, out
    return int(recap.group(1)), out


def nodes(lc: LabCluster) -> dict[str, tuple[str, int]]:
    """short name -> (role letter, primary instance count), from ``gnt-node list``."""
    out = lc.gnt("gnt-node list --no-headers -o name,role,pinst_cnt").stdout
    return {line.split()[0].split(".")[0]: (line.split()[1], int(line.split()[2]))
            for line in out.splitlines()}


def instances(lc: LabCluster) -> dict[str, dict]:
    """name -> {node (short), status, tags} from the master's config and ``gnt-instance list``."""
    out = lc.gnt("gnt-instance list --no-headers --separator '|' -o name,pnode,status,tags").stdout
    result = {}
    for line in out.splitlines():
        name, pnode, status, tags = line.split("|")
        result[name] = {"node": pnode.split(".")[0], "status": status,
                        "tags": [t for t in tags.split(",") if t]}
    return result


def assert_domains_match(lc: LabCluster) -> None:
    """Every node's libvirt runs exactly the instances the config says run there."""
    state = instances(lc)
    for node in ("node1", "node2", "node3"):
        running = {n for n, s in lc.domains(node).items() if s == "running"}
        expected = {n for n, i in state.items() if i["node"] == node and i["status"] == "running"}
        assert running == expected, (node, running, state)


def assert_verify_clean(lc: LabCluster) -> None:
    proc = lc.gnt("gnt-cluster verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_node_maintenance_offline_and_back(lab) -> None:
    lc = lab[0]
    lc.wait_console("node3", "sh1", BOOT_MARKER)
    lc.wait_console("node3", "fl1", BOOT_MARKER)
    node3 = lc.fqdn("node3")

    changed, out = play(lab, "node_maintenance.yml", gnt_node="node3",
                        gnt_node_action="offline")
    assert changed == 4, out      # the tags (one loop task), drained, evacuated, offline
    assert nodes(lc)["node3"] == ("O", 0)
    state = instances(lc)
    assert {i["node"] for i in state.values()} <= {"node1", "node2"}, state
    assert [state[n]["status"] for n in ("sh1", "sh2", "fl1")] == \
        ["running", "ADMIN_down", "running"]
    assert all(state[n]["tags"] == [HOME_TAG + node3] for n in INSTANCES), state
    assert lc.domains("node3") == {}
    assert_domains_match(lc)
    assert play(lab, "node_maintenance.yml", gnt_node="node3",
                gnt_node_action="offline")[0] == 0

    changed, out = play(lab, "node_maintenance.yml", gnt_node=node3, gnt_node_action="return")
    assert changed == 4, out      # regular, migrate sh1 back, fail sh2 over back, tags gone
    role, _count = nodes(lc)["node3"]
    assert role in ("R", "C")
    state = instances(lc)
    # re-balanced: the shared-storage instances are home again, the file one stays moved
    assert (state["sh1"]["node"], state["sh1"]["status"]) == ("node3", "running")
    assert (state["sh2"]["node"], state["sh2"]["status"]) == ("node3", "ADMIN_down")
    assert state["fl1"]["node"] in ("node1", "node2") and state["fl1"]["status"] == "running"
    assert all(i["tags"] == [] for i in state.values()), state
    assert_domains_match(lc)
    assert_verify_clean(lc)
    assert play(lab, "node_maintenance.yml", gnt_node="node3",
                gnt_node_action="return")[0] == 0


def test_node_maintenance_refuses_the_master_and_unknown_nodes(lab) -> None:
    lc, ansible, extra, base = lab
    before = lc.config_bytes()
    for node in ("node1", "node9"):
        varfile = base / f"bad-{node}.json"
        varfile.write_text(json.dumps({"gnt_node": node}))
        proc = subprocess.run([str(PLAYBOOK), "-i", "localhost,",
                               str(REPO / "playbooks" / "node_maintenance.yml"),
                               "-e", f"@{extra}", "-e", f"@{varfile}"], env=ansible,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode != 0 and f"{node} is not a node of" in proc.stdout, proc.stdout
    assert lc.config_bytes() == before


def test_rolling_maintenance_every_node_but_the_master(lab) -> None:
    lc = lab[0]
    home = {name: info["node"] for name, info in instances(lc).items()}
    record = "virsh -q -c qemu:///system list --name | grep -c . >> $GNT_ROOT/maintained || true"
    ssh_config = str(lc.lab.node("node1").ssh[2])
    changed, out = play(lab, "rolling_maintenance.yml", gnt_maintenance_command=record,
                        gnt_ssh_args=["-F", ssh_config])
    assert changed > 0, out
    # the command ran once on each node but the master, while no domain ran there
    assert not (lc.root_on_host("node1") / "maintained").exists()
    for node in ("node2", "node3"):
        assert (lc.root_on_host(node) / "maintained").read_text().split() == ["0"], node
    # every node back in service, every instance where it was, no tag left, verify clean
    roles = {name: role for name, (role, _count) in nodes(lc).items()}
    assert roles["node1"] == "M" and roles["node2"] in ("R", "C") and roles["node3"] in ("R", "C")
    state = instances(lc)
    shared = {n for n, (template, _s) in INSTANCES.items() if template == "sharedfile"}
    assert {n: state[n]["node"] for n in shared} == {n: home[n] for n in shared}
    assert all(i["tags"] == [] for i in state.values()), state
    assert [state[n]["status"] for n in ("sh1", "sh2")] == ["running", "ADMIN_down"]
    assert_domains_match(lc)
    assert_verify_clean(lc)
