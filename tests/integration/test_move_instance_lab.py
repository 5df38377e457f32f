"""move-instance between two real clusters in one lab (issue 15): cluster A on node1, cluster
B on node2 (its own name and master IP), both with a RAPI users file and the same cluster
domain secret. The tool runs on node1 and talks to both clusters only through their RAPIs,
trusting each one's RAPI certificate (only the certificate, as the seed recommends).

A stopped instance moves: its disk arrives identical (checksums), it boots on cluster B, the
source is gone. A running instance moves with a rename (the OS rename script runs) and runs on
cluster B. Then a move whose domain secrets differ is refused with nothing created or
removed on either cluster.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from pathlib import Path

import pytest
from gnt_labcluster import (
    BOOT_MARKER,
    MIGRATION_URI,
    LabCluster,
    lab_dir_for,
    lab_skip_reason,
    stop_cluster,
)
from lab import Lab, labconf

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(lab_skip_reason() is not None, reason=lab_skip_reason() or ""),
              pytest.mark.timeout(1200)]

USERS = "admin {cleartext}adminpw write\n"
SRC_VM, RUNNING_VM, DEST_VM = "inst5.lab.example", "inst6.lab.example", "inst7.lab.example"
OTHER_VM = "inst8.lab.example"
SHARED_VM = "inst11.lab.example"
PAIR = ("inst9.lab.example", "inst10.lab.example")
CLUSTER_B = "cluster2.lab.example"


def _init(lc: LabCluster, node: str, name: str) -> None:
    lc.run(node, "gnt-cluster init --master-netdev eth0 --node-parameters"
                 f" {shlex.quote('migration_uri=' + MIGRATION_URI)} {name}")
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


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    lab = Lab(lab_dir_for("move"))
    if lab.is_up():
        lab.down()
    lab.up(2)
    cluster = LabCluster(lab, ["node1", "node2"])
    try:
        b_address = labconf.SlotLayout(lab.slot).instance_address(20)   # a spare address
        cluster.run("node2", f"echo '{b_address} {CLUSTER_B} cluster2' >> /etc/hosts")
        _init(cluster, "node1", "cluster.lab.example")
        _init(cluster, "node2", CLUSTER_B)
        secret = cluster.root_on_host("node1") / "var/lib/gnt/cluster-domain-secret"
        copy = cluster.root_on_host("node2") / "var/lib/gnt/cds-from-a"
        copy.write_text(secret.read_text())
        copy.chmod(0o600)
        cluster.run("node2", "gnt-cluster renew-crypto --force"
                             " --cluster-domain-secret=$GNT_ROOT/var/lib/gnt/cds-from-a")
        cluster.b_address = b_address  # type: ignore[attr-defined]
        yield cluster
    finally:
        stop_cluster(cluster)


def _move(lc: LabCluster, instance: str, *options: str, check: bool = True,
          credentials: bool = True):
    """move-instance from cluster A to B on node1 (as the RAPI's admin user unless not
    ``credentials``); its CompletedProcess."""
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
    return lc.run("node1", command, check=check, timeout=900)


def _disk(lc: LabCluster, node: str, name: str) -> Path:
    return lc.root_on_host(node) / "srv/gnt/file-storage" / name / "disk0"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _instances(lc: LabCluster, node: str) -> list[str]:
    return sorted(i["name"] for i in lc.config(node)["instances"].values())


def _wait_rapi(lc: LabCluster) -> None:
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
