"""Node operations in a 3-node lab (tests/lab: namespaces with their own sshd and libvirtd on
this machine), issue 11. For each executor configuration (bench_node_ops.CONFIGS, set in the
master daemon's environment): add (file disk + tinylinux), shutdown --timeout=0, startup,
reboot --type=hard and ACPI shutdown of an instance on the master node (node1, Ansible's
local connection) and of one on node2 (over SSH); migrate and failover of a booted guest on
shared file storage; remove. Each next to its floor where there is one: the same libvirt
call made from this process through the node's libvirtd, and for migrate the collection's
libvirt_migrate.migrate() called directly.
Then 100 instance adds (file disk + tinylinux, not started) submitted at once across the nodes.

Usage: ``.venv/bin/python bench/bench_lab_ops.py [ROUNDS] [ADDS]`` as root (3 rounds, 100
adds; ADDS=0 skips them). The lab runs in slot $GNT_LAB_SLOT (else 0).
``GNT_BENCH_CONFIGS=warm,plain`` runs only those executor configurations.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import _floors as floors  # noqa: E402
from bench_node_ops import CONFIGS, print_table  # noqa: E402
from gnt_labcluster import (  # noqa: E402
    BOOT_MARKER,
    LabCluster,
    lab_dir_for,
    lab_skip_reason,
    start_cluster,
    stop_cluster,
)

from gnt.core.collection import load_module_util  # noqa: E402

ADD = "gnt-instance add -o tinylinux -t file --disk 0:size=32M -B memory=128M"


def clock(action: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def set_config(lc: LabCluster, executor: str, interpreter: str) -> None:
    """Restart the master daemon with the executor configuration in its environment."""
    lc.gnt("gnt-masterd stop")
    lc.run("node1", f"GNT_ANSIBLE_EXECUTOR={executor} GNT_MODULE_INTERPRETER={interpreter}"
                    " gnt-masterd start")
    time.sleep(1)  # the warm worker starts in the background


Figures = dict[str, tuple[list[float], list[float]]]


def note(figures: Figures, op: str, ours: float, floor: float | None = None) -> None:
    entry = figures.setdefault(op, ([], []))
    entry[0].append(ours)
    if floor is not None:
        entry[1].append(floor)


def node_ops(lc: LabCluster, libvirt, label: str, node: str, rounds: int,
             figures: Figures) -> None:
    """add, shutdown, startup, reboot, remove of an instance on ``node``."""
    name = f"{label}-{node}"
    where = "local" if node == "node1" else "SSH"
    # add: the median of ``rounds`` adds (the first one on a node also starts that node's
    # warm module interpreter)
    for extra in range(1, rounds):
        note(figures, f"add ({where})", clock(lc.gnt, f"{ADD} -n {node} {name}-{extra}"))
        lc.gnt(f"gnt-instance remove -f --shutdown-timeout=0 {name}-{extra}")
    note(figures, f"add ({where})", clock(lc.gnt, f"{ADD} -n {node} {name}"))
    conn = libvirt.open(lc.lab.node(node).libvirt_uri)
    dom = conn.lookupByName(name)
    for _round in range(rounds):
        shutdown = clock(lc.gnt, f"gnt-instance shutdown --timeout=0 {name}")
        start_floor = clock(dom.create)
        note(figures, f"shutdown --timeout=0 ({where})", shutdown, clock(dom.destroy))
        note(figures, f"startup ({where})", clock(lc.gnt, f"gnt-instance startup {name}"),
             start_floor)
        note(figures, f"reboot --type=hard ({where})",
             clock(lc.gnt, f"gnt-instance reboot --type=hard {name}"),
             clock(lambda: (dom.destroy(), dom.create())))
        acpi_shutdown(lc, dom, node, name, where, figures)
    lc.gnt(f"gnt-instance shutdown --timeout=0 {name}")
    root = lc.lab.node(node).gnt_root
    removed = floors.remove(conn, dom, lambda path: lc.root_on_host(node)
                            / Path(path).relative_to(root))
    conn.close()
    note(figures, f"remove ({where})", clock(lc.gnt, f"gnt-instance remove -f {name}"), removed)


def acpi_shutdown(lc: LabCluster, dom, node: str, name: str, where: str,
                  figures: Figures) -> None:
    """ACPI shutdown of the booted guest, ours and the floor (``dom.shutdown()`` until it is
    off), each from a fresh boot (a hard reboot, waited for); the instance runs afterwards."""
    boots = lc.console(node, name).count(BOOT_MARKER)
    lc.gnt(f"gnt-instance reboot --type=hard {name}")
    _wait_boots(lc, node, name, boots + 1)
    ours = clock(lc.gnt, f"gnt-instance shutdown --timeout=60 {name}")
    boots = lc.console(node, name).count(BOOT_MARKER)
    dom.create()
    _wait_boots(lc, node, name, boots + 1)
    floor = floors.acpi_shutdown(dom)
    note(figures, f"shutdown (ACPI) ({where})", ours, floor)
    lc.gnt(f"gnt-instance startup {name}")


def move_ops(lc: LabCluster, libvirt, label: str, rounds: int, figures: Figures) -> None:
    """migrate (ours there and back, then the floor there and back) and failover of a
    booted guest on shared file storage."""
    mig = load_module_util("libvirt_migrate")
    name = f"{label}-m"
    lc.gnt(f"gnt-instance add -o tinylinux -t sharedfile --disk 0:size=32M -B memory=128M"
           f" -n node1 {name}")
    lc.wait_console("node1", name, BOOT_MARKER)
    uri = {node: lc.lab.node(node).libvirt_uri for node in ("node1", "node2", "node3")}
    for _round in range(rounds):
        for there in ("node2", "node1"):
            note(figures, "migrate (live)", clock(lc.gnt, f"gnt-instance migrate -f -n {there} {name}"))
        for source, target in (("node1", "node2"), ("node2", "node1")):
            figures["migrate (live)"][1].append(clock(_floor_migrate, libvirt, mig, name,
                                                      uri[source], uri[target]))
    source = lc.instance_node(name)
    target = "node3" if source != "node3" else "node2"
    boots = {target: lc.console(target, name).count(BOOT_MARKER)}
    note(figures, "failover", clock(lc.gnt, f"gnt-instance failover -f -n {target} {name}"))
    # the floor there and back, each from a booted guest (ACPI needs one)
    for there, back in ((target, source), (source, target)):
        _wait_boots(lc, there, name, boots[there] + 1)
        boots[back] = lc.console(back, name).count(BOOT_MARKER)
        figure = floors.failover(libvirt, name, uri[there], uri[back])
        if figure is not None:
            figures["failover"][1].append(figure)
    lc.gnt(f"gnt-instance shutdown --timeout=0 {name}")
    lc.gnt(f"gnt-instance remove -f {name}")


def _wait_boots(lc: LabCluster, node: str, name: str, count: int, timeout: float = 120) -> None:
    """Wait for ``count`` boot markers on ``name``'s console log on ``node`` (the log is
    appended to), then for the guest's ACPI handling (``floors.ACPI_READY``)."""
    deadline = time.monotonic() + timeout
    while lc.console(node, name).count(BOOT_MARKER) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not boot on {node}")
        time.sleep(0.1)
    time.sleep(floors.ACPI_READY)


def _floor_migrate(libvirt, mig, name: str, source: str, target: str) -> None:
    conn = libvirt.open(source)
    try:
        mig.migrate(conn, name, target, live=True, unsafe=True)
    finally:
        conn.close()


def many_adds(lc: LabCluster, count: int) -> float:
    """Submit ``count`` adds at once (the allocator places them); seconds until all are done.

    As Ganeti's own scaling test: with ``--opportunistic-locking`` (each add locks the nodes
    free at the time and the allocator chooses among them, instead of all adds waiting for
    every node's lock in turn). The lab's nodes have this machine's 2 CPUs: at Ganeti's default
    vcpu-ratio of 4 the allocator places 8 one-vCPU instances per node, so the ratio is raised
    first (as that test does)."""
    lc.gnt(f"gnt-cluster modify --ipolicy-vcpu-ratio={count}")
    start = time.monotonic()
    lc.run("node1", f"seq 1 {count} | xargs -P 10 -I N gnt-instance add --no-name-check"
                    " --submit --opportunistic-locking -o tinylinux -t file --disk 0:size=32M"
                    " -B memory=64M --no-start manyN.lab.example >/dev/null")
    submitted = time.monotonic() - start
    while True:
        statuses = lc.gnt("gnt-job list --no-headers -o status").stdout.split()
        if not any(status in ("queued", "waiting", "running") for status in statuses):
            break
        time.sleep(0.5)
    total = time.monotonic() - start
    failed = lc.gnt("gnt-job list --no-headers -o status").stdout.split().count("error")
    done = len(lc.gnt("gnt-instance list --no-headers -o name").stdout.split())
    print(f"{count} adds submitted at once (file disk + tinylinux, not started): {total:.1f} s"
          f" ({submitted:.1f} s of it submitting; {done} instances, {failed} failed jobs;"
          " Ganeti 3.0.2: 75 s for 100 adds with a fake hypervisor and no disks)", flush=True)
    return total


def main() -> None:
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    reason = lab_skip_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    adds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    lc = start_cluster(lab_dir_for("benchops"), 3)
    results: dict[str, dict[str, tuple[float, float | None]]] = {}
    try:
        hop = statistics.median(clock(lc.run, "node1", "true") for _attempt in range(7))
        print(f"the SSH hop into node1 that every gnt command of this bench takes: {hop:.3f} s"
              " (subtracted from our figures below)", flush=True)
        wanted = os.environ.get("GNT_BENCH_CONFIGS", "").split(",")
        for label, executor, interpreter in CONFIGS:
            if wanted != [""] and label not in wanted:
                continue
            set_config(lc, executor, interpreter)
            figures: Figures = {}
            for node in ("node1", "node2"):
                node_ops(lc, libvirt, label, node, rounds, figures)
            move_ops(lc, libvirt, label, rounds, figures)
            results[label] = {op: (statistics.median(ours) - hop,
                                   statistics.median(floor) if floor else None)
                              for op, (ours, floor) in figures.items()}
            print(f"  ({label} done)", flush=True)
        set_config(lc, "warm", "warm")
        if adds:
            many_adds(lc, adds)
    finally:
        stop_cluster(lc)
    print_table("operation (3-node lab)", results)
    print("floor: the same libvirt calls from this process through the node's libvirtd"
          " (migrate: libvirt_migrate.migrate() called directly, the other way back; failover:"
          " ACPI shutdown, define and start on the other node, undefine, there and back; ACPI"
          " shutdown: dom.shutdown() of a booted guest until it is off; remove:"
          " undefine a copy and delete its disk); none for add (see bench_node_ops on the host)."
          " The nodes' modules run in their warm module interpreter (plain: a fresh Python).")


if __name__ == "__main__":
    main()
