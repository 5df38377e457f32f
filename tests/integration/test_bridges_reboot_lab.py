"""The cluster's bridges come back when a node reboots, without ``gnt-node add --readd``
(issue 14): on a mixed lab (node1 a namespace node and the master, node2 a QEMU TCG guest
booted by systemd, added with ``gnt-node add``), node2 crashes (its QEMU killed) and boots
again (a real boot of the guest: 20-36 s on an idle machine); the bridge ``gnt-br0`` that
``gnt-node add`` made with ``ip link`` is there again, made by the boot unit node_prepare
wrote, and a diskless instance on it (NIC on ``gnt-br0``) starts. node1, not booted by systemd,
writes no unit (its /etc is the host's).
"""

from __future__ import annotations

import time

import pytest
from gnt_labcluster import LabCluster, lab_dir_for, start_cluster, stop_cluster
from gnt_storagelab import skip_reason
from lab import LabError

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
              pytest.mark.timeout(900)]

BRIDGE = "gnt-br0"          # the default NIC link
INST = "inst1"


def _bridge_up(lc: LabCluster, node: str) -> bool:
    """Whether ``BRIDGE`` is a bridge on ``node`` and up (its flags; no port: no carrier)."""
    out = lc.run(node, f"test -d /sys/class/net/{BRIDGE}/bridge && ip -o link show dev {BRIDGE}",
                 check=False)
    return out.returncode == 0 and ("<UP" in out.stdout or ",UP" in out.stdout)


def _boot_again(lc: LabCluster, node: str) -> None:
    """Boot the crashed guest again; once more if its QEMU could not lock its disk (seen here
    under load: the killed QEMU's lock outlived it a moment)."""
    try:
        lc.lab.start_node(node)
    except LabError as err:
        if "lock" not in str(err):
            raise
        time.sleep(3)
        lc.lab.start_node(node)


def test_guest_node_reboot_keeps_the_bridges_and_starts_instances() -> None:
    lc = start_cluster(lab_dir_for("bridges"), 1, add=1, guests=1,
                       init_options="--enabled-disk-templates diskless -H kvm:accel=tcg")
    try:
        wants = lc.run("node2", "ls /etc/systemd/system/multi-user.target.wants").stdout.split()
        [unit] = [name for name in wants if name.startswith("gnt-bridges-")]
        text = lc.run("node2", f"cat /etc/systemd/system/{unit}").stdout
        [start] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        assert start.endswith(f"' gnt-bridges {BRIDGE}"), text
        assert lc.run("node1", f"test -e /etc/systemd/system/{unit}", check=False).returncode == 1
        assert _bridge_up(lc, "node2")
        lc.gnt(f"gnt-instance add -t diskless --no-install --no-start -o tinylinux -n node2"
               f" -B memory=64M {INST}")
        [name] = [inst["name"] for inst in lc.config()["instances"].values()]

        lc.lab.kill_node("node2")
        _boot_again(lc, "node2")        # boots the guest again: the kernel forgot the bridge
        assert _bridge_up(lc, "node2"), lc.run("node2", f"ip -o link; systemctl status {unit}",
                                               check=False).stdout
        # made by the unit at boot (nothing else makes bridges on the node)
        assert lc.run("node2", f"systemctl is-active {unit}").stdout.strip() == "active"
        lc.gnt(f"gnt-instance startup {INST}")
        assert lc.domains("node2")[name] == "running"
    finally:
        stop_cluster(lc)
