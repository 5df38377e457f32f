"""``gnt-cluster verify``'s other Ganeti options through the real commands, master daemon and
nodes of a two-node lab cluster: ``--verify-ssh-clutter`` finds a node user's second key in a
real node's root ``authorized_keys`` (ENODESSH, exit 1) and nothing without the option;
``--node-group`` (an unknown group: Ganeti's error, exit 1; an empty group skipped; a group
without the cluster-wide checks), ``--no-hv-param-assessment`` and ``--debug-simulate-errors``
(every check of both nodes failed, exit 1).
Run: ``GNT_LAB_SLOT=3 .venv/bin/pytest -q tests/integration/test_verify_options_lab.py``
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks()
KEYS = "/root/.ssh/authorized_keys"
# two keys that are no one's (sshd skips a key it cannot use for a login)
FAKE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdudGxhYnRlc3RrZXlvbmx5X25vdF9hX3JlYWxfa2V5{}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LabCluster]:
    with running_cluster("vopts", 2, add=1) as c:
        c.gnt("gnt-group add rack2")
        yield c


def _verify(cluster: LabCluster, options: str = "") -> tuple[int, list[str], str]:
    """Exit code, the findings (from their ``- ``) and the whole output of
    ``gnt-cluster verify OPTIONS``."""
    proc = cluster.gnt(f"gnt-cluster verify {options}", check=False)
    output = proc.stdout + proc.stderr
    lines = [line.split("  - ", 1)[1] for line in output.splitlines()
             if "  - ERROR" in line or "  - WARNING" in line]
    return proc.returncode, lines, output


def test_ssh_clutter_in_a_nodes_authorized_keys(cluster: LabCluster) -> None:
    node2 = cluster.fqdn("node2")
    short = node2.split(".")[0]
    assert _verify(cluster, "--error-codes --verify-ssh-clutter")[:2] == (0, [])
    lines = "".join(f"'{FAKE.format(i)} root@{short}' " for i in (1, 2))
    total = int(cluster.run("node2", f"cp -p {KEYS} {KEYS}.orig && printf '%s\\n' {lines}"
                            f" >> {KEYS} && wc -l < {KEYS}").stdout)
    try:
        code, found, output = _verify(cluster, "--error-codes --verify-ssh-clutter")
        without = _verify(cluster, "--error-codes")
    finally:
        cluster.run("node2", f"mv {KEYS}.orig {KEYS}")
    assert code == 1, output
    [line] = found
    assert line.startswith(f"ERROR:ENODESSH:node:{node2}:root's authorized_keys"), line
    assert f"root@{short} on lines {total - 1}, {total}" in line
    assert without[:2] == (0, [])
    assert _verify(cluster, "--verify-ssh-clutter")[:2] == (0, [])


def test_node_group_options(cluster: LabCluster) -> None:
    proc = cluster.gnt("gnt-cluster verify --node-group nosuch", check=False)
    assert proc.returncode == 1
    assert "Node group 'nosuch' not found" in proc.stderr
    code, found, output = _verify(cluster, "-g rack2")
    assert (code, found) == (0, []) and "* Empty node group, skipping verification" in output
    code, found, output = _verify(cluster, "--node-group default --no-hv-param-assessment")
    assert (code, found) == (0, []), output
    assert "* Verifying group 'default'" in output
    assert "Verifying cluster config" not in output and "Assessing" not in output
    code, found, output = _verify(cluster)
    assert (code, found) == (0, []) and "* Assessing cluster hypervisor parameters" in output
    assert "  - kvm: cpu_type is empty" in output


def test_simulated_errors(cluster: LabCluster) -> None:
    code, found, output = _verify(cluster, "--error-codes --debug-simulate-errors")
    assert code == 1
    for node in ("node1", "node2"):
        for check in ("ENODERPC", "ENODEHV", "ENODEFILECHECK"):
            assert [line for line in found
                    if line.startswith(f"ERROR:{check}:node:{cluster.fqdn(node)}:")], output
    assert any(line.startswith("ERROR:ECLUSTERCFG:cluster:config:") for line in found)
