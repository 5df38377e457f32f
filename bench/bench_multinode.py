"""Multi-node figures on a real 3-node lab cluster (tests/lab, TCG guests):

- time to add 20 instances across 3 nodes with the built-in allocator (no -n), and where they
  went;
- ``gnt-instance migrate`` (the whole stack: job, Ansible, libvirt) of a booted 512 MiB guest on
  shared storage: wall time and libvirt's downtime, several rounds;
- ``gnt-instance failover`` of the same guest: command time and time until it has booted again
  on the new node;
- ``gnt-cluster master-failover`` and back.

Usage: ``.venv/bin/python bench/bench_multinode.py [ROUNDS]`` as root; the lab slot comes from
``$GNT_LAB_SLOT`` (default 0). bench/bench_migration.py compares the migration primitive itself
with ``virsh migrate``.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from gnt_labcluster import (  # noqa: E402
    BOOT_MARKER,
    LabCluster,
    lab_dir_for,
    lab_skip_reason,
    start_cluster,
    stop_cluster,
)


def timed(lc: LabCluster, command: str) -> tuple[float, str]:
    start = time.monotonic()
    out = lc.gnt(command).stdout
    return time.monotonic() - start, out


def bench_allocation(lc: LabCluster, count: int = 20) -> None:
    start = time.monotonic()
    each = []
    for i in range(count):
        seconds, _out = timed(lc, f"gnt-instance add -t diskless --no-install --no-start"
                                  f" -B memory=256M b{i}")
        each.append(seconds)
    total = time.monotonic() - start
    placed = Counter(lc.instance_node(f"b{i}") for i in range(count))
    print(f"add {count} instances with the allocator (diskless, no OS, not started):"
          f" {total:.1f} s total, median {statistics.median(each):.2f} s each;"
          f" placement {dict(sorted(placed.items()))}")
    for i in range(count):
        lc.gnt(f"gnt-instance remove -f b{i}")


def bench_migration(lc: LabCluster, rounds: int) -> None:
    lc.gnt("gnt-instance add -o tinylinux -t sharedfile --disk 0:size=64M -B memory=512M"
           " -n node1 big")
    lc.wait_console("node1", "big", BOOT_MARKER)
    times, downtimes = [], []
    nodes = ["node2", "node1"]
    for round_no in range(rounds):
        target = nodes[round_no % 2]
        seconds, out = timed(lc, f"gnt-instance migrate -f -n {target} big")
        times.append(seconds)
        found = re.search(r"Migration done in ([\d.]+) s \(downtime (\d+) ms\)", out)
        if found:
            downtimes.append(int(found.group(2)))
    print(f"gnt-instance migrate, booted 512 MiB guest, {rounds} rounds: median"
          f" {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f});"
          f" libvirt downtime median"
          f" {statistics.median(downtimes) if downtimes else 'n/a'} ms")


def bench_failover(lc: LabCluster) -> None:
    source = lc.instance_node("big")
    target = "node3" if source != "node3" else "node2"
    start = time.monotonic()
    lc.gnt(f"gnt-instance failover -f -n {target} big")
    command = time.monotonic() - start
    lc.wait_console(target, "big", BOOT_MARKER)
    booted = time.monotonic() - start
    print(f"gnt-instance failover of the booted guest: command {command:.2f} s, booted again"
          f" on {target} after {booted:.2f} s")


def bench_master_failover(lc: LabCluster) -> None:
    there, _out = timed_on(lc, "node2", "gnt-cluster master-failover")
    back, _out = timed_on(lc, "node1", "gnt-cluster master-failover")
    print(f"gnt-cluster master-failover: {there:.2f} s to node2, {back:.2f} s back")


def timed_on(lc: LabCluster, node: str, command: str) -> tuple[float, str]:
    start = time.monotonic()
    out = lc.gnt(command, node=node).stdout
    return time.monotonic() - start, out


def main() -> None:
    reason = lab_skip_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    start = time.monotonic()
    lc = start_cluster(lab_dir_for("bench"), 3)
    print(f"lab up + cluster init + 2 x gnt-node add: {time.monotonic() - start:.1f} s")
    try:
        bench_allocation(lc)
        bench_migration(lc, rounds)
        bench_failover(lc)
        bench_master_failover(lc)
    finally:
        stop_cluster(lc)


if __name__ == "__main__":
    main()
