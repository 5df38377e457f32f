"""move-instance between two real clusters in one lab (issue 15): cluster A on node1, cluster
B on node2 (its own name and master IP), both with a RAPI users file and the same cluster
domain secret. The tool runs on node1 and talks to both clusters only through their RAPIs,
trusting each one's RAPI certificate (only the certificate, as the seed recommends).

A stopped instance moves: its disk arrives identical (checksums), it boots on cluster B, the
source is gone. A running instance moves with a rename (the OS rename script runs) and runs on
cluster B. A move whose TLS sender (or receiver) is SIGKILLed while the disk streams fails
with both clusters consistent: the source intact and running again, nothing of it on cluster
B, no job left running; the same move then succeeds. Then a move whose domain secrets differ
is refused with nothing created or removed on either cluster.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    MIGRATION_URI,
    LabCluster,
    lab_dir_for,
    lab_marks,
    stop_cluster,
)
from lab import Lab, labconf

pytestmark = lab_marks(pytest.mark.timeout(1200))

USERS = "admin {cleartext}adminpw write\n"
SRC_VM, RUNNING_VM, DEST_VM = "inst5.lab.example", "inst6.lab.example", "inst7.lab.example"
OTHER_VM = "inst8.lab.example"
SHARED_VM = "inst11.lab.example"
PAIR = ("inst9.lab.example", "inst10.lab.example")
CLUSTER_B = "cluster2.lab.example"
KILL_VMS = ("inst12.lab.example", "inst13.lab.example")


def _init(lc: LabCluster, node: str, name: str, options: str = "") -> None:
    """``gnt-cluster init`` of cluster ``name`` on ``node`` (with ``options``) and a RAPI
    users file with the write user ``admin``."""
    lc.run(node, "gnt-cluster init --master-netdev eth0 --node-parameters"
                 f" {shlex.quote('migration_uri=' + MIGRATION_URI)} {options} {name}")
    lc.run(node, "umask 077 && mkdir -p $GNT_ROOT/var/lib/gnt/rapi && printf"
                 f" '{USERS}' > $GNT_ROOT/var/lib/gnt/rapi/users")


def _cert_only(lc: LabCluster, node: str, target: Path) -> str:
    """The node's RAPI certificate without its key, in a file on node1 (as the host sees
    node1's root); the path inside node1."""
    pem = (lc.root_on_host(node) / "var/lib/gnt/rapi.pem").read_text()
    cert = pem[pem.index("-----BEGIN CERTIFICATE-----"):]
    on_host = lc.root_on_host("node1") / target
    on_host.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    on_host.write_text(cert)
    return str(target)


def start_two_clusters(lab_dir: str) -> LabCluster:
    """A 2-node lab with cluster A on node1 and cluster B on node2 sharing A's domain
    secret (also used by bench/bench_move_instance.py); take it down with stop_cluster."""
    lab = Lab(lab_dir)
    if lab.is_up():
        lab.down()
    lab.up(2)
    cluster = LabCluster(lab, ["node1", "node2"])
    try:
        init_two_clusters(cluster)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def init_two_clusters(cluster: LabCluster, a_options: str = "",
                      a_nodes: tuple[str, ...] = ()) -> None:
    """Cluster A on node1 (``gnt-cluster init`` with ``a_options``, then ``a_nodes`` added)
    and cluster B on node2 under its own name and a spare address (``cluster.b_address``),
    B taking A's cluster domain secret."""
    b_address = labconf.SlotLayout(cluster.lab.slot).instance_address(20)   # a spare address
    cluster.run("node2", f"echo '{b_address} {CLUSTER_B} cluster2' >> /etc/hosts")
    _init(cluster, "node1", "cluster.lab.example", a_options)
    for node in a_nodes:
        cluster.gnt(f"gnt-node add {node}")
    _init(cluster, "node2", CLUSTER_B)
    secret = cluster.root_on_host("node1") / "var/lib/gnt/cluster-domain-secret"
    copy = cluster.root_on_host("node2") / "var/lib/gnt/cds-from-a"
    copy.write_text(secret.read_text())
    copy.chmod(0o600)
    cluster.run("node2", "gnt-cluster renew-crypto --force"
                         " --cluster-domain-secret=$GNT_ROOT/var/lib/gnt/cds-from-a")
    cluster.b_address = b_address  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    cluster = start_two_clusters(lab_dir_for("move"))
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def _move(lc: LabCluster, instance: str, *options: str, check: bool = True,
          credentials: bool = True):
    """move-instance from cluster A to B on node1 (as the RAPI's admin user unless not
    ``credentials``); its CompletedProcess."""
    command = _move_command(lc, instance, *options, credentials=credentials)
    return lc.run("node1", command, check=check, timeout=900)


def _move_command(lc: LabCluster, instance: str, *options: str,
                  credentials: bool = True) -> str:
    """The move-instance command line (run on node1) of :func:`_move`."""
    a_ca = _cert_only(lc, "node1", Path("var/lib/gnt/move/a.pem"))
    b_ca = _cert_only(lc, "node2", Path("var/lib/gnt/move/b.pem"))
    pw = lc.root_on_host("node1") / "var/lib/gnt/move/pw"
    pw.write_text("adminpw\n")
    pw.chmod(0o600)
    root = "$GNT_ROOT/"
    a_address = lc.ssconf("node1", "master_ip").strip()
    login = (f" --src-username admin --src-password-file {root}var/lib/gnt/move/pw"
             if credentials else "")
    command = (f"python3 -m gnt.cli.move_instance -v --src-ca-file {root}{a_ca}"
               f" --dest-ca-file {root}{b_ca}{login} {' '.join(options)}"
               f" {a_address} {lc.b_address} {instance}")  # type: ignore[attr-defined]
    return command


def _disk(lc: LabCluster, node: str, name: str) -> Path:
    return lc.root_on_host(node) / "srv/gnt/file-storage" / name / "disk0"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _instances(lc: LabCluster, node: str) -> list[str]:
    return sorted(i["name"] for i in lc.config(node)["instances"].values())


def _wait_rapi(lc: LabCluster) -> None:
    """Wait until both RAPIs made their certificates (they start after the init)."""
    for node in ("node1", "node2"):
        deadline = time.monotonic() + 60
        while not (lc.root_on_host(node) / "var/lib/gnt/rapi.pem").exists():
            assert time.monotonic() < deadline
            time.sleep(0.5)


def test_move_keeps_the_data(lc: LabCluster) -> None:
    _wait_rapi(lc)
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=64M -n node1 {SRC_VM}")
    lc.wait_console("node1", SRC_VM, BOOT_MARKER)
    lc.gnt(f"gnt-instance shutdown --timeout=60 {SRC_VM}")
    before = _sha(_disk(lc, "node1", SRC_VM))
    proc = _move(lc, SRC_VM, "--compress", "gzip")
    assert f"{SRC_VM}: success" in proc.stdout, proc.stdout + proc.stderr
    assert _instances(lc, "node1") == []
    assert _instances(lc, "node2") == [SRC_VM]
    assert _sha(_disk(lc, "node2", SRC_VM)) == before
    assert not any(list((lc.root_on_host(n) / "var/run/gnt/crypto").glob("x509-*"))
                   for n in ("node1", "node2"))
    lc.gnt(f"gnt-instance startup {SRC_VM}", node="node2")
    lc.wait_console("node2", SRC_VM, BOOT_MARKER)


def test_running_instance_moves_with_rename_and_boots(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=64M -n node1 {RUNNING_VM}")
    lc.wait_console("node1", RUNNING_VM, BOOT_MARKER)
    proc = _move(lc, RUNNING_VM, "--dest-instance-name", DEST_VM)
    assert f"{RUNNING_VM}: success" in proc.stdout, proc.stdout + proc.stderr
    assert _instances(lc, "node1") == []
    assert _instances(lc, "node2") == sorted([SRC_VM, DEST_VM])
    assert lc.config("node2")["instances"] and any(
        i["name"] == DEST_VM and i["admin_state"] == "up"
        for i in lc.config("node2")["instances"].values())
    lc.wait_console("node2", DEST_VM, BOOT_MARKER)      # started by the import, renamed


def test_parallel_moves_keeping_the_sources(lc: LabCluster) -> None:
    for name in PAIR:
        lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=32M -n node1 {name}")
    for name in PAIR:
        lc.wait_console("node1", name, BOOT_MARKER)
    proc = _move(lc, " ".join(PAIR), "--parallel", "2", "--keep-source-instance")
    for name in PAIR:
        assert f"{name}: success" in proc.stdout, proc.stdout + proc.stderr
    assert _instances(lc, "node1") == sorted(PAIR)
    assert set(PAIR) <= set(_instances(lc, "node2"))
    states = {i["name"]: i["admin_state"] for i in lc.config("node1")["instances"].values()}
    assert states == {name: "up" for name in PAIR}        # restarted after the export
    for name in PAIR:   # just started there, still booting: no ACPI wait (Ganeti's 2 min)
        lc.gnt(f"gnt-instance remove -f --shutdown-timeout=0 {name}", node="node2")


def test_read_only_user_refused_changing_nothing(lc: LabCluster) -> None:
    lc.run("node2", "printf 'reader {cleartext}readerpw read\\n' >> $GNT_ROOT/var/lib/gnt/rapi/users")
    pw = lc.root_on_host("node1") / "var/lib/gnt/move/pw-reader"
    pw.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pw.write_text("readerpw\n")
    pw.chmod(0o600)
    before = (_instances(lc, "node1"), _instances(lc, "node2"))
    proc = _move(lc, PAIR[0], "--dest-username", "reader", "--dest-password-file",
                 "$GNT_ROOT/var/lib/gnt/move/pw-reader", check=False)
    assert proc.returncode == 1
    assert "403" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert (_instances(lc, "node1"), _instances(lc, "node2")) == before
    states = {i["name"]: i["admin_state"] for i in lc.config("node1")["instances"].values()}
    assert states[PAIR[0]] == "up"


def test_disk_template_changes_during_the_move(lc: LabCluster) -> None:
    """``--dest-disk-template``: a file instance of A arrives on B as a sharedfile one, its
    disk in B's shared file storage with the same content."""
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=32M -n node1 --no-start"
           f" {SHARED_VM}")
    before = _sha(_disk(lc, "node1", SHARED_VM))
    proc = _move(lc, SHARED_VM, "--dest-disk-template", "sharedfile")
    assert f"{SHARED_VM}: success" in proc.stdout, proc.stdout + proc.stderr
    assert SHARED_VM not in _instances(lc, "node1")
    moved = next(i for i in lc.config("node2")["instances"].values()
                 if i["name"] == SHARED_VM)
    assert moved["disk_template"] == "sharedfile"
    shared = lc.root_on_host("node2") / "srv/gnt/shared-file-storage" / SHARED_VM / "disk0"
    assert _sha(shared) == before
    assert not _disk(lc, "node2", SHARED_VM).exists()
    lc.gnt(f"gnt-instance remove -f {SHARED_VM}", node="node2")


def test_missing_credentials_refused_changing_nothing(lc: LabCluster) -> None:
    """No user or password given: the first change asked of a RAPI is refused (401) and
    neither cluster changes."""
    before = (_instances(lc, "node1"), _instances(lc, "node2"))
    proc = _move(lc, PAIR[1], check=False, credentials=False)
    assert proc.returncode == 1
    assert "401" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert (_instances(lc, "node1"), _instances(lc, "node2")) == before
    states = {i["name"]: i["admin_state"] for i in lc.config("node1")["instances"].values()}
    assert states[PAIR[1]] == "up"


# -- a transfer killed mid-stream ----------------------------------------------------------
FINISHED = ("success", "error", "canceled")
# the streaming process of a move (tls_stream's program, run as ``python -c PROGRAM MODE``)
FIND_STREAM = (
    "import os, sys\n"
    "mine = {str(os.getpid()), str(os.getppid())}\n"
    "for pid in set(filter(str.isdigit, os.listdir('/proc'))) - mine:\n"
    "    try:\n"
    "        argv = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\\0')\n"
    "    except OSError:\n"
    "        continue\n"
    "    if len(argv) > 3 and argv[1] == b'-c' and b'gnt-tls-stream' in argv[2]"
    " and argv[3] == sys.argv[1].encode():\n"
    "        print(pid)\n")


def _stream_pids(lc: LabCluster, node: str, mode: str) -> list[int]:
    """PIDs (in ``node``'s PID namespace) of the TLS ``send`` or ``receive`` processes."""
    out = lc.run(node, f"python3 -c {shlex.quote(FIND_STREAM)} {mode}").stdout
    return [int(pid) for pid in out.split()]


def _received(lc: LabCluster) -> int:
    """Bytes B's receiver of disk 0 reported so far (0 before it got any)."""
    crypto = lc.root_on_host("node2") / "var/run/gnt/crypto"
    for progress in crypto.glob("x509-*/receive/disk0.progress"):
        try:
            return int(progress.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0
    return 0


def _jobs(lc: LabCluster, node: str) -> dict[int, tuple[str, str]]:
    """id -> (status, summary) of every job of the cluster whose master is ``node``."""
    out = lc.gnt("gnt-job list --no-headers --separator '|' -o id,status,summary",
                 node=node).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, status, summary = (line.split("|", 2) + ["", ""])[:3]
        jobs[int(job_id)] = (status, summary)
    return jobs


def _settled_jobs(lc: LabCluster, node: str, since: set[int],
                  timeout: float = 240) -> dict[int, tuple[str, str]]:
    """The jobs of ``node``'s cluster not in ``since``, once none of them is queued,
    waiting or running (AssertionError naming them after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        new = {i: job for i, job in _jobs(lc, node).items() if i not in since}
        busy = {i: job for i, job in new.items() if job[0] not in FINISHED}
        if not busy:
            return new
        assert time.monotonic() < deadline, f"jobs still unfinished on {node}: {busy}"
        time.sleep(1)


def _fill_random(path: Path, start_mib: int) -> None:
    """Random data from ``start_mib`` MiB to the end of the (stopped) disk ``path``:
    incompressible, so that a compressed stream of it takes seconds."""
    size = path.stat().st_size
    with path.open("r+b") as disk:
        disk.seek(start_mib << 20)
        for _mib in range(start_mib, size >> 20):
            disk.write(os.urandom(1 << 20))


def _kill_mid_stream(lc: LabCluster, name: str, node: str, mode: str
                     ) -> tuple[subprocess.CompletedProcess[str], int]:
    """Start moving ``name`` (gzip), SIGKILL the ``mode`` stream process on ``node`` once B's
    receiver got bytes; the finished move and the bytes received when it was killed."""
    argv = lc.lab.node("node1").ssh_argv(_move_command(lc, name, "--compress", "gzip"))
    mover = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while (got := _received(lc)) == 0:
            assert mover.poll() is None, "the move ended before a byte arrived: " + \
                "".join(mover.communicate())
            assert time.monotonic() < deadline, "no byte arrived on B within 300 s"
            time.sleep(0.1)
        pids = _stream_pids(lc, node, mode)
        assert len(pids) == 1, f"{mode} processes on {node}: {pids}"
        lc.run(node, f"kill -KILL {pids[0]}")
        out, err = mover.communicate(timeout=600)
    finally:
        if mover.poll() is None:
            mover.kill()
            mover.wait()
    return subprocess.CompletedProcess(argv, mover.returncode, out, err), got


def _keys(lc: LabCluster, node: str) -> set[str]:
    """The per-move X509 key directories on ``node``."""
    return {p.name for p in (lc.root_on_host(node) / "var/run/gnt/crypto").glob("x509-*")}


def _wait_boots(lc: LabCluster, name: str, count: int, timeout: float = 180) -> None:
    """Wait until ``name``'s console log on node1 (appended to at each start) shows
    ``count`` boot markers."""
    deadline = time.monotonic() + timeout
    while lc.console("node1", name).count(BOOT_MARKER) < count:
        assert time.monotonic() < deadline, f"{name} did not boot again within {timeout} s"
        time.sleep(0.5)


def _check_killed_move(lc: LabCluster, name: str, node: str, mode: str) -> None:
    """A running instance with an incompressible disk; its move is killed mid-stream (the
    ``mode`` process on ``node``): both clusters consistent, the source intact and running,
    and a second move of it succeeds."""
    _wait_rapi(lc)
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=256M -n node1 --no-start"
           f" {name}")
    _fill_random(_disk(lc, "node1", name), 32)      # past the tinylinux image
    before = _sha(_disk(lc, "node1", name))
    size = _disk(lc, "node1", name).stat().st_size
    lc.gnt(f"gnt-instance startup {name}")
    lc.wait_console("node1", name, BOOT_MARKER)
    jobs = {n: set(_jobs(lc, n)) for n in ("node1", "node2")}
    boots = lc.console("node1", name).count(BOOT_MARKER)
    keys = {n: _keys(lc, n) for n in ("node1", "node2")}
    proc, got = _kill_mid_stream(lc, name, node, mode)
    text = proc.stdout + proc.stderr
    assert 0 < got < size, got                          # killed while bytes flowed
    assert proc.returncode == 1, text
    assert f"{name}: failed: " in proc.stdout, text
    for cluster in ("node1", "node2"):
        new = _settled_jobs(lc, cluster, jobs[cluster])
        assert any(status == "error" for status, _summary in new.values()), (cluster, new)
    # the source: as it was, running again, same data
    inst = next(i for i in lc.config("node1")["instances"].values() if i["name"] == name)
    assert inst["admin_state"] == "up"
    assert lc.domains("node1").get(name) == "running"
    assert _sha(_disk(lc, "node1", name)) == before
    _wait_boots(lc, name, boots + 1)        # started again (and ready for the next shutdown)
    # the destination: no instance, no disk, no receiver left; this move's keys removed
    assert name not in _instances(lc, "node2")
    assert not (lc.root_on_host("node2") / "srv/gnt/file-storage" / name).exists()
    for cluster in ("node1", "node2"):
        assert _keys(lc, cluster) <= keys[cluster], (cluster, _keys(lc, cluster))
        assert _stream_pids(lc, cluster, "send") + _stream_pids(lc, cluster, "receive") == []
    # nothing left locked or half made: the same move again succeeds, same data
    again = _move(lc, name)
    assert f"{name}: success" in again.stdout, again.stdout + again.stderr
    assert name not in _instances(lc, "node1")
    assert _sha(_disk(lc, "node2", name)) == before
    lc.gnt(f"gnt-instance remove -f --shutdown-timeout=0 {name}", node="node2")


def test_sender_killed_mid_stream_leaves_both_clusters_consistent(lc: LabCluster) -> None:
    """The source node's TLS sender SIGKILLed while the disk streams."""
    _check_killed_move(lc, KILL_VMS[0], "node1", "send")


def test_receiver_killed_mid_stream_leaves_both_clusters_consistent(lc: LabCluster) -> None:
    """The destination node's TLS receiver SIGKILLed while the disk streams."""
    _check_killed_move(lc, KILL_VMS[1], "node2", "receive")


def test_different_domain_secret_refused_changing_nothing(lc: LabCluster) -> None:
    lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size=32M -n node1 --no-start"
           f" {OTHER_VM}")
    lc.run("node2", "gnt-cluster renew-crypto --force --new-cluster-domain-secret")
    proc = _move(lc, OTHER_VM, check=False)
    assert proc.returncode == 1
    assert "Hash didn't match, clusters don't share the same domain secret" in \
        proc.stdout + proc.stderr
    assert _instances(lc, "node1") == sorted([OTHER_VM, *PAIR])
    assert _instances(lc, "node2") == sorted([SRC_VM, DEST_VM])
