"""The migration and disk-copy primitives on the lab, through ansible from inside node1:
role instance_migrate live-migrates a booted tinylinux guest on the shared storage node1 ->
node2 (idempotent afterwards, console alive: ACPI shutdown works on node2), a migration to an
unreachable libvirtd fails clearly and leaves the guest running on node1, and role
instance_disk_copy copies a sparse "file" disk node1 -> node3 (verified, then skipped).

Uses its own three-node lab in slot $GNT_LAB_SLOT (else 0); skipped with the reason when the
lab cannot run here or the tinylinux image is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import labconf
import pytest
from lab import Lab
from labansible import run_role
from test_lab import _skip_reason

pytestmark = pytest.mark.integration

IMAGE = Path("/var/cache/gnt/tinylinux/tinylinux.img")
BOOTED = b"gnt-tinylinux: booted"
POWERING_OFF = b"gnt-tinylinux: powering off"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """A three-node lab in a fresh short directory, removed again whatever happens."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab_dir = Path(tempfile.mkdtemp(prefix="gntmig-", dir="/tmp"))
    the_lab = Lab(lab_dir)
    try:
        the_lab.up(3)
        yield the_lab
    finally:
        the_lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)


def _wait_for(path: Path, marker: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and marker in path.read_bytes():
            return True
        time.sleep(0.2)
    return False


def tinylinux_xml(name: str, disk: str, console: str, memory_mib: int = 128) -> str:
    """A TCG tinylinux domain with its disk and a file console (paths as the nodes see them)."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
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


def _states(lab: Lab, name: str) -> dict[str, str]:
    return {s.name: s.domains.get(name, "absent") for s in lab.status()}


def _purge(lab: Lab, name: str) -> None:
    import libvirt
    for node in lab.nodes:
        conn = libvirt.open(node.libvirt_uri)
        try:
            for dom in conn.listAllDomains():
                if dom.name() == name:
                    # the guest may power off (ACPI) between the check and the destroy
                    with contextlib.suppress(libvirt.libvirtError):
                        if dom.isActive():
                            dom.destroy()
                    if dom.isPersistent():
                        dom.undefine()
        finally:
            conn.close()


def test_migrate_booted_guest_with_role(lab: Lab) -> None:
    import libvirt
    if not IMAGE.is_file():
        pytest.skip(f"{IMAGE} is missing (built by the tinylinux OS definition's build-image)")
    node1, node2 = lab.node("node1"), lab.node("node2")
    name = f"mig-{uuid.uuid4().hex[:8]}"
    shared = Path(node1.gnt_root) / labconf.SHARED_STORAGE_SUBDIR        # as the nodes see it
    disk_on_host, console = lab.shared_dir / f"{name}.img", lab.shared_dir / f"{name}.log"
    shutil.copyfile(IMAGE, disk_on_host)
    gnt_node = {"name": node1.fqdn, "libvirt_uri": node1.local_uri}
    gnt_instance = {"name": name}
    conn1 = libvirt.open(node1.libvirt_uri)
    try:
        conn1.defineXML(tinylinux_xml(name, str(shared / f"{name}.img"), str(console))).create()
        assert _wait_for(console, BOOTED, 180), console.read_bytes()[-500:]

        # A target libvirtd that does not answer: a clear error, the guest stays on node1.
        dead = f"qemu+tcp://{node2.address}:1/system"
        run = run_role(lab, "node1", "instance_migrate", {
            "gnt_node": gnt_node, "gnt_instance": gnt_instance,
            "gnt_migration": {"target_uri": dead, "live": True, "unsafe": True}})
        assert not run.ok, run.stdout
        assert f"cannot connect to libvirt at {dead}" in run.msg, run.stdout
        assert "still running on the source node" in run.msg
        assert _states(lab, name) == {"node1": "running", "node2": "absent", "node3": "absent"}

        migration = {"target_uri": node2.libvirt_uri, "live": True, "unsafe": True,
                     "max_downtime_ms": 300}
        run = run_role(lab, "node1", "instance_migrate", {
            "gnt_node": gnt_node, "gnt_instance": gnt_instance, "gnt_migration": migration})
        assert run.ok, run.stdout
        result = run.facts["gnt_migration_result"]
        print(f"role instance_migrate: {result}")
        assert result["changed"] is True and result["action"] == "migrate"
        assert result["state"] == "running" and result["source_state"] == "absent"
        assert 0 < result["duration_s"] < 120
        assert result["downtime_ms"] is None or 0 <= result["downtime_ms"] < 10000
        assert result["target_uri"] == node2.libvirt_uri
        assert _states(lab, name) == {"node1": "absent", "node2": "running", "node3": "absent"}

        again = run_role(lab, "node1", "instance_migrate", {
            "gnt_node": gnt_node, "gnt_instance": gnt_instance, "gnt_migration": migration})
        assert again.ok, again.stdout
        assert again.facts["gnt_migration_result"]["changed"] is False
        assert again.facts["gnt_migration_result"]["action"] == "already_there"

        conn2 = libvirt.open(node2.libvirt_uri)
        try:
            moved = conn2.lookupByName(name)
            assert moved.isPersistent()
            moved.shutdown()                   # ACPI: the migrated guest must react
        finally:
            conn2.close()
        assert _wait_for(console, POWERING_OFF, 90), console.read_bytes()[-500:]
    finally:
        conn1.close()
        _purge(lab, name)
        disk_on_host.unlink(missing_ok=True)
        console.unlink(missing_ok=True)


def test_copy_file_disk_node1_to_node3(lab: Lab) -> None:
    node1, node2, node3 = lab.node("node1"), lab.node("node2"), lab.node("node3")
    rel = f"srv/gnt/file-storage/inst{uuid.uuid4().hex[:6]}.lab.example/disk0"
    src_on_host = Path(node1.root_on_host) / rel
    src_on_host.parent.mkdir(parents=True)
    payload = os.urandom(3 * 2**20 + 123)
    with open(src_on_host, "wb") as fobj:            # 64 MiB sparse with data at two places
        fobj.truncate(64 * 2**20)
        fobj.write(b"MBR" * 100)
        fobj.seek(40 * 2**20)
        fobj.write(payload)
    path_in_nodes = f"{node1.gnt_root}/{rel}"
    variables = {
        "gnt_node": {"name": node1.fqdn,
                     "file_storage_dir": f"{node1.gnt_root}/srv/gnt/file-storage",
                     "shared_file_storage_dir": f"{node1.gnt_root}/srv/gnt/shared-file-storage"},
        "gnt_copy": {"target_address": node3.address, "target_port": 22,
                     "disks": [{"src": path_in_nodes, "dst": path_in_nodes}]}}
    run = run_role(lab, "node1", "instance_disk_copy", variables)
    assert run.ok, run.stdout
    result = run.facts["gnt_disk_copy_result"]
    print(f"role instance_disk_copy: {result}")
    (disk,) = result["disks"]
    assert result["changed"] is True and disk["action"] == "copied"
    assert disk["sent_mib"] < 8 and disk["size_mib"] == 64
    copy_on_host = Path(node3.root_on_host) / rel
    digest = hashlib.sha256(src_on_host.read_bytes()).hexdigest()
    assert hashlib.sha256(copy_on_host.read_bytes()).hexdigest() == digest
    assert os.stat(copy_on_host).st_blocks * 512 < 16 * 2**20, "the copy must stay sparse"
    assert not (Path(node2.root_on_host) / rel).exists()
    # node3 sees it at the same GNT_ROOT path; node1's own copy is untouched.
    seen = lab.ssh("node3", f"sha256sum {path_in_nodes}").stdout.split()[0]
    assert seen == digest
    again = run_role(lab, "node1", "instance_disk_copy", variables)
    assert again.ok and again.facts["gnt_disk_copy_result"]["changed"] is False
    assert again.facts["gnt_disk_copy_result"]["disks"][0]["action"] == "skipped"
    # A destination outside the storage directories is refused on the target.
    bad = dict(variables, gnt_copy=dict(variables["gnt_copy"],
                                        disks=[{"src": path_in_nodes, "dst": "/tmp/gnt-x"}]))
    run = run_role(lab, "node1", "instance_disk_copy", bad)
    assert not run.ok and "outside the allowed storage directories" in run.msg, run.stdout


def test_migration_failing_in_libvirt_keeps_guest_on_source(lab: Lab) -> None:
    """A disk on node1's node-local storage does not exist on node2: the destination QEMU cannot
    open it, libvirt's migration fails, and the guest keeps running on node1."""
    import libvirt
    node1, node2 = lab.node("node1"), lab.node("node2")
    name = f"migfail-{uuid.uuid4().hex[:8]}"
    rel = f"srv/gnt/file-storage/{name}/disk0"
    on_host = Path(node1.root_on_host) / rel
    on_host.parent.mkdir(parents=True)
    with open(on_host, "wb") as fobj:
        fobj.truncate(2**20)
    console = lab.shared_dir / f"{name}.log"
    conn1 = libvirt.open(node1.libvirt_uri)
    try:
        conn1.defineXML(tinylinux_xml(name, f"{node1.gnt_root}/{rel}", str(console), 64)).create()
        run = run_role(lab, "node1", "instance_migrate", {
            "gnt_node": {"name": node1.fqdn, "libvirt_uri": node1.local_uri},
            "gnt_instance": {"name": name},
            "gnt_migration": {"target_uri": node2.libvirt_uri, "unsafe": True}})
        assert not run.ok, run.stdout
        print(f"failed migration: {run.msg}")
        assert f"migration of domain {name} to {node2.libvirt_uri} failed after" in run.msg
        assert "the domain is still running on the source node" in run.msg
        assert _states(lab, name) == {"node1": "running", "node2": "absent", "node3": "absent"}
    finally:
        conn1.close()
        _purge(lab, name)
        console.unlink(missing_ok=True)
