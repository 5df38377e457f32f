"""The multi-node lab: two nodes with their own host names, sshd and libvirtd; SSH between nodes;
domain isolation; live migration node1 -> node2 (diskless, and a booted guest on the shared
storage); a node crash and restart; and a complete clean-up.

Needs root with permission for ``ip netns`` and ``unshare``; skipped with the reason otherwise.
The tests share one lab (module fixture) and run in file order: the crash test comes last.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import labconf
import pytest
from lab import Lab, default_slot
from labnet import active_lab_dir, free_slots
from labproc import LabError, alive, mounts_under, processes_in, start_time

pytestmark = pytest.mark.integration

PROBE_NS = f"gntlab-probe{os.getpid()}"
TINYLINUX = Path("/var/cache/gnt/tinylinux")


def _skip_reason() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, mounts)"
    for tool in ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "/usr/sbin/sshd",
                 "/usr/sbin/libvirtd", "virsh"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not importable"
    slot = default_slot()
    other = active_lab_dir(slot)
    if other is not None:
        return (f"another lab is up in slot {slot} in {other} (bridge "
                f"{labconf.SlotLayout(slot).bridge} exists; choose a free slot with "
                f"{labconf.SLOT_ENV}=K, free: {free_slots()}, or "
                f"`.venv/bin/python tests/lab/lab.py down --dir {other}`)")
    add = subprocess.run(["ip", "netns", "add", PROBE_NS], capture_output=True, text=True, check=False)
    if add.returncode != 0:
        return f"`ip netns add` is not permitted here: {add.stderr.strip()}"
    try:
        probe = subprocess.run(
            ["ip", "netns", "exec", PROBE_NS, "unshare", "--mount", "--uts", "--pid", "--fork",
             "--mount-proc", "--propagation", "private", "hostname", "probe.lab.example"],
            capture_output=True, text=True, timeout=10, check=False)
        if probe.returncode != 0:
            return f"unshare of mount/UTS/PID namespaces is not permitted: {probe.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", PROBE_NS], capture_output=True, check=False)
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """A two-node lab in a fresh short directory (slot $GNT_LAB_SLOT or 0), removed again."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab_dir = Path(tempfile.mkdtemp(prefix="gntlab-", dir="/tmp"))
    the_lab = Lab(lab_dir)
    try:
        the_lab.up(2)
        yield the_lab
    finally:
        the_lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)


def _host_uuid(capabilities_xml: str) -> str:
    match = re.search(r"<host>\s*<uuid>([0-9a-f-]+)</uuid>", capabilities_xml)
    assert match, capabilities_xml[:500]
    return match.group(1)


def _purge_domain(name: str, *conns) -> None:
    """Destroy and undefine domain ``name`` wherever it is, then close the connections (a
    guest that powers off by itself meanwhile is not an error)."""
    import libvirt

    for conn in conns:
        for dom in conn.listAllDomains():
            if dom.name() == name:
                if dom.isActive():
                    try:
                        dom.destroy()
                    except libvirt.libvirtError:
                        if dom.isActive():
                            raise
                dom.undefine()
        conn.close()


def test_nodes_have_own_hostname_sshd_and_libvirtd(lab: Lab) -> None:
    uuids = set()
    for node in lab.nodes:
        out = lab.ssh(node.name, "hostname; echo $GNT_ROOT; virsh -c qemu:///system version; "
                                 "virsh -c qemu:///system capabilities").stdout
        hostname, gnt_root = out.splitlines()[:2]
        assert hostname == node.fqdn
        assert gnt_root == node.gnt_root == str(lab.gnt_root)     # the same path on every node
        assert Path(node.root_on_host) == lab.dir / node.name / "root"
        assert "Running hypervisor: QEMU" in out
        uuids.add(_host_uuid(out))
    host_caps = subprocess.run(["virsh", "-c", "qemu:///system", "capabilities"],
                               capture_output=True, text=True, check=True).stdout
    assert len(uuids) == 2, "each node's libvirtd must have its own host_uuid"
    assert _host_uuid(host_caps) not in uuids


def test_sessions_have_the_venv_first_on_path(lab: Lab) -> None:
    venv_bin = str(Path(sys.executable).parent)
    out = lab.ssh("node1", "echo $PATH; command -v python3; gnt-cluster version").stdout
    path, python = out.splitlines()[:2]
    assert path.split(":")[0] == venv_bin
    assert python == f"{venv_bin}/python3"
    assert "Software version" in out


def test_libvirt_tcp_from_host(lab: Lab) -> None:
    node2 = lab.node("node2")
    assert node2.libvirt_uri == f"qemu+tcp://{lab.net.node_address(2)}/system"
    assert node2.address == f"198.18.0.{64 * lab.slot + 12}"
    proc = subprocess.run(["virsh", "-c", node2.libvirt_uri, "list", "--all"],
                          capture_output=True, text=True, timeout=10, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Name" in proc.stdout


def test_node1_reaches_node2_over_ssh(lab: Lab) -> None:
    node1 = lab.node("node1")
    inside = subprocess.run(
        node1.nsenter_argv(["ssh", "-F", str(lab.ssh_config), "node2", "hostname"]),
        capture_output=True, text=True, timeout=30, check=False)
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.strip() == "node2.lab.example"
    # The same through an SSH session on node1 (its own /root/.ssh/config holds the lab config).
    chained = lab.ssh("node1", "hostname; ssh node2.lab.example hostname").stdout.split()
    assert chained == ["node1.lab.example", "node2.lab.example"]


def test_names_shared_storage_and_private_views(lab: Lab) -> None:
    node1, node2 = lab.node("node1"), lab.node("node2")
    out = lab.ssh("node2", "getent hosts node1 cluster.lab.example; cat /etc/resolv.conf").stdout
    assert node1.address in out and lab.net.cluster_address in out
    assert "nameserver 127.0.0.1" in out
    marker = uuid.uuid4().hex
    storage = f"{labconf.SHARED_STORAGE_SUBDIR}/{marker}"
    lab.ssh("node1", f"echo {marker} > $GNT_ROOT/{storage}")
    # node2 sees it under its GNT_ROOT (the same path); the host in DIR/shared and under
    # node1's and node2's root_on_host.
    seen = lab.ssh("node2", f"cat $GNT_ROOT/{storage}").stdout
    assert seen.split() == [marker]
    for where in (lab.shared_dir, Path(node1.root_on_host) / labconf.SHARED_STORAGE_SUBDIR,
                  Path(node2.root_on_host) / labconf.SHARED_STORAGE_SUBDIR):
        assert (where / marker).read_text().strip() == marker
    (lab.shared_dir / marker).unlink()
    # GNT_ROOT itself is node-local ("file" disk template): node1's file is not on node2.
    local = f"srv/gnt/file-storage/{marker}"
    lab.ssh("node1", f"mkdir -p $GNT_ROOT/srv/gnt/file-storage && echo {marker} > $GNT_ROOT/{local}")
    assert lab.ssh("node2", f"test -e $GNT_ROOT/{local}", check=False).returncode == 1
    assert lab.ssh("node1", f"cat $GNT_ROOT/{local}").stdout.strip() == marker
    assert (Path(node1.root_on_host) / local).read_text().strip() == marker
    assert not (Path(node2.root_on_host) / local).exists()
    assert not (lab.gnt_root / local).exists()        # the host's DIR/root is only a mount point
    # Private views: each node's /etc/libvirt and /root/.ssh are its own.
    uuids = {lab.ssh(n.name, "grep ^host_uuid /etc/libvirt/libvirtd.conf").stdout for n in
             (node1, node2)}
    assert len(uuids) == 2
    assert not Path("/root/.ssh/authorized_keys").exists() or \
        "gnt-lab" not in Path("/root/.ssh/authorized_keys").read_text()
    image = TINYLINUX / "tinylinux.img"
    if image.is_file():     # the tiny guest image is readable inside the nodes
        head = lab.ssh("node1", f"head -c 4096 {image} | sha256sum").stdout.split()[0]
        assert head == hashlib.sha256(image.read_bytes()[:4096]).hexdigest()


def _domain_xml(name: str) -> str:
    """A diskless TCG domain without OS: SeaBIOS finds nothing to boot and idles."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_crash>destroy</on_crash>
  <devices><memballoon model='none'/></devices>
</domain>"""


def test_domain_is_visible_only_on_its_node(lab: Lab) -> None:
    import libvirt
    name = f"gntlab-only-{uuid.uuid4().hex[:8]}"
    node1, node2 = lab.node("node1"), lab.node("node2")
    conn1 = libvirt.open(node1.libvirt_uri)
    try:
        dom = conn1.defineXML(_domain_xml(name))
        try:
            assert name in lab.ssh("node1", "virsh -c qemu:///system list --all --name").stdout
            for uri in (node2.libvirt_uri, "qemu:///system"):
                other = libvirt.open(uri)
                try:
                    assert name not in [d.name() for d in other.listAllDomains()], uri
                finally:
                    other.close()
            status = {s.name: s for s in lab.status()}
            assert status["node1"].domains == {name: "shut off"}
            assert status["node2"].domains == {}
        finally:
            dom.undefine()
    finally:
        conn1.close()


def test_live_migration_node1_to_node2(lab: Lab) -> None:
    import libvirt
    name = f"gntlab-mig-{uuid.uuid4().hex[:8]}"
    node1, node2 = lab.node("node1"), lab.node("node2")
    conn1, conn2 = libvirt.open(node1.libvirt_uri), libvirt.open(node2.libvirt_uri)
    try:
        dom = conn1.defineXML(_domain_xml(name))
        dom.create()
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                 | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
                 | libvirt.VIR_MIGRATE_UNSAFE)
        t0 = time.monotonic()
        dom.migrateToURI3(node2.libvirt_uri, {}, flags)
        elapsed = time.monotonic() - t0
        print(f"live migration node1 -> node2 (64 MiB, diskless, TCG): {elapsed:.2f} s")
        moved = conn2.lookupByName(name)
        assert moved.isActive() and moved.isPersistent()
        assert name not in [d.name() for d in conn1.listAllDomains()]
        moved.destroy()
        moved.undefine()
    finally:
        _purge_domain(name, conn1, conn2)


def _wait_for(path: Path, marker: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and marker in path.read_bytes():
            return True
        time.sleep(0.1)
    return False


def test_booted_guest_on_shared_storage_migrates(lab: Lab) -> None:
    """tinylinux booted on node1 from node1's GNT_ROOT shared-storage path keeps running on node2."""
    import libvirt
    image = TINYLINUX / "tinylinux.img"
    if not image.is_file():
        pytest.skip(f"{image} is missing (built by the tinylinux OS definition's build-image)")
    name = f"gntlab-tl-{uuid.uuid4().hex[:8]}"
    node1, node2 = lab.node("node1"), lab.node("node2")
    disk = Path(node1.gnt_root) / labconf.SHARED_STORAGE_SUBDIR / f"{name}.img"   # in the nodes
    on_host = lab.shared_dir / f"{name}.img"
    console = lab.shared_dir / f"{name}.log"
    shutil.copyfile(image, on_host)
    xml = f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source file='{disk}'/><target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='{console}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"""
    conn1, conn2 = libvirt.open(node1.libvirt_uri), libvirt.open(node2.libvirt_uri)
    try:
        dom = conn1.defineXML(xml)
        dom.create()
        assert _wait_for(console, b"gnt-tinylinux: booted", 120), console.read_bytes()[-500:]
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                 | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
                 | libvirt.VIR_MIGRATE_UNSAFE)    # libvirt does not trust ext4 as shared
        t0 = time.monotonic()
        dom.migrateToURI3(node2.libvirt_uri, {}, flags)
        print(f"live migration of booted tinylinux (128 MiB, TCG): {time.monotonic() - t0:.2f} s")
        moved = conn2.lookupByName(name)
        moved.shutdown()                          # ACPI: the guest must still be alive to react
        assert _wait_for(console, b"powering off", 60), console.read_bytes()[-500:]
    finally:
        _purge_domain(name, conn1, conn2)
        on_host.unlink(missing_ok=True)
        console.unlink(missing_ok=True)


def test_two_slots_at_once(lab: Lab) -> None:
    """A second lab in another slot runs beside the first; neither reaches the other; its down
    leaves the first untouched."""
    # The highest free slot: the low ones are the xdist workers' own (tests/gnt_parallel.py).
    others = sorted((k for k in free_slots() if k != lab.slot), reverse=True)
    if not others:
        pytest.skip("no free second lab slot (every gntlabK bridge exists)")
    second_dir = Path(tempfile.mkdtemp(prefix="gntlab-", dir="/tmp"))
    second = Lab(second_dir, slot=others[0])
    try:
        (node,) = second.up(1)
        assert second.slot == others[0] != lab.slot
        assert Lab(second_dir).slot == others[0]          # recorded: down/status need the dir only
        assert node.address == second.net.node_address(1) != lab.node("node1").address
        assert node.netns != lab.node("node1").netns
        for each in (lab, second):                       # both reachable, same names
            out = each.ssh("node1", "hostname; getent hosts node1; echo $GNT_ROOT").stdout.split()
            assert out[0] == "node1.lab.example"
            assert out[1] == each.node("node1").address
            assert out[-1] == str(each.gnt_root)
        probe = "timeout 3 bash -c 'echo > /dev/tcp/{}/22' && echo reached || echo unreachable"
        for src, dst in ((lab, second), (second, lab)):
            out = src.ssh("node1", probe.format(dst.node("node1").address), check=False).stdout
            assert out.strip().endswith("unreachable"), (src.slot, dst.slot, out)
        pids = _recorded_pids(second)
        starts = {pid: start_time(pid) for pid in pids}
        second.down()
        _assert_nothing_left(second_dir, pids, starts, others[0])
        assert lab.ssh("node1", "hostname").stdout.strip() == "node1.lab.example"
    finally:
        second.down()
        shutil.rmtree(second_dir, ignore_errors=True)


def _recorded_pids(lab: Lab) -> set[int]:
    """Every PID the lab recorded plus every process now in its nodes' PID namespaces."""
    state = json.loads(lab.state_file.read_text())
    pids = set()
    for rec in state["nodes"]:
        pids |= {rec["init_pid"], rec["unshare_pid"]}
        pids |= set(processes_in(rec["pid_ns"]))
    return pids


def _assert_nothing_left(lab_dir: Path, pids: set[int], starts: dict[int, int | None],
                         slot: int) -> None:
    net = labconf.SlotLayout(slot)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    assert net.netns_prefix not in namespaces
    assert net.bridge not in links          # the bridge and the veths gntlab{K}-n*
    assert not [pid for pid in pids if alive(pid, starts.get(pid))]
    assert not mounts_under(lab_dir)
    assert not lab_dir.exists() or not any(lab_dir.iterdir())


def test_node_crash_restart_then_down_cleans_everything(lab: Lab) -> None:
    node2 = lab.node("node2")
    state = json.loads(lab.state_file.read_text())
    pid_ns2 = state["nodes"][1]["pid_ns"]
    assert {"sshd", "libvirtd"} <= set(processes_in(pid_ns2).values())
    slot = lab.slot
    pids = _recorded_pids(lab)
    starts = {pid: start_time(pid) for pid in pids}
    os.kill(node2.init_pid, signal.SIGKILL)            # node2 crashes
    deadline = time.monotonic() + 10
    while processes_in(pid_ns2) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not processes_in(pid_ns2), "sshd and libvirtd must die with PID 1"
    status = {s.name: s for s in lab.status()}
    assert not (status["node2"].init_alive or status["node2"].sshd or status["node2"].libvirtd)
    assert status["node1"].sshd and status["node1"].libvirtd
    # The crashed node boots again with its host key and libvirt state.
    lab.start_node("node2")
    assert lab.ssh("node2", "hostname").stdout.strip() == "node2.lab.example"
    new_pids = _recorded_pids(lab)
    starts.update({pid: start_time(pid) for pid in new_pids - pids})
    lab.down()
    _assert_nothing_left(lab.dir, pids | new_pids, starts, slot)


def test_up_after_crashed_controller_and_nodes(lab: Lab) -> None:
    """A lab whose starter vanished and whose nodes all crashed: a new ``up`` cleans and starts."""
    lab.down()                                # no-op when the previous test already did
    first = Lab(lab.dir, slot=lab.slot)
    first.up(1)
    first.kill_node("node1")
    again = Lab(lab.dir, slot=first.slot)     # a new process: only the state file is known
    nodes = again.up(2)
    assert [n.name for n in nodes] == ["node1", "node2"]
    assert again.ssh("node2", "hostname").stdout.strip() == "node2.lab.example"
    pids = _recorded_pids(again)
    starts = {pid: start_time(pid) for pid in pids}
    again.down()
    _assert_nothing_left(lab.dir, pids, starts, first.slot)


def test_a_dead_lab_in_another_directory_gives_up_its_slot(lab: Lab) -> None:
    """``up`` in a slot held by another directory's lab: refused while that lab has a live node;
    that lab's ``down`` first when all its nodes are dead; its network alone removed when its
    state file is gone (what a failed clean-up leaves)."""
    lab.down()
    slot = lab.slot
    dead_dir = Path(tempfile.mkdtemp(prefix="gntlab-", dir="/tmp"))
    new_dir = Path(tempfile.mkdtemp(prefix="gntlab-", dir="/tmp"))
    dead, new = Lab(dead_dir, slot=slot), Lab(new_dir, slot=slot)
    try:
        dead.up(1)
        with pytest.raises(LabError, match=f"another lab is up in slot {slot} in {dead_dir}"):
            new.up(1)
        assert dead.is_up()
        dead.kill_node("node1")
        new.up(1)                                  # the dead lab's down, then this up
        assert not dead.state_file.exists() and active_lab_dir(slot) == new_dir
        new.down()
        dead.up(1)
        state = json.loads(dead.state_file.read_text())
        dead.kill_node("node1")
        dead._kill_nodes(state)                    # every step of down but the network
        dead._unmount(state)
        dead._remove_files(state)
        assert active_lab_dir(slot) == dead_dir
        new.up(1)
        assert new.ssh("node1", "hostname").stdout.strip() == "node1.lab.example"
        new.down()
        _assert_nothing_left(new_dir, set(), {}, slot)
    finally:
        for each in (new, dead):
            each.down()
        for path in (dead_dir, new_dir):
            shutil.rmtree(path, ignore_errors=True)


def test_down_goes_on_past_a_failed_step(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step of ``down`` that fails (here: the nodes' kill) does not keep the slot: the network
    is removed, the state file kept, the error raised; a second ``down`` finishes."""
    lab.down()
    first = Lab(lab.dir, slot=lab.slot)
    first.up(1)
    pids = _recorded_pids(first)
    starts = {pid: start_time(pid) for pid in pids}

    def stuck(self: Lab, state: dict[str, object]) -> None:
        raise LabError("lab processes still alive after 15 s: {1: 'stuck'}")

    monkeypatch.setattr(Lab, "_kill_nodes", stuck)
    with pytest.raises(LabError, match=f"down of {lab.dir} left work undone: .*stuck"):
        first.down()
    assert active_lab_dir(first.slot) is None and first.state_file.exists()
    monkeypatch.undo()
    first.down()
    _assert_nothing_left(lab.dir, pids, starts, first.slot)
