"""Floors for the node-operation benches (issue 11): what an operation does on a node, made
directly from this process with the collection's module_utils and libvirt, on a copy of the
bench's own instance, so that ours can be read as a ratio to it."""

from __future__ import annotations

import os
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnt.core.collection import load_module_util

FLOOR_NAME = "floor.bench.example"


def _copy_spec(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """``spec`` (a gnt_instance) renamed: new uuid, disks under the new name, no MACs kept."""
    copy = {**spec, "name": name, "uuid": str(uuid.uuid4())}
    copy["disks"] = [{**disk, "uuid": str(uuid.uuid4()),
                      "path": str(Path(disk["path"]).parent.parent / name / f"disk{disk['index']}")}
                     for disk in spec["disks"]]
    copy["nics"] = [{**nic, "uuid": str(uuid.uuid4()),
                     "mac": "aa:00:00:%02x:%02x:%02x" % tuple(os.urandom(3))}
                    for nic in spec["nics"]]
    copy["console_log"] = str(Path(spec["console_log"]).with_name(f"{name}.log"))
    return copy


def add(conn, spec: dict[str, Any], node: dict[str, Any]) -> float:
    """An add's steps on a copy of ``spec`` (the gnt_instance of the bench's instance, ``node``
    its gnt_node): the file disks, the OS create script, domain defined and started. Returns
    the seconds they took; the copy is removed afterwards (not timed)."""
    storage = load_module_util("file_storage")
    osi = load_module_util("os_interface")
    domain = load_module_util("libvirt_domain")
    floor = _copy_spec(spec, FLOOR_NAME)
    allowed = [node["file_storage_dir"]]
    start = time.perf_counter()
    for disk in floor["disks"]:
        storage.ensure_present(disk["path"], allowed, size_mib=disk["size_mib"])
    osi.run_script(osi.find_os(floor["os"], node["os_search_path"]), floor, "create",
                   log_dir=node["os_log_dir"])
    domain.ensure_running(conn, floor)
    elapsed = time.perf_counter() - start
    dom = conn.lookupByName(FLOOR_NAME)
    dom.destroy()
    dom.undefine()
    shutil.rmtree(Path(floor["disks"][0]["path"]).parent, ignore_errors=True)
    Path(floor["console_log"]).unlink(missing_ok=True)
    return elapsed


def remove(conn, dom, on_host: Callable[[str], Path] = Path) -> float:
    """A remove's steps (domain undefined, disk files deleted) on a stopped copy of ``dom``
    (a defined domain with file disks; ``on_host`` maps the node's path of a file to this
    process's): seconds taken."""
    tree = ET.fromstring(dom.XMLDesc())
    tree.find("name").text = FLOOR_NAME
    for element in [tree.find("uuid"), *tree.iter("mac")]:
        if element is not None:
            for parent in tree.iter():
                if element in list(parent):
                    parent.remove(element)
    disks = []
    for source in tree.iter("source"):
        if source.get("file"):
            node_path = str(Path(source.get("file")).with_name(f"{FLOOR_NAME}.disk"))
            path = on_host(node_path)
            path.write_bytes(b"")
            os.truncate(path, 32 << 20)
            source.set("file", node_path)
            disks.append(path)
    copy = conn.defineXML(ET.tostring(tree, encoding="unicode"))
    start = time.perf_counter()
    copy.undefine()
    for path in disks:
        path.unlink()
    return time.perf_counter() - start


def wait_inactive(dom, timeout: float) -> bool:
    """Wait for ``dom`` to be off; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while dom.isActive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


#: Seconds from the guest's boot marker until it surely handles the ACPI power button (a
#: press before its handler is up is lost: measured, 1 s is not always enough).
ACPI_READY = 3.0


def acpi_shutdown(dom, timeout: float = 20) -> float | None:
    """ACPI shutdown of a booted guest (:data:`ACPI_READY` after its boot marker), waited
    for: seconds, or None when the guest did not answer within ``timeout`` (it is then forced
    off)."""
    start = time.perf_counter()
    dom.shutdown()
    if not wait_inactive(dom, timeout):
        dom.destroy()
        return None
    return time.perf_counter() - start


def failover(libvirt, name: str, source_uri: str, target_uri: str, timeout: float = 20
             ) -> float | None:
    """A failover's steps for a booted guest on shared storage: ACPI shutdown on the source,
    defined and started on the target, undefined on the source. Seconds, or None when the
    guest did not answer the shutdown."""
    source = libvirt.open(source_uri)
    target = libvirt.open(target_uri)
    try:
        dom = source.lookupByName(name)
        xml = dom.XMLDesc()
        start = time.perf_counter()
        dom.shutdown()
        answered = wait_inactive(dom, timeout)
        if not answered:
            dom.destroy()
        target.defineXML(xml).create()
        dom.undefine()
        return time.perf_counter() - start if answered else None
    finally:
        source.close()
        target.close()
