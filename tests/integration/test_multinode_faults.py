"""Faults on a real multi-node cluster: nodes crashing (their PID 1 killed) in the middle of a
migration or a node add, the master daemon killed mid-job, nodes whose link is down, and
gnt-cluster verify reporting what is wrong. After each fault the job ends in a clear error,
the config matches where things really are, and verify says what is wrong (or nothing).

Lab: node1 (master), node2 and node3 in the cluster, node4 up but not added.
Run: ``GNT_LAB_SLOT=2 .venv/bin/pytest -q tests/integration/test_multinode_faults.py``
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    LabCluster,
    job_field,
    lab_marks,
    nsenter,
    running_cluster,
    submit_job,
    verify_lines,
    wait_job,
    wait_job_log,
)

pytestmark = lab_marks()

NEW_SHARED = "-t sharedfile --disk 0:size=64M -o tinylinux"

# What a scenario test saw, for the message checks that are separate tests (so a wrong
# message and a wrong outcome show up as different failures).
SEEN: dict[str, Any] = {}


def seen(key: str) -> Any:
    if key not in SEEN:
        pytest.skip(f"needs the scenario test that records {key!r} (run the whole module)")
    return SEEN[key]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LabCluster]:
    with running_cluster("faults", 4, add=2) as c:
        yield c


def host_domains(cluster: LabCluster, node: str) -> dict[str, str]:
    """name -> state on ``node``, asked from the host over libvirt TCP ({} if it is down)."""
    proc = subprocess.run(["virsh", "-q", "-c", cluster.lab.node(node).libvirt_uri, "list",
                           "--all"], capture_output=True, text=True, timeout=30, check=False)
    result = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            result[parts[1]] = " ".join(parts[2:])
    return result


def wait_domain(cluster: LabCluster, node: str, name: str, timeout: float = 60) -> str:
    """Wait until ``name`` exists on ``node`` (an incoming migration creates it paused)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = host_domains(cluster, node).get(name)
        if state is not None:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{name} did not appear on {node} within {timeout} s")


def new_running(cluster: LabCluster, name: str, node: str) -> None:
    """A booted sharedfile tinylinux instance on ``node``."""
    cluster.gnt(f"gnt-instance add {NEW_SHARED} -n {node} {name}")
    cluster.wait_console(node, name, BOOT_MARKER)


def assert_verify_clean(cluster: LabCluster) -> None:
    code, lines = verify_lines(cluster)
    problems = [ln for ln in lines if "ERROR" in ln or "WARNING" in ln]
    assert code == 0 and not problems, "\n".join(lines)


def assert_candidates_agree(cluster: LabCluster) -> None:
    """Every online master candidate holds the master's config.data, byte for byte."""
    master = cluster.master()
    data = cluster.config_bytes(master)
    cfg = cluster.config(master)
    for node in cfg["nodes"].values():
        if node["master_candidate"] and not node["offline"]:
            short = node["name"].split(".")[0]
            assert cluster.config_bytes(short) == data, f"{short}'s config.data differs"


def running_on(cluster: LabCluster, name: str) -> list[str]:
    return [n for n in ("node1", "node2", "node3")
            if host_domains(cluster, n).get(name) == "running"]


# --- 1. a node crashes in the middle of a live migration ---------------------------------

def test_target_crashes_mid_migration(cluster: LabCluster) -> None:
    new_running(cluster, "mig1", "node2")
    job = submit_job(cluster, "gnt-instance migrate -f -n node3 mig1")
    wait_domain(cluster, "node3", "mig1")          # the incoming domain exists: mid-transfer
    cluster.lab.kill_node("node3")
    status, info = wait_job(cluster, job)
    assert status == "error", info
    assert "mig1" in info and "node2.lab.example" in info, info
    # the config says where the instance really is: still running on node2
    result = info[info.index("Result:"):]
    assert "node3.lab.example" in result or cluster.lab.node("node3").address in result, info
    assert cluster.instance_node("mig1") == "node2"
    assert host_domains(cluster, "node2").get("mig1") == "running"
    # verify names the dead node
    code, lines = verify_lines(cluster)
    assert code != 0 and any("ERROR" in ln and "node3.lab.example" in ln for ln in lines), lines
    # node3 is down: offline it; verify does not crash and only notes it
    cluster.gnt("gnt-node modify -O yes node3")
    code, lines = verify_lines(cluster)
    assert any("NOTICE" in ln and "node3.lab.example" in ln and "offline" in ln
               for ln in lines), lines
    assert code == 0 and not [ln for ln in lines if "ERROR" in ln], lines
    # node3 reboots and comes back online
    cluster.lab.start_node("node3")
    cluster.gnt("gnt-node modify -O no node3")
    assert "mig1" not in host_domains(cluster, "node3")
    assert_candidates_agree(cluster)
    assert_verify_clean(cluster)


def test_source_crashes_mid_migration(cluster: LabCluster) -> None:
    """node3 (running only mig2) dies while mig2 moves to node2."""
    new_running(cluster, "mig2", "node3")
    job = submit_job(cluster, "gnt-instance migrate -f -n node2 mig2")
    wait_domain(cluster, "node2", "mig2")
    cluster.lab.kill_node("node3")
    status, info = wait_job(cluster, job)
    where = running_on(cluster, "mig2")
    primary = cluster.instance_node("mig2")
    print(f"FAULTINFO source crash: job {status}, running on {where}, primary {primary}\n"
          f"{info[-1500:]}")
    if status == "success":
        # the transfer finished before the source died: the instance lives on node2
        assert where == ["node2"] and primary == "node2", (where, primary, info)
    else:
        assert "mig2" in info and "node3.lab.example" in info, info
        if where:
            assert primary == where[0], (where, primary, info)
    # the incoming (paused) copy on node2 died with the source: the job must not report
    # the instance as being on node2 (checked last, so that the recovery is tested too)
    SEEN["source_crash"] = (status, where, info)
    # before the source is back, verify names the dead node
    code, lines = verify_lines(cluster)
    assert code != 0 and any("node3.lab.example" in ln and "ERROR" in ln for ln in lines), lines
    cluster.lab.start_node("node3")
    if not where:
        # the instance died with its source: verify says it is not running where it should
        code, lines = verify_lines(cluster)
        assert code != 0 and any("mig2" in ln and "not running" in ln for ln in lines), lines
    cluster.gnt("gnt-instance migrate -f --cleanup mig2")
    where = running_on(cluster, "mig2")
    if where:
        assert cluster.instance_node("mig2") == where[0]
    else:
        cluster.gnt("gnt-instance startup mig2")
        assert running_on(cluster, "mig2") == [cluster.instance_node("mig2")]
        cluster.gnt("gnt-instance migrate -f --cleanup mig2")   # drops stale definitions
    primary = cluster.instance_node("mig2")
    defined = [n for n in ("node1", "node2", "node3") if "mig2" in host_domains(cluster, n)]
    assert defined == [primary], defined
    assert_candidates_agree(cluster)
    assert_verify_clean(cluster)


def test_source_crash_job_error_is_truthful() -> None:
    status, where, info = seen("source_crash")
    assert not (status == "error" and not where and "the instance is now on node2" in info), \
        f"job claims mig2 is on node2, but it ran nowhere:\n{info}"


# --- 4. unreachable nodes (link down, node alive) -----------------------------------------

def link(cluster: LabCluster, node: str, state: str) -> None:
    nsenter(cluster, node, ["ip", "link", "set", "eth0", state])


def test_add_unreachable_node(cluster: LabCluster) -> None:
    before = cluster.config_bytes("node1")
    address = cluster.lab.node("node4").address
    link(cluster, "node4", "down")
    try:
        proc = cluster.gnt("gnt-node add node4", check=False)
    finally:
        link(cluster, "node4", "up")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "node4.lab.example" in out and address in out and "reachable" in out, out
    assert cluster.config_bytes("node1") == before
    assert "node4" not in cluster.ssconf("node1", "node_list")


def test_migrate_to_unreachable_node(cluster: LabCluster) -> None:
    new_running(cluster, "mig3", "node2")
    before = cluster.config_bytes("node1")
    link(cluster, "node3", "down")
    try:
        proc = cluster.gnt("gnt-instance migrate -f -n node3 mig3", check=False)
        failover = cluster.gnt("gnt-instance failover -f -n node3 mig3", check=False)
    finally:
        link(cluster, "node3", "up")
    for p in (proc, failover):
        out = p.stdout + p.stderr
        assert p.returncode != 0, out
        assert "node3.lab.example" in out and "Traceback" not in out, out
    SEEN["unreachable_target"] = [p.stdout + p.stderr for p in (proc, failover)]
    assert cluster.config_bytes("node1") == before
    assert cluster.instance_node("mig3") == "node2"
    assert running_on(cluster, "mig3") == ["node2"]
    assert_verify_clean(cluster)


def test_source_unreachable_mid_migration(cluster: LabCluster) -> None:
    """node2's link goes down while mig4 moves from it to node3: the migration is aborted,
    mig4 keeps running on node2 and the config says so."""
    new_running(cluster, "mig4", "node2")
    before = cluster.config("node1")
    job = submit_job(cluster, "gnt-instance migrate -f -n node3 mig4")
    wait_domain(cluster, "node3", "mig4")
    link(cluster, "node2", "down")
    try:
        status, info = wait_job(cluster, job)
    finally:
        link(cluster, "node2", "up")
    assert status == "error" and "mig4" in info and "node2.lab.example" in info, info
    assert running_on(cluster, "mig4") == ["node2"]
    assert cluster.instance_node("mig4") == "node2"
    assert cluster.config("node1")["instances"] == before["instances"]
    assert "mig4" not in host_domains(cluster, "node3")
    assert_verify_clean(cluster)
    SEEN["unreachable_source"] = info


def test_unreachable_target_error_names_the_cause() -> None:
    for out in seen("unreachable_target"):
        assert any(word in out for word in ("reach", "answer", "timed out", "connect")), \
            f"no cause in:\n{out}"


def test_unreachable_source_job_error_is_coherent() -> None:
    info = seen("unreachable_source")
    assert "now on no node" not in info, f"garbled location in the job error:\n{info}"


# --- 2. the new node crashes in the middle of gnt-node add --------------------------------

def test_new_node_crashes_mid_add(cluster: LabCluster) -> None:
    before = cluster.config_bytes("node1")
    job = submit_job(cluster, "gnt-node add node4")
    wait_job_log(cluster, job, "Install the warm module interpreter")   # node_prepare runs
    time.sleep(0.5)
    cluster.lab.kill_node("node4")
    status, info = wait_job(cluster, job)
    assert status == "error" and "node4.lab.example" in info, info
    assert cluster.config_bytes("node1") == before
    for node in ("node1", "node2", "node3"):
        assert "node4" not in cluster.ssconf(node, "node_list"), node
    cluster.lab.start_node("node4")
    proc = cluster.gnt("gnt-node add node4", check=False)
    assert proc.returncode == 0, f"re-adding node4 after the crash failed:\n{proc.stdout}" \
                                 f"{proc.stderr}"
    assert "node4.lab.example" in cluster.ssconf("node1", "node_list")
    assert_candidates_agree(cluster)
    assert_verify_clean(cluster)


# --- 3. the master daemon dies in the middle of a job -------------------------------------

@pytest.mark.parametrize("how", ["kill -9", "gnt-masterd stop"])
def test_master_daemon_killed_mid_job(cluster: LabCluster, how: str) -> None:
    job = submit_job(cluster, "gnt-debug delay 20")
    deadline = time.monotonic() + 30
    while job_field(cluster, job, "status")[0] != "running":
        assert time.monotonic() < deadline, "the delay job never ran"
        time.sleep(0.2)
    if how == "kill -9":
        cluster.run("node1", "kill -9 $(cat $GNT_ROOT/var/run/gnt/gnt-masterd.pid)")
    else:
        t0 = time.monotonic()
        cluster.run("node1", "gnt-masterd stop")
        assert time.monotonic() - t0 < 15, "gnt-masterd stop waited for the running job"
    down = cluster.gnt("gnt-job list", check=False)
    assert down.returncode != 0
    cluster.gnt("gnt-masterd start")
    status, info = wait_job(cluster, job, timeout=60)
    assert status == "error" and "master daemon restarted" in info, info
    assert_candidates_agree(cluster)
    assert_verify_clean(cluster)
    # the restarted daemon runs jobs again
    cluster.gnt("gnt-debug delay 0.1")


# --- 5. verify reports what is wrong ------------------------------------------------------

def shared_disk_path(cluster: LabCluster, instance: str) -> str:
    cfg = cluster.config()
    inst = next(i for i in cfg["instances"].values() if i["name"] == instance)
    disk = cfg["disks"][inst["disks"][0]]
    return str(disk["logical_id"][1])


def test_verify_reports_missing_disk(cluster: LabCluster) -> None:
    path = shared_disk_path(cluster, "mig3")
    cluster.run("node1", f"mv {path} {path}.moved")
    try:
        code, lines = verify_lines(cluster)
    finally:
        cluster.run("node1", f"mv {path}.moved {path}")
    assert code != 0, lines
    assert any("ERROR" in ln and path in ln and "missing" in ln for ln in lines), lines
    assert any("WARNING" in ln and f"{path}.moved" in ln for ln in lines), lines
    assert_verify_clean(cluster)


STRAY_XML = ("<domain type='qemu'><name>stray1</name><memory unit='MiB'>32</memory>"
             "<os><type arch='x86_64'>hvm</type></os></domain>")


def test_verify_reports_stray_domain(cluster: LabCluster) -> None:
    cluster.run("node3", f"echo \"{STRAY_XML}\" > /tmp/stray1.xml &&"
                " virsh -q -c qemu:///system create /tmp/stray1.xml")
    try:
        code, lines = verify_lines(cluster)
    finally:
        cluster.run("node3", "virsh -q -c qemu:///system destroy stray1")
    assert any("WARNING" in ln and "stray1" in ln and "node3.lab.example" in ln
               for ln in lines), lines
    assert not [ln for ln in lines if "ERROR" in ln], lines
    assert_verify_clean(cluster)


def test_verify_reports_bad_ssconf_and_redist_conf_fixes_it(cluster: LabCluster) -> None:
    path = cluster.root_on_host("node3") / "var/lib/gnt/ssconf_master_node"
    path.write_text("node2.lab.example\n")
    code, lines = verify_lines(cluster)
    assert code != 0, lines
    assert any("ERROR" in ln and "node3.lab.example" in ln and "node2.lab.example" in ln
               for ln in lines), lines
    cluster.gnt("gnt-cluster redist-conf")
    assert path.read_text().strip() == "node1.lab.example"
    assert_verify_clean(cluster)


# --- 6. the master node crashes: fail the master role over to a candidate ----------------

def test_master_node_crashes(cluster: LabCluster) -> None:
    """node1 dies; node2 takes the master role (the others vote); node1 reboots, gets
    the new config with redist-conf and no longer believes it is the master. Runs last: the
    master moves."""
    members = sorted(n["name"].split(".")[0] for n in cluster.config()["nodes"].values())
    cluster.lab.kill_node("node1")
    proc = cluster.gnt("gnt-cluster master-failover", node="node2")
    assert "node2.lab.example" in proc.stdout + proc.stderr
    for node in members[1:]:
        assert cluster.gnt("gnt-cluster getmaster", node=node).stdout.strip() \
            == "node2.lab.example", node
    code, lines = verify_lines(cluster, node="node2")
    assert code != 0 and any("ERROR" in ln and "node1.lab.example" in ln for ln in lines), lines
    listed = cluster.gnt("gnt-instance list --no-headers -o name", node="node2").stdout.split()
    assert sorted(listed) == sorted(i["name"] for i in cluster.config("node2")
                                    ["instances"].values())
    cluster.lab.start_node("node1")
    # the old master must not act as master: its config is older than the new master's
    proc = cluster.gnt("gnt-instance list", node="node1", check=False)
    assert proc.returncode != 0, proc.stdout
    cluster.gnt("gnt-cluster redist-conf", node="node2")
    assert cluster.ssconf("node1", "master_node").strip() == "node2.lab.example"
    proc = cluster.gnt("gnt-instance list", node="node1", check=False)
    assert proc.returncode != 0 and "the master is node2.lab.example" in proc.stdout + \
        proc.stderr, proc.stdout + proc.stderr
    assert_candidates_agree(cluster)
    code, lines = verify_lines(cluster, node="node2")
    problems = [ln for ln in lines if "ERROR" in ln or "WARNING" in ln]
    assert code == 0 and not problems, lines
