"""Node calls (gnt.nodes.agent, issue 11): what the master pays to ask another node a question,
without the SSH hop. Each call runs through the node's shell exactly as the master sends it
(``ssh.run`` of a local target), in the two ways ``nodes.rpc`` has:

- ``fresh``: ``python -m gnt.nodes.agent CALL`` (``GNT_MODULE_INTERPRETER=fresh``), a new
  interpreter per call;
- ``warm``: ``agent.warm_request`` (the default), a modexec client handing the call's script
  to the warm interpreter server of the same Python, which forks for it;

and next to them the floor: the same call answered in this process (``NodeCall.local``, what
the master does for itself). Printed: median ms of each, and the ratios fresh/warm and
warm/floor.

Usage: ``.venv/bin/python bench/bench_node_calls.py [ROUNDS]`` (default 30) as root. The warm
servers it starts live in a private directory and are stopped at the end.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from gnt.nodes import agent, ssh

TARGET = ssh.Target("bench", "127.0.0.1", local=True)
CALLS: tuple[tuple[str, dict[str, object]], ...] = (
    ("domains", {}),
    ("info", {"storage_dir": "/tmp"}),
)


def median_ms(action: Callable[[], object], rounds: int) -> float:
    """Median wall time of ``action`` in ms (one unmeasured run first)."""
    action()
    times = []
    for _round in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _checked(result: ssh.Result) -> ssh.Result:
    if not result.ok:
        raise SystemExit(f"node call failed: {result.reason()}")
    return result


def bench_call(name: str, kwargs: dict[str, object], rounds: int
               ) -> tuple[float, float, float]:
    """Median ms of node call ``name``: fresh, warm, and in this process (the floor)."""
    fresh_cmd = agent.command_line(name, **kwargs)
    warm_cmd, warm_in = agent.warm_request(name, **kwargs)
    fresh = median_ms(lambda: _checked(ssh.run(TARGET, fresh_cmd)), rounds)
    warm = median_ms(lambda: _checked(ssh.run(TARGET, warm_cmd, stdin=warm_in)), rounds)
    floor = median_ms(lambda: agent.CALLS[name].local(**kwargs), rounds)
    return fresh, warm, floor


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    run_dir = tempfile.mkdtemp(prefix="gnt-bench-modexec-")
    os.environ["GNT_MODEXEC_DIR"] = run_dir
    print(f"node calls through the node's shell, median of {rounds} (ms)")
    print(f"{'call':10} {'fresh':>8} {'warm':>8} {'floor':>8}"
          f" {'fresh/warm':>11} {'warm/floor':>11}")
    try:
        for name, kwargs in CALLS:
            fresh, warm, floor = bench_call(name, kwargs, rounds)
            print(f"{name:10} {fresh:8.1f} {warm:8.1f} {floor:8.1f} {fresh / warm:11.2f}"
                  f" {warm / floor:11.2f}")
    finally:
        out = subprocess.run(["pgrep", "-f", f"modexec.py --serve {run_dir}/"],
                             capture_output=True, text=True, check=False).stdout
        for pid in out.split():
            os.kill(int(pid), signal.SIGTERM)
        time.sleep(0.2)
        subprocess.run(["rm", "-rf", run_dir], check=False)


if __name__ == "__main__":
    main()
