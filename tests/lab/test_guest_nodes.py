"""Guest nodes of the lab (``Lab.up(n, kind="guest")``): two QEMU TCG guests running Debian 12's
cloud kernel, with the real LVM and DRBD the host kernel lacks.

Boots the guests once for the module (about a minute under TCG, the image is built first if it
is not cached: one to two minutes more). In file order: the nodes answer as lab nodes; an LV
and its snapshot; a DRBD 8.4 resource replicated between the guests with the primary switched;
the project's code runs inside a guest; a guest crash and reboot; ``down`` leaves nothing.

Needs root, /dev/net/tun, QEMU and virtiofsd (qemu-system-x86), qemu-img and, if the image is not
cached yet, debootstrap and network access to the Debian mirror; skipped with the reason
otherwise. Uses the slot of ``$GNT_LAB_SLOT`` (else 0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import guestconf
import labconf
import pytest
from guestimage import cached_image
from lab import Lab, default_slot
from labguest import REPO, VENV_BIN, native_python_base
from labnet import active_lab_dir, free_slots
from labproc import alive

pytestmark = pytest.mark.integration

VG = guestconf.DEFAULT_VG
SLOW = 120.0     # seconds for one command in a TCG guest that does real work


def _skip_reason() -> str | None:
    """Why guest nodes cannot run here, or None."""
    if os.geteuid() != 0:
        return "guest nodes need root (taps, bridge, virtiofsd)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices for the guests)"
    for tool in ("qemu-system-x86_64", "qemu-img", guestconf.VIRTIOFSD, "ssh", "ssh-keygen",
                 "ip", "unshare"):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt: qemu-system-x86 qemu-utils)"
    if cached_image() is None and not shutil.which("debootstrap"):
        return ("the guest image is not built and debootstrap is missing (apt: debootstrap; "
                "then `.venv/bin/python tests/lab/guestimage.py build`)")
    slot = default_slot()
    other = active_lab_dir(slot)
    if other is not None:
        return (f"another lab is up in slot {slot} in {other}; choose a free slot with "
                f"{labconf.SLOT_ENV}=K (free: {free_slots()})")
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """Two guest nodes in a fresh short directory, removed again."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab_dir = Path(tempfile.mkdtemp(prefix="gntgl-", dir="/tmp"))
    the_lab = Lab(lab_dir)
    try:
        the_lab.up(2, kind="guest", memory_mb=1280, data_gib=4)
        yield the_lab
    finally:
        the_lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)


def sh(lab: Lab, node: str, command: str, timeout: float = SLOW) -> str:
    """Run a shell command on a guest node; its stdout (fails the test on error)."""
    proc = lab.ssh(node, command, check=False, timeout=timeout)
    assert proc.returncode == 0, f"{node}: {command!r} failed ({proc.returncode}): " \
                                 f"{proc.stderr or proc.stdout}"
    return proc.stdout


def test_guest_nodes_answer_as_lab_nodes(lab: Lab) -> None:
    node1, node2 = lab.nodes
    assert node1.kind == "guest" and node1.netns == "" and node1.root_on_host == ""
    assert sh(lab, "node1", "hostname").strip() == "node1.lab.example"
    assert node2.address in sh(lab, "node2", "ip -4 -o addr show dev eth0")
    assert sh(lab, "node1", "cat /etc/hosts") == (lab.dir / "hosts").read_text()
    env = sh(lab, "node1", "echo $GNT_ROOT $GNT_LAB_NODE; command -v python3")
    assert env.split() == [node1.gnt_root, "node1", f"{VENV_BIN}/python3"]
    # node to node over SSH with the lab's configuration, as on namespace nodes
    assert sh(lab, "node1", "ssh node2 hostname").strip() == "node2.lab.example"
    assert sh(lab, "node2", f"vgs --noheadings -o vg_name {VG}").strip() == VG
    assert "6.1." in sh(lab, "node1", "uname -r")
    status = {s.name: s for s in lab.status()}
    assert all(s.init_alive and s.sshd and s.libvirtd for s in status.values()), status


def test_lvm_volume_and_snapshot(lab: Lab) -> None:
    script = f"""set -e
lvcreate -q -y -L 32m -n gltest {VG} >/dev/null
dd if=/dev/urandom of=/dev/{VG}/gltest bs=1M count=8 oflag=direct status=none
before=$(head -c 8M /dev/{VG}/gltest | sha256sum)
lvcreate -q -y -s -L 16m -n gltest-snap {VG}/gltest >/dev/null
dd if=/dev/zero of=/dev/{VG}/gltest bs=1M count=8 oflag=direct status=none
snap=$(head -c 8M /dev/{VG}/gltest-snap | sha256sum)
now=$(head -c 8M /dev/{VG}/gltest | sha256sum)
lvs --noheadings -o lv_name,origin {VG}
lvremove -q -y {VG}/gltest-snap {VG}/gltest >/dev/null
[ "$before" = "$snap" ] && [ "$before" != "$now" ] && echo SNAPSHOT-OK
"""
    out = sh(lab, "node1", script)
    assert "gltest-snap" in out and "SNAPSHOT-OK" in out, out


def drbd_resource(lab: Lab, name: str, lv: str, port: int = 7788) -> str:
    """A DRBD 8.4 resource (protocol C, internal meta data) on ``lv`` of node1 and node2."""
    hosts = "\n".join(f"  on {node.fqdn} {{\n    device /dev/drbd0;\n    disk /dev/{VG}/{lv};\n"
                      f"    address {node.address}:{port};\n    meta-disk internal;\n  }}"
                      for node in lab.nodes[:2])
    return f"resource {name} {{\n  net {{ protocol C; }}\n{hosts}\n}}\n"


def drbd_state(lab: Lab, node: str) -> str:
    return sh(lab, node, "cat /proc/drbd")


def test_drbd_replicates_between_guests(lab: Lab) -> None:
    res = drbd_resource(lab, "gltest", "gldrbd")
    setup = (f"set -e; lvcreate -q -y -L 64m -n gldrbd {VG} >/dev/null; "
             f"cat >/etc/drbd.d/gltest.res <<'EOF'\n{res}EOF\n"
             "yes yes | drbdadm create-md gltest >/dev/null 2>&1; drbdadm up gltest")
    teardown = ("drbdadm down gltest; rm -f /etc/drbd.d/gltest.res; "
                f"lvremove -q -y {VG}/gldrbd >/dev/null")
    try:
        for node in ("node1", "node2"):
            sh(lab, node, setup)
        sh(lab, "node1", "drbdadm primary --force gltest")
        deadline = time.monotonic() + SLOW
        while "ds:UpToDate/UpToDate" not in drbd_state(lab, "node1"):
            assert time.monotonic() < deadline, drbd_state(lab, "node1")
            time.sleep(1)
        assert "version: 8.4" in drbd_state(lab, "node1")
        assert "cs:Connected ro:Primary/Secondary" in drbd_state(lab, "node1")
        written = sh(lab, "node1", "dd if=/dev/urandom of=/dev/drbd0 bs=1M count=16 "
                                   "oflag=direct status=none && head -c 16M /dev/drbd0 | "
                                   "sha256sum").split()[0]
        sh(lab, "node1", "drbdadm secondary gltest")
        sh(lab, "node2", "drbdadm primary gltest")
        assert "ro:Primary/Secondary" in drbd_state(lab, "node2")
        read = sh(lab, "node2", "head -c 16M /dev/drbd0 | sha256sum").split()[0]
        assert read == written
    finally:
        for node in ("node1", "node2"):
            lab.ssh(node, teardown, check=False, timeout=SLOW)


def test_project_code_runs_in_guest(lab: Lab) -> None:
    out = sh(lab, "node1", "gnt-cluster version && python3 -c "
                           "'import gnt, libvirt, sys; print(gnt.__file__, sys.prefix)'")
    assert "Software version:" in out
    assert f"{REPO}/runner/gnt/__init__.py" in out
    # the venv runs on the guest's own Python when the host's is of the same X.Y
    native = native_python_base()
    if native is not None:
        real = sh(lab, "node1", f"{VENV_BIN}/python3 -c 'import os, sys; "
                                "print(os.path.realpath(sys.executable), sys.base_prefix)'")
        assert real.split() == [f"/usr/bin/python{native[1]}", native[0]], real
    # the node-side interpreter of Ansible modules has what module_utils import
    sh(lab, "node1", "/usr/bin/python3 -c 'import libvirt, jinja2, yaml'")
    # the code share is read-only
    proc = lab.ssh("node1", f"touch {REPO}/gl-write-probe", check=False)
    assert proc.returncode != 0
    assert not (REPO / "gl-write-probe").exists()


def test_kill_and_start_guest_node(lab: Lab) -> None:
    sh(lab, "node2", f"echo kept >$GNT_ROOT/gl-probe && lvcreate -q -y -L 8m -n glkeep {VG} "
                     ">/dev/null && sync")
    qemu_pid = lab.node("node2").init_pid
    lab.kill_node("node2")
    assert not alive(qemu_pid, None)
    status = {s.name: s for s in lab.status()}
    assert not status["node2"].init_alive and not status["node2"].sshd
    assert status["node1"].init_alive and status["node1"].sshd
    node2 = lab.start_node("node2")
    assert node2.init_pid != qemu_pid
    assert sh(lab, "node2", "cat $GNT_ROOT/gl-probe").strip() == "kept"
    assert "glkeep" in sh(lab, "node2", f"lvs --noheadings -o lv_name {VG}")
    sh(lab, "node2", f"lvremove -q -y {VG}/glkeep >/dev/null")


def test_down_leaves_nothing(lab: Lab) -> None:
    pids = [node.init_pid for node in lab.nodes]
    taps = [guestconf.tap(labconf.NodeLayout(i, lab.dir, lab.slot)) for i in (1, 2)]
    bridge = lab.net.bridge
    lab.down()
    assert not any(alive(pid, None) for pid in pids)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    assert not any(f": {name}:" in links for name in [*taps, bridge]), links
    assert not lab.dir.exists() or not any(lab.dir.iterdir())
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(lab.dir) not in ps
