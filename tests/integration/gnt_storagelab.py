"""The mixed lab cluster of the storage tests (test_storage_lab*.py): node1 is a namespace node
and the master (the coordinator runs fast there), node2 and node3 are QEMU TCG guest nodes with
the volume group ``xenvg`` on their data disk (tests/lab/labup.py, docs/lab.md "Mixed labs"),
added with ``gnt-node add``; plain, file, diskless and drbd enabled, kvm with accel=tcg. A
third guest, node4, boots with them but stays out of the cluster until a test adds it (a new
DRBD secondary for replace-disks -n) and removes it again; it is paused (QMP stop) while
outside the cluster (``spare_guest``): idle, it used 0.5-0.7% of a core (measured), so the
pause saves little, but costs nothing either.

One cluster for the whole session (``storage_cluster``, registered by this directory's
conftest.py): its start costs about 3-5 min (the guests' boot and two node adds), shared by
the plain and the drbd test modules. Each test cleans up the instances and volumes it made.
Uses the slot of ``$GNT_LAB_SLOT``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_dir_for,
    lab_skip_reason,
    start_cluster,
    stop_cluster,
)

VG = "xenvg"
OS = "tinylinux"          # the OS of the other lab tests; never run here (--no-install)
GUESTS = ("node2", "node3")
# booted with the others but not in the cluster: replace-disks -n adds it (test_storage_lab_replace)
SPARE_GUEST = "node4"
INIT_OPTIONS = (f"--enabled-disk-templates plain,file,diskless,drbd --vg-name {VG}"
                " -H kvm:accel=tcg")
PREREQ_EXIT = 1           # Ganeti's exit code for a failed job (prerequisites not met)


def skip_reason() -> str | None:
    """Why a mixed lab cluster cannot run here, or None."""
    reason = lab_skip_reason()
    if reason:
        return reason
    import labguest  # on sys.path through gnt_labcluster
    return labguest.skip_reason()


_RUNNING: list[LabCluster] = []     # the session's cluster while it is up


def storage_cluster_fixture() -> Iterator[LabCluster]:
    """The session's mixed lab cluster (see the module docstring)."""
    t0 = time.monotonic()
    cluster = start_cluster(lab_dir_for("storage"), 1, add=len(GUESTS), guests=len(GUESTS) + 1,
                            data_gib=10, init_options=INIT_OPTIONS)
    _RUNNING.append(cluster)
    _pause_spare(cluster)
    print(f"\nstorage cluster: lab up {cluster.lab.timings.get('up', 0):.1f} s, "
          f"cluster with {len(GUESTS) + 1} nodes (and {SPARE_GUEST} outside it)"
          f" {time.monotonic() - t0:.1f} s")
    try:
        yield cluster
    finally:
        stop_session_cluster()


def stop_session_cluster() -> None:
    """Take the session's cluster down now (if up): called after the last storage test, so
    that the lab modules that follow on this worker find its lab slot free. The storage
    tests run one after another (tests/gnt_parallel.py queues them as one group)."""
    while _RUNNING:
        stop_cluster(_RUNNING.pop())


def _pause_spare(lc: LabCluster) -> None:
    import labguest  # on sys.path through gnt_labcluster
    labguest.pause_node(lc.lab, SPARE_GUEST)


@contextlib.contextmanager
def spare_guest(lc: LabCluster) -> Iterator[str]:
    """``SPARE_GUEST`` running for the ``with`` block: resumed (it answers SSH, its clock
    stepped to the host's: it stood still while paused), paused again afterwards unless it is
    still in the cluster (or the master cannot tell)."""
    import labguest
    behind = labguest.resume_node(lc.lab, SPARE_GUEST)
    print(f"  {SPARE_GUEST} resumed; its clock was {behind:.1f} s behind, stepped")
    try:
        yield SPARE_GUEST
    finally:
        try:
            members = [n["name"] for n in lc.config()["nodes"].values()]
        except Exception:   # noqa: BLE001 - leave it running: a later test may look at it
            members = [lc.fqdn(SPARE_GUEST)]
        if lc.fqdn(SPARE_GUEST) not in members:
            _pause_spare(lc)


def timed_fixture(request: pytest.FixtureRequest) -> Iterator[Callable[[str], None]]:
    """``timed(label)`` prints the seconds since the previous mark (and the test's total)."""
    start = last = time.monotonic()

    def mark(label: str) -> None:
        nonlocal last
        now = time.monotonic()
        print(f"  {request.node.name}: {label} {now - last:.1f} s")
        last = now

    yield mark
    print(f"  {request.node.name}: total {time.monotonic() - start:.1f} s")


def lv_names(lc: LabCluster, node: str) -> set[str]:
    """The LVs of ``xenvg`` on a guest node, from ``lvs`` there."""
    out = lc.run(node, f"lvs --noheadings -o lv_name {VG}").stdout
    return set(out.split())


def instance_lvs(lc: LabCluster, name: str) -> list[tuple[str, str]]:
    """(vg, lv) of each disk of an instance, from the master's configuration."""
    cfg = lc.config()
    for inst in cfg["instances"].values():
        if inst["name"] == name:
            return [tuple(cfg["disks"][disk]["logical_id"]) for disk in inst["disks"]]
    raise KeyError(name)


def instance_names(lc: LabCluster) -> list[str]:
    return lc.gnt("gnt-instance list --no-headers -o name").stdout.split()


def instance_disk(lc: LabCluster, name: str) -> dict[str, Any]:
    """The (first) disk object of an instance in the master's configuration."""
    cfg = lc.config()
    for inst in cfg["instances"].values():
        if inst["name"] == name:
            return dict(cfg["disks"][inst["disks"][0]])
    raise KeyError(name)
