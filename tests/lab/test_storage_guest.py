"""The lvm and drbd storage backends (plugins/module_utils/storage) for real, inside two lab
guest nodes (QEMU TCG, Debian 12's cloud kernel: device-mapper and DRBD 8.4), through
tests/lab/storage_guest_driver.py run on the node as the coordinator would run them.

In file order: LV create (tags, wipe), idempotence, grow, snapshot, rename, tags, adoption
checks, check mode changes nothing, VG/PV reports, removal; then a DRBD device on an LV pair
of both guests: meta-data, assembly, forced first primary, initial resync followed through
/proc/drbd (percentage, time left), data written on node1 read back on node2 after a switch
through dual-primary (as a live migration does), teardown. No guest OS boots an instance.

Needs what tests/lab/test_guest_nodes.py needs (root, /dev/net/tun, QEMU, virtiofsd, the
guest image or debootstrap); skipped with the reason otherwise. Uses lab slot 2 (slots 0, 1
and 3 belong to other tests) unless $GNT_STORAGE_LAB_SLOT says otherwise.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import guestconf
import pytest
from guestimage import cached_image
from lab import Lab
from labguest import VENV_BIN
from labnet import active_lab_dir

pytestmark = pytest.mark.integration

SLOT = int(os.environ.get("GNT_STORAGE_LAB_SLOT", "2"))
VG = guestconf.DEFAULT_VG
SLOW = 180.0
DRIVER = Path(__file__).resolve().with_name("storage_guest_driver.py")
SECRET = "gl-storage-secret"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "guest nodes need root (taps, bridge, virtiofsd)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices for the guests)"
    for tool in ("qemu-system-x86_64", "qemu-img", guestconf.VIRTIOFSD, "ssh"):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt: qemu-system-x86 qemu-utils)"
    if cached_image() is None and not shutil.which("debootstrap"):
        return ("the guest image is not built and debootstrap is missing "
                "(`.venv/bin/python tests/lab/guestimage.py build`)")
    other = active_lab_dir(SLOT)
    if other is not None:
        return f"another lab is up in slot {SLOT} in {other} (GNT_STORAGE_LAB_SLOT=K to move)"
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab_dir = Path(tempfile.mkdtemp(prefix="gntst-", dir="/tmp"))
    the_lab = Lab(lab_dir, slot=SLOT)
    try:
        the_lab.up(2, kind="guest", memory_mb=1280, data_gib=4)
        yield the_lab
    finally:
        the_lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)


def call(lab: Lab, node: str, op: dict[str, Any], ok: bool = True) -> Any:
    """Run one driver operation on ``node``; its JSON result (the error message when not ok)."""
    command = f"{VENV_BIN}/python {DRIVER} {shlex.quote(json.dumps(op))}"
    proc = lab.ssh(node, command, check=False, timeout=SLOW)
    assert (proc.returncode == 0) == ok, f"{node}: {op} -> {proc.stdout} {proc.stderr}"
    result = json.loads(proc.stdout)
    return result if ok else result["error"]


def sh(lab: Lab, node: str, command: str) -> str:
    proc = lab.ssh(node, command, check=False, timeout=SLOW)
    assert proc.returncode == 0, f"{node}: {command!r}: {proc.stderr or proc.stdout}"
    return proc.stdout


def lv(call_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"kind": "lvm", "vg": VG, "call": call_name, "args": list(args), "kwargs": kwargs}


def test_lvm_backend_in_guest(lab: Lab) -> None:
    name = "6f1a3a8e-0000-4000-8000-000000000001.disk0"
    created = call(lab, "node1", lv("create", name, 64, tags=["originstname+i1"], wipe=True))
    assert created["actions"] == ["created 64 MiB", "wiped 64 MiB with zeros"]
    assert created["exists"] and created["attached"] and created["size_mib"] == 64
    assert created["path"] == f"/dev/{VG}/{name}" and created["tags"] == ["originstname+i1"]
    assert call(lab, "node1", lv("create", name, 64))["changed"] is False
    before = sh(lab, "node1", f"lvs --noheadings -o lv_name,lv_size {VG}")
    assert call(lab, "node1", lv("grow", name, 96, check_mode=True))["changed"] is True
    assert call(lab, "node1", lv("remove", name, check_mode=True))["changed"] is True
    assert sh(lab, "node1", f"lvs --noheadings -o lv_name,lv_size {VG}") == before
    grown = call(lab, "node1", lv("grow", name, 96))
    assert grown["size_mib"] == 96
    assert "cannot shrink" in call(lab, "node1", lv("grow", name, 32), ok=False)
    sh(lab, "node1", f"printf data-before-snapshot | dd of=/dev/{VG}/{name} "
                     "conv=notrunc,fsync status=none")
    snap = call(lab, "node1", lv("snapshot", name, f"{name}.snap", 32))
    assert snap["origin"] == name and snap["exists"]
    sh(lab, "node1", f"dd if=/dev/zero of=/dev/{VG}/{name} bs=1M count=1 oflag=direct "
                     "status=none")
    assert sh(lab, "node1", f"head -c 20 /dev/{VG}/{name}.snap") == "data-before-snapshot"
    assert call(lab, "node1", lv("remove", f"{name}.snap"))["exists"] is False
    renamed = call(lab, "node1", lv("rename", name, "gl-renamed"))
    assert renamed["path"] == f"/dev/{VG}/gl-renamed"
    assert call(lab, "node1", lv("adopt", "gl-renamed"))["size_mib"] == 96
    tagged = call(lab, "node1", lv("set_tags", "gl-renamed", add=["t2"],
                                   remove=["originstname+i1"]))
    assert tagged["tags"] == ["t2"]
    vgs = call(lab, "node1", {"kind": "lvm-report", "call": "list_vgs", "args": [[VG]]})
    assert vgs[0]["name"] == VG and vgs[0]["free_mib"] > 0 and vgs[0]["missing_pv_count"] == 0
    pvs = call(lab, "node1", {"kind": "lvm-report", "call": "list_pvs"})
    assert any(pv["vg"] == VG and pv["allocatable"] for pv in pvs)
    assert "needed" in call(lab, "node1", lv("create", "gl-huge", 10**7), ok=False)
    assert call(lab, "node1", lv("remove", "gl-renamed"))["exists"] is False
    assert call(lab, "node1", lv("verify")) == []


def drbd_spec(lab: Lab, here: int, minor: int, port: int, dual: bool = False) -> dict[str, Any]:
    local, peer = lab.nodes[here], lab.nodes[1 - here]
    return {"minor": minor, "data_dev": f"/dev/{VG}/gl.disk0_data",
            "meta_dev": f"/dev/{VG}/gl.disk0_meta", "size_mib": 64,
            "net": {"local_ip": local.address, "local_port": port, "peer_ip": peer.address,
                    "peer_port": port, "secret": SECRET, "dual_primary": dual}}


def test_drbd_backend_between_guests(lab: Lab) -> None:
    nodes = ("node1", "node2")
    try:
        for index, node in enumerate(nodes):
            call(lab, node, lv("create", "gl.disk0_data", 64))
            call(lab, node, lv("create", "gl.disk0_meta", 128))
            spec = drbd_spec(lab, index, minor=index, port=11100)
            made = call(lab, node, {"kind": "drbd", "call": "create_metadata", "spec": spec})
            assert made["actions"] == [f"created meta-data on /dev/{VG}/gl.disk0_meta"]
            up = call(lab, node, {"kind": "drbd", "call": "assemble", "spec": spec,
                                  "kwargs": {"role": "secondary"}})
            assert up["exists"] and up["attached"] and up["path"] == f"/dev/drbd{index}"
        again = call(lab, "node1", {"kind": "drbd", "call": "assemble",
                                    "spec": drbd_spec(lab, 0, 0, 11100)})
        assert again["changed"] is False
        primary = call(lab, "node1", {"kind": "drbd", "call": "assemble",
                                      "spec": drbd_spec(lab, 0, 0, 11100),
                                      "kwargs": {"role": "primary", "force_primary": True}})
        assert primary["open"] and primary["role"] == "Primary"
        deadline = time.monotonic() + SLOW
        while True:
            state = call(lab, "node1", {"kind": "drbd", "call": "info", "minor": 0})
            if not state["degraded"]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["connection"] == "Connected" and state["peer_disk"] == "UpToDate"
        assert state["peer_address"] == f"{lab.nodes[1].address}:11100"
        written = sh(lab, "node1", "dd if=/dev/urandom of=/dev/drbd0 bs=1M count=8 "
                                   "oflag=direct status=none && head -c 8M /dev/drbd0 | "
                                   "sha256sum").split()[0]
        # live migration: both may be primary, the target becomes primary, then the source
        # secondary, then single-primary again
        for index, node in enumerate(nodes):
            dual = call(lab, node, {"kind": "drbd", "call": "assemble",
                                    "spec": drbd_spec(lab, index, index, 11100, dual=True)})
            # DRBD hands the setting to the connected peer: node2 has it already
            assert dual["actions"] == (["allowed dual-primary"] if index == 0 else [])
            assert dual["dual_primary"]
        call(lab, "node2", {"kind": "drbd", "call": "assemble",
                            "spec": drbd_spec(lab, 1, 1, 11100, dual=True),
                            "kwargs": {"role": "primary"}})
        call(lab, "node1", {"kind": "drbd", "call": "assemble",
                            "spec": drbd_spec(lab, 0, 0, 11100, dual=True),
                            "kwargs": {"role": "secondary"}})
        for index, node in enumerate(nodes):
            call(lab, node, {"kind": "drbd", "call": "assemble",
                             "spec": drbd_spec(lab, index, index, 11100)})
        assert sh(lab, "node2", "head -c 8M /dev/drbd1 | sha256sum").split()[0] == written
        state = call(lab, "node2", {"kind": "drbd", "call": "info", "minor": 1})
        assert state["role"] == "Primary" and state["peer_role"] == "Secondary"
        assert not state["dual_primary"]
    finally:
        for index, node in enumerate(nodes):
            lab.ssh(node, f"{VENV_BIN}/python {DRIVER} "
                    + shlex.quote(json.dumps({"kind": "drbd", "call": "down", "minor": index})),
                    check=False, timeout=SLOW)
            for name in ("gl.disk0_data", "gl.disk0_meta"):
                lab.ssh(node, f"{VENV_BIN}/python {DRIVER} "
                        + shlex.quote(json.dumps(lv("remove", name))), check=False,
                        timeout=SLOW)
    down = call(lab, "node1", {"kind": "drbd", "call": "info", "minor": 0})
    assert down["exists"] is False
