"""Node operations on a real one-node cluster (libvirt + QEMU), in three executor
configurations (see CONFIGS), each next to its floor: the same libvirt calls made directly
from this process on the same domain, in the same run. Prints medians, the ratio to the floor
and Ganeti 3.0.2's figure on this kind of machine (issue 11).

Usage: ``.venv/bin/python bench/bench_node_ops.py [ROUNDS]`` as root (default 3 rounds);
``GNT_BENCH_CONFIGS=warm`` runs only the configurations named (comma-separated).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _floors as floors
from _cluster import BIN, bench_cluster, env_for, timed

GANETI = {"add": 1.79, "startup": 1.25, "shutdown --timeout=0": 1.96, "remove": 1.94}
URI = "qemu:///system"


def console_boots(env: dict[str, str], name: str) -> int:
    out = subprocess.run([str(BIN / "gnt-instance"), "console", name], env=env,
                         capture_output=True, text=True, check=False).stdout
    return out.count("gnt-tinylinux: booted")


def wait_boots(env: dict[str, str], name: str, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while console_boots(env, name) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not boot")
        time.sleep(0.2)


def clock(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


#: The configurations compared: (label, GNT_ANSIBLE_EXECUTOR, GNT_MODULE_INTERPRETER).
CONFIGS = (("warm", "warm", "warm"), ("runner", "runner", "warm"), ("plain", "runner", "fresh"))


def bench_mode(config: tuple[str, str, str], rounds: int) -> dict[str, tuple[float, float | None]]:
    """Median of ours and of the floor, per operation, in one configuration."""
    import libvirt

    mode, os.environ["GNT_ANSIBLE_EXECUTOR"], os.environ["GNT_MODULE_INTERPRETER"] = config
    figures: dict[str, tuple[list[float], list[float]]] = {}

    def note(op: str, ours: float, floor: float | None = None) -> None:
        entry = figures.setdefault(op, ([], []))
        entry[0].append(ours)
        if floor is not None:
            entry[1].append(floor)

    with bench_cluster(f"ops-{mode}") as root:
        env = env_for(root)
        gi = str(BIN / "gnt-instance")
        add = [gi, "add", "--no-name-check", "-o", "tinylinux", "-t", "file", "--disk",
               "0:size=64M", "-B", "memory=128M"]
        first = timed(add + ["first.bench.example"], env)  # pays the module payload builds
        timed([gi, "shutdown", "--timeout=0", "first.bench.example"], env)
        name = "vm.bench.example"
        conn = libvirt.open(URI)
        note("add", timed(add + [name], env), _add_floor(conn, name))
        dom = conn.lookupByName(name)
        for _round in range(rounds):
            # running (booting) -> ours: hard stop; floor: start + hard stop
            note("shutdown --timeout=0", timed([gi, "shutdown", "--timeout=0", name], env))
            figures["startup"] = figures.get("startup", ([], []))
            figures["startup"][1].append(clock(dom.create))
            figures["shutdown --timeout=0"][1].append(clock(dom.destroy))
            note("startup", timed([gi, "startup", name], env))
            note("reboot --type=hard", timed([gi, "reboot", "--type=hard", name], env),
                 clock(lambda: (dom.destroy(), dom.create())))
            # ACPI needs a booted guest: wait for a new boot marker in the (appended) log
            boots = console_boots(env, name)
            timed([gi, "reboot", "--type=hard", name], env)
            wait_boots(env, name, boots + 1)
            time.sleep(1)  # the guest's ACPI handling comes up just after its boot marker
            note("shutdown (ACPI)", timed([gi, "shutdown", "--timeout=60", name], env))
            boots = console_boots(env, name)
            timed([gi, "startup", name], env)
            wait_boots(env, name, boots + 1)
            time.sleep(floors.ACPI_READY)
            acpi = floors.acpi_shutdown(dom)
            if acpi is not None:
                figures["shutdown (ACPI)"][1].append(acpi)
            dom.create()  # running again, as the cluster has it
        timed([gi, "shutdown", "--timeout=0", name], env)
        note("remove", timed([gi, "remove", "-f", "first.bench.example"], env))
        disk_files = [Path(path) for path in _disk_paths(dom.XMLDesc())]
        figures["remove"][1].append(clock(lambda: (dom.undefine(),
                                                   [path.unlink() for path in disk_files])))
        conn.close()
    print(f"  ({mode}: the first add of a fresh daemon took {first:.2f} s)", flush=True)
    return {op: (statistics.median(ours), statistics.median(floor) if floor else None)
            for op, (ours, floor) in figures.items()}


def _add_floor(conn, name: str) -> float:
    """The floor of an add: :func:`_floors.add` on a copy of ``name``'s spec."""
    from gnt.config.store import ConfigStore
    from gnt.nodes.nodevars import instance_spec, node_vars

    store = ConfigStore.load()
    return floors.add(conn, instance_spec(store, store.lookup("instances", name)),
                      node_vars(store, store.master_node()))


def _disk_paths(xml: str) -> list[str]:
    import xml.etree.ElementTree as ET

    return [source.get("file") for source in ET.fromstring(xml).iter("source")
            if source.get("file")]


def print_table(title: str, results: dict[str, dict[str, tuple[float, float | None]]]) -> None:
    """One row per operation: each configuration's median, the floor, the ratios to it and
    Ganeti 3.0.2's figure (by the operation's name before any " (...)") with the ratio."""
    labels = [config[0] for config in CONFIGS if config[0] in results]
    nan = float("nan")
    width = max(len(title), *(len(op) for op in results[labels[0]])) + 2
    print("\n" + f"{title:{width}}" + "".join(f"{label:>8}" for label in labels)
          + f"{'floor':>7}" + "".join(f"{label + '/floor':>13}" for label in labels)
          + f"{'Ganeti':>8}{labels[0] + '/Ganeti':>12}")
    for op in results[labels[0]]:
        floor = results[labels[0]][op][1]
        ours = [results[label][op][0] for label in labels]
        ganeti = GANETI.get(op.split(" (")[0])
        print(f"{op:{width}}" + "".join(f"{value:8.2f}" for value in ours)
              + f"{floor if floor is not None else nan:7.2f}"
              + "".join(f"{value / floor if floor else nan:13.1f}" for value in ours)
              + f"{ganeti or nan:8.2f}{ours[0] / ganeti if ganeti else nan:12.2f}")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    wanted = os.environ.get("GNT_BENCH_CONFIGS", "").split(",")
    results = {config[0]: bench_mode(config, rounds) for config in CONFIGS
               if wanted == [""] or config[0] in wanted}
    print_table("operation", results)
    print("warm: warm worker + warm module interpreter (the default); runner: plain ansible-runner"
          " runs + warm module interpreter; plain: plain ansible-runner + a fresh Python per"
          " module (Ansible as it comes).")
    print("floor: the same libvirt and module_utils calls from this process (add: file disk,"
          " OS create script, domain defined and started, on a copy of the instance; ACPI"
          " shutdown: dom.shutdown() of a booted guest until it is off; remove: undefine and"
          " delete the disk). On the host, PID 1 reaps late; libvirtd runs under tini -s, see"
          " scripts/setup.sh.")


if __name__ == "__main__":
    main()
