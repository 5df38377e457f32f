"""Instance operation times on a real one-node cluster (libvirt + QEMU): diskless add
(config only), file-disk add with OS install and start, shutdown, startup, remove.
Prints figures next to Ganeti 3.0.2's (fake hypervisor, same kind of machine)."""

from __future__ import annotations

import statistics
import subprocess
import time

from _cluster import BIN, bench_cluster, env_for, timed


def wait_booted(env: dict[str, str], name: str, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([str(BIN / "gnt-instance"), "console", name], env=env,
                             capture_output=True, text=True, check=False).stdout
        if out.count("gnt-tinylinux: booted") >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"{name} did not boot")


def main() -> None:
    with bench_cluster("ops") as root:
        env = env_for(root)
        gi = str(BIN / "gnt-instance")
        diskless = [timed([gi, "add", "--no-name-check", "-t", "diskless", "--no-install", "--no-start",
                           f"d{i}.bench.example"], env) for i in range(10)]
        print(f"instance add, diskless, no install/start (config only): median"
              f" {statistics.median(diskless):.2f} s  (Ganeti: 0.94 s)")
        for i in range(10):
            timed([gi, "remove", "-f", f"d{i}.bench.example"], env)
        name = "vm.bench.example"
        add = timed([gi, "add", "--no-name-check", "-o", "tinylinux", "-t", "file", "--disk", "0:size=64M",
                     "-B", "memory=128M", name], env)
        print(f"instance add, file disk + tinylinux install + start: {add:.2f} s")
        shut, start = [], []
        for round_no in range(3):
            wait_booted(env, name, round_no + 1)
            shut.append(timed([gi, "shutdown", "--timeout=60", name], env))
            start.append(timed([gi, "startup", name], env))
        print(f"instance shutdown (ACPI, booted guest): median {statistics.median(shut):.2f} s"
              "  (Ganeti: 0.60 s)")
        print(f"instance startup: median {statistics.median(start):.2f} s  (Ganeti: 0.70 s)")
        wait_booted(env, name, 4)  # remove shuts a running guest down through ACPI first
        print(f"instance remove (ACPI shutdown of the booted guest, then removal):"
              f" {timed([gi, 'remove', '-f', name], env):.2f} s  (Ganeti: 1.94 s)")
        print("(every node-side step is one ansible-playbook run; its floor here is ~1 s)")


if __name__ == "__main__":
    main()
