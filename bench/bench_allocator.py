"""Allocator speed: build the IAllocator request and place instances one after another on a
simulated cluster (no daemon, no nodes), with the built-in allocator and, if installed, hail.

Run: .venv/bin/python bench/bench_allocator.py [--nodes 40] [--instances 1000]
     [--hail-instances 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from gnt import iallocator as ia
from gnt.core.errors import OpPrereqError
from gnt.iallocator import simulate as sim

HAIL = "/usr/lib/ganeti/iallocators/hail"
HAIL_ARGS = ["--static-kvm-node-memory=0"]  # use our reserved_memory, as the built-in does


def workload(count: int, seed: int = 7) -> list[tuple[str, int, int, str]]:
    """Deterministic instance mix: (name, memory MiB, disk MiB, template)."""
    rng = random.Random(seed)
    return [(f"inst{idx:04d}", rng.choice((512, 1024, 2048)), rng.choice((5120, 10240)),
             rng.choice(("sharedfile", "file"))) for idx in range(count)]


def run(allocator: str, nodes: int, count: int) -> None:
    config, live = sim.cluster(nodes, memory=65536, disk=2 * 1024 * 1024, cpus=16)
    build: list[float] = []
    place: list[float] = []
    failed = 0
    args = HAIL_ARGS if allocator != "builtin" else []
    start = time.perf_counter()
    for name, memory, disk, template in workload(count):
        t0 = time.perf_counter()
        data = ia.build_request(config, live, ia.request_allocate(name, memory, [disk],
                                                                  template))
        t1 = time.perf_counter()
        try:
            target = ia.run_iallocator(allocator, data, args=args).nodes
        except OpPrereqError:
            failed += 1
            target = []
        t2 = time.perf_counter()
        build.append(t1 - t0)
        place.append(t2 - t1)
        if target:
            sim.add_instance(config, live, name, target, memory=memory, disks=[disk],
                             template=template)
    total = time.perf_counter() - start
    free = [v["free_memory"] for v in live.values() if v]
    print(f"{allocator}: {count} allocations on {nodes} nodes in {total:.2f} s"
          f" ({failed} refused)")
    print(f"  build_request: mean {statistics.mean(build) * 1000:.2f} ms,"
          f" last {build[-1] * 1000:.2f} ms (input grows with the instance count)")
    print(f"  allocate:      mean {statistics.mean(place) * 1000:.2f} ms,"
          f" max {max(place) * 1000:.2f} ms")
    print(f"  per instance:  {total / count * 1000:.2f} ms;"
          f" free memory per node after: min {min(free)} MiB, max {max(free)} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--hail-instances", type=int, default=200,
                        help="fewer for hail: each call starts a process and parses the input")
    opts = parser.parse_args()
    run("builtin", opts.nodes, opts.instances)
    if os.access(HAIL, os.X_OK):
        print(f"(hail: {opts.hail_instances} allocations, not {opts.instances}: one process"
              " per call)")
        run("hail", opts.nodes, opts.hail_instances)
    else:
        print(f"hail not installed ({HAIL}): skipped")


if __name__ == "__main__":
    main()
