"""drbd instances on a mixed lab cluster (issue 14): node1 the master (namespace node), node2
and node3 QEMU TCG guest nodes with ``xenvg``. Measures, for a disk of ``--size`` MiB:

1. ``gnt-instance add -t drbd -n node2:node3 --no-install --no-start`` wall time (it waits
   for the initial resync), the same add with ``--no-wait-for-sync``, and the initial resync
   rate: the resync is timed on the primary by polling ``/proc/drbd`` from the moment the
   ``--no-wait-for-sync`` add returns (a lower bound of the rate's time, so an upper bound of
   the rate) and also derived from the difference of the two adds' wall times;
2. O_DIRECT 1 MiB writes of ``--size`` MiB into the instance's device link on the primary
   (``GNT_ROOT/var/run/gnt/instance-disks/NAME:0``, after ``activate-disks``);
3. ``gnt-instance replace-disks -s`` wall time (new volumes on node3, full resync).

Floors, measured in the same run on the same two guests: a raw ``drbdadm`` resource on an LV
pair of the same size with the settings our role uses (external 128 MiB meta-data LV, protocol
C, the fixed ``resync-rate 61440k`` with ``c-plan-ahead 0``: Ganeti's default disk parameters,
dynamic-resync off): its initial resync (``primary --force`` to UpToDate/UpToDate), a
full resync again (``invalidate-remote``, the floor of replace-disks), O_DIRECT writes into
the connected device, and O_DIRECT writes into a plain LV. Ratios are floor time / our time
(1.0 = as fast as the floor; for rates our rate / floor rate).

Usage: ``GNT_LAB_SLOT=3 .venv/bin/python bench/bench_drbd_instances.py [--size 1024]
[--repeat 1]`` as root. Brings up its own mixed lab cluster (about 4-5 min) in slot
$GNT_LAB_SLOT (else 0) and takes it down at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "lab"))

from gnt_labcluster import LabCluster, start_cluster, stop_cluster  # noqa: E402
from labnet import active_lab_dir  # noqa: E402

VG = "xenvg"
OS = "tinylinux"
INIT_OPTIONS = (f"--enabled-disk-templates plain,file,diskless,drbd --vg-name {VG}"
                " -H kvm:accel=tcg")
GUESTS = ("node2", "node3")
RAW_MINOR = 100          # far from the minors the cluster hands out
RAW_PORT = 7790          # outside the cluster's port pool (11000-14999)


def sh(lc: LabCluster, node: str, command: str, timeout: float = 1800) -> str:
    return lc.run(node, command, timeout=timeout).stdout


def timed_gnt(lc: LabCluster, command: str) -> float:
    start = time.perf_counter()
    lc.gnt(command, timeout=3600)
    return time.perf_counter() - start


def dd_rate(line: str) -> float:
    """MiB/s from dd's last line (``N bytes (...) copied, S s, ...``)."""
    words = line.split()
    return int(words[0]) / float(words[words.index("copied,") + 1]) / 2**20


def dd_write(lc: LabCluster, node: str, dev: str, size_mib: int) -> float:
    return dd_rate(sh(lc, node, f"dd if=/dev/zero of={dev} bs=1M count={size_mib} "
                                "oflag=direct 2>&1 | tail -1"))


def wait_synced(lc: LabCluster, node: str, minor: int) -> tuple[float, float]:
    """Poll ``/proc/drbd`` inside ``node`` until ``minor`` is UpToDate/UpToDate; the node's
    clock at the start and at the end of the wait."""
    out = sh(lc, node, f"t0=$(date +%s.%N); while ! grep -qE '^ *{minor}: .*ds:UpToDate/"
                       "UpToDate' /proc/drbd; do sleep 0.1; done; t1=$(date +%s.%N); "
                       "echo \"$t0 $t1\"")
    t0, t1 = (float(x) for x in out.split()[-2:])
    return t0, t1


def raw_resource(lc: LabCluster, size_mib: int) -> str:
    hosts = "\n".join(
        f"  on {lc.fqdn(node)} {{\n    device /dev/drbd{RAW_MINOR};\n"
        f"    disk /dev/{VG}/rawdata;\n    meta-disk /dev/{VG}/rawmeta;\n"
        f"    address {lc.lab.node(node).address}:{RAW_PORT};\n  }}" for node in GUESTS)
    return ("resource rawbench {\n  net { protocol C; }\n"
            "  disk { c-plan-ahead 0; resync-rate 61440k; on-io-error detach; }\n"
            f"{hosts}\n}}\n")


def raw_floor(lc: LabCluster, size_mib: int) -> dict[str, float]:
    """The raw drbdadm figures on node2 (primary) and node3 (seconds or MiB/s)."""
    res = raw_resource(lc, size_mib)
    setup = (f"set -e; lvcreate -q -y -L {size_mib}m -n rawdata {VG} >/dev/null; "
             f"lvcreate -q -y -L 128m -n rawmeta {VG} >/dev/null; "
             f"dd if=/dev/zero of=/dev/{VG}/rawmeta bs=1M count=128 oflag=direct 2>/dev/null; "
             f"cat >/etc/drbd.d/rawbench.res <<'EOF'\n{res}EOF\n"
             "yes yes | drbdadm create-md rawbench >/dev/null 2>&1; drbdadm up rawbench")
    teardown = ("drbdadm down rawbench; rm -f /etc/drbd.d/rawbench.res; "
                f"lvremove -q -y {VG}/rawdata {VG}/rawmeta >/dev/null")
    fig: dict[str, float] = {}
    try:
        plain = (f"lvcreate -q -y -L {size_mib}m -n rawplain {VG} >/dev/null && "
                 f"dd if=/dev/zero of=/dev/{VG}/rawplain bs=1M count={size_mib} oflag=direct "
                 f"2>&1 | tail -1; lvremove -q -y {VG}/rawplain >/dev/null")
        fig["plain_write"] = dd_rate(sh(lc, "node2", plain).strip().splitlines()[-1])
        for node in GUESTS:
            sh(lc, node, setup)
        start = time.perf_counter()
        sh(lc, "node2", "drbdadm primary --force rawbench")
        t0, t1 = wait_synced(lc, "node2", RAW_MINOR)
        fig["resync_wall"] = time.perf_counter() - start
        fig["resync_s"] = t1 - t0
        fig["write"] = dd_write(lc, "node2", f"/dev/drbd{RAW_MINOR}", size_mib)
        start = time.perf_counter()
        sh(lc, "node2", "drbdadm invalidate-remote rawbench")
        time.sleep(0.5)
        t0, t1 = wait_synced(lc, "node2", RAW_MINOR)
        fig["full_resync_s"] = time.perf_counter() - start
    finally:
        for node in GUESTS:
            lc.run(node, teardown, check=False, timeout=300)
    return fig


def minor_on(lc: LabCluster, name: str, node: str) -> int:
    cfg = lc.config()
    inst = next(i for i in cfg["instances"].values() if i["name"] == name)
    lid = cfg["disks"][inst["disks"][0]]["logical_id"]
    uuid = next(u for u, n in cfg["nodes"].items() if n["name"].split(".")[0] == node)
    return int(lid[3] if lid[0] == uuid else lid[4])


def ours(lc: LabCluster, size_mib: int, run: int) -> dict[str, float]:
    add = (f"gnt-instance add -t drbd -n node2:node3 --disk 0:size={size_mib}M --no-install"
           f" --no-start -o {OS}")
    a, b = f"bdrbd{run}a", f"bdrbd{run}b"
    fig: dict[str, float] = {}
    try:
        fig["add"] = timed_gnt(lc, f"{add} {a}")
        fig["add_nowait"] = timed_gnt(lc, f"{add} --no-wait-for-sync {b}")
        minor = minor_on(lc, b, "node2")
        out = sh(lc, "node2", f"grep -E '^ *{minor}: ' /proc/drbd || true")
        if "ds:UpToDate/UpToDate" in out:
            fig["resync_after_nowait_s"] = 0.0
        else:
            t0, t1 = wait_synced(lc, "node2", minor)
            fig["resync_after_nowait_s"] = t1 - t0
        lc.gnt(f"gnt-instance remove -f {b}", timeout=900)
        lc.gnt(f"gnt-instance activate-disks {a}", timeout=900)
        dev = f"{lc.lab.node('node2').gnt_root}/var/run/gnt/instance-disks/{a}:0"
        fig["write"] = dd_write(lc, "node2", dev, size_mib)
        fig["replace_s"] = timed_gnt(lc, f"gnt-instance replace-disks -s {a}")
        lc.gnt(f"gnt-instance deactivate-disks {a}", timeout=900)
    finally:
        for name in (a, b):
            lc.gnt(f"gnt-instance remove -f {name}", check=False, timeout=900)
    return fig


def fmt(values: list[float], unit: str) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} {unit}"
    return f"min {min(values):.1f} / median {statistics.median(values):.1f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=int, default=1024, help="disk size in MiB (1024)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement (1)")
    args = parser.parse_args()
    slot = int(os.environ.get("GNT_LAB_SLOT", "0"))
    if active_lab_dir(slot) is not None:
        raise SystemExit(f"cannot run: a lab is up in slot {slot} ({active_lab_dir(slot)})")
    t0 = time.monotonic()
    lc = start_cluster(f"/tmp/gl{slot}-bd", 1, guests=len(GUESTS), data_gib=10,
                       init_options=INIT_OPTIONS)
    cluster_s = time.monotonic() - t0
    raws: list[dict[str, float]] = []
    gnts: list[dict[str, float]] = []
    try:
        for run in range(args.repeat):
            raws.append(raw_floor(lc, args.size))
            gnts.append(ours(lc, args.size, run))
        load = sh(lc, "node2", "cat /proc/loadavg").split()[:3]
    finally:
        stop_cluster(lc)
    host_load = Path("/proc/loadavg").read_text().split()[:3]
    size = args.size

    def col(rows: list[dict[str, float]], key: str) -> list[float]:
        return [row[key] for row in rows]

    def ratio(floor: float, our: float) -> str:
        return f"ratio {floor / our:.2f}" if our else "ratio -"

    raw_resync = [size / s for s in col(raws, "resync_s")]
    diff_rate = [size / (g["add"] - g["add_nowait"]) if g["add"] > g["add_nowait"]
                 else float("inf") for g in gnts]
    med = statistics.median
    rows = [
        ("mixed lab cluster up (1 namespace + 2 guest nodes)", f"{cluster_s:.0f} s"),
        (f"gnt-instance add -t drbd {size} MiB (waits for sync)", fmt(col(gnts, "add"), "s")),
        ("  same with --no-wait-for-sync", fmt(col(gnts, "add_nowait"), "s")),
        ("  resync left after the --no-wait-for-sync add (polled)",
         fmt(col(gnts, "resync_after_nowait_s"), "s")),
        ("initial resync rate, raw drbdadm (floor)", fmt(raw_resync, "MiB/s")),
        ("  ours, size / (add - add --no-wait-for-sync)",
         f"{fmt(diff_rate, 'MiB/s')}  {ratio(med(diff_rate), med(raw_resync))}"),
        ("  ours, size / wall time of the add (incl. volumes, config)",
         f"{fmt([size / g['add'] for g in gnts], 'MiB/s')}  "
         f"{ratio(size / med(col(gnts, 'add')), med(raw_resync))}"),
        ("  raw: primary --force to UpToDate incl. ssh (wall)",
         fmt(col(raws, "resync_wall"), "s")),
        (f"O_DIRECT 1 MiB writes {size} MiB: plain LV (floor)",
         fmt(col(raws, "plain_write"), "MiB/s")),
        ("  raw DRBD device, protocol C",
         f"{fmt(col(raws, 'write'), 'MiB/s')}  vs plain "
         f"{ratio(med(col(raws, 'write')), med(col(raws, 'plain_write')))}"),
        ("  instance device link (ours)",
         f"{fmt(col(gnts, 'write'), 'MiB/s')}  vs raw DRBD "
         f"{ratio(med(col(gnts, 'write')), med(col(raws, 'write')))}, vs plain "
         f"{ratio(med(col(gnts, 'write')), med(col(raws, 'plain_write')))}"),
        (f"replace-disks -s {size} MiB", f"{fmt(col(gnts, 'replace_s'), 's')}  "
         f"{ratio(med(col(raws, 'full_resync_s')), med(col(gnts, 'replace_s')))}"),
        ("  floor: raw full resync (invalidate-remote to UpToDate)",
         fmt(col(raws, "full_resync_s"), "s")),
        ("load average: host / node2 (at the end)", f"{' '.join(host_load)} / {' '.join(load)}"),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"drbd instances, disk {size} MiB, {args.repeat} run(s), "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
