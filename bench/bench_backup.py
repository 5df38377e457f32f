"""Backup export/import throughput next to a plain ``dd`` copy (issue 4).

A one-node cluster under a temporary GNT_ROOT gets a stopped instance with a file disk of
``--size-gib`` GiB (default 2) filled with realistic content: its first 32 MiB (the tinylinux
image) kept, then 1/2 of the disk random data, 1/4 compressible text, the rest zeros. For each
compression (``none``, ``zstd``) and round, interleaved so that both see the same machine state:

- baseline: ``dd if=DISK of=COPY bs=1M conv=fsync`` (then the copy is removed and synced),
  once next to the export and once next to the import: each operation is compared with its
  own dd run, made right before it (even rounds) or right after it (odd rounds: on a small VM
  the second of two 2 GiB writes in a row can be several times slower than the first, so a
  fixed order would favour one side; an even ``--rounds`` balances it);
- ``gnt-backup export``: end to end (the command) and the data path of the disk as the node
  measured it (the job log's ``disk 0: exported (os, ... MiB in S s)``);
- ``gnt-backup import`` into a new instance: end to end, and the data path of the disk as
  the node measured it (the job log's ``disk 0: imported (...)``); should that line be
  missing, the ``Import the dump files onto the disks`` step from the job log's timestamps
  (it then includes one Ansible task's start-up, printed as the following rename task's
  time);
- with zstd, the compressor's own speed here (``zstd -T0`` of the disk and ``zstd -d`` of the
  dump, to /dev/null) as a reference;
- the dump's data and the imported disk against the source (sha256, first round of each
  compression; the OS rename script rewrites the guest host name inside the first 32 MiB of
  the imported disk, so that part is compared block by block and the rest by sha256).

Every timed step starts from the same state: a ``sync``, a pause (``--settle``, default 2 s),
then its input file (the source disk for dd and export, the dump for import) dropped from the
page cache (``--cache cold``, the default: a stopped VM's disk and an old dump are not cached;
this also keeps proactive reclaim such as DAMON from evicting some inputs and not others) or
read into it (``--cache warm``: the write path and CPU only). Only the benchmark's own files
are touched (posix_fadvise DONTNEED), never the whole page cache.

Ratios are throughput ratios, ``dd seconds / operation seconds`` (1.0 = as fast as dd; the
issue's target is >= 0.8 uncompressed); MiB/s are of the logical disk size.

``--lab`` adds the same on a 2-node lab cluster (tests/lab, a free slot): the instance on
node1, exported to node2 (OS export script -> compressor -> ssh -> dd on node2) and imported
on node1 from node2's export (ssh -> decompressor -> OS import script), with a ``dd | ssh |
dd`` reference over the same path. ``--lab-only`` skips the one-node part.

Usage (as root): ``.venv/bin/python bench/bench_backup.py [--rounds 3] [--size-gib 2]
[--settle 2] [--cache cold|warm] [--lab | --lab-only]``
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _backup_data import (
    IMAGE_HEAD,
    Source,
    check_import,
    dd_copy,
    dump_sha256,
    fill_disk,
    source_of,
)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
MIB = 1 << 20
GIB = 1 << 30
SRC, DST = "benchsrc.example", "benchdst.example"
COMPRESSIONS = ("none", "zstd")
EXPORTED = re.compile(r"disk 0: exported \((\w+), ([\d.]+) MiB in ([\d.]+) s\)")
IMPORTED = re.compile(r"disk 0: imported \(.*?([\d.]+) s\)")   # the import job logs it
# gnt-job info (Ganeti 3.0 layout): "- Time: <stamp>" then "Content: [serial, type, message]"
LOG_TIME = re.compile(r"^\s*- Time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")
LOG_CONTENT = re.compile(r"^\s*Content: \[\d+, \w+, (.*)\]$")
STEP_BEFORE = "Create the instance's disks"
STEP_IMPORT = "Import the dump files onto the disks"
STEP_RENAME = "Run the OS rename script"

# A command runner: argv (list) -> CompletedProcess (check=False); raises nothing itself.
Runner = Callable[[list[str]], subprocess.CompletedProcess]


class BenchError(Exception):
    """A step of the benchmark failed; the message carries the command's output."""


def _term(_signo, _frame):
    raise SystemExit("terminated")


def check_space(directory: Path, size: int, what: str) -> None:
    free = shutil.disk_usage(directory).free
    need = 4 * size + GIB
    if free < need:
        raise SystemExit(f"not enough free space for {what}: {directory} has"
                         f" {free / GIB:.1f} GiB free, the benchmark needs about"
                         f" {need / GIB:.1f} GiB (4 x the {size / GIB:g} GiB disk + 1 GiB);"
                         " use a smaller --size-gib")


# -- running gnt commands ------------------------------------------------------------------------

def checked(run: Runner, argv: list[str]) -> tuple[float, str]:
    """Run ``argv``; (seconds, stdout). A failure raises with the output verbatim."""
    start = time.perf_counter()
    proc = run(argv)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"$ {shlex.join(argv)}\nexit code {proc.returncode}\n--- stdout ---\n"
                         f"{proc.stdout}--- stderr ---\n{proc.stderr}")
    return seconds, proc.stdout


def last_job_log(run: Runner) -> list[tuple[float, str]]:
    """(timestamp, message) of every log line of the newest job (``gnt-job info``)."""
    _s, ids = checked(run, ["gnt-job", "list", "--no-headers", "-o", "id"])
    job = max(int(x) for x in ids.split())
    _s, info = checked(run, ["gnt-job", "info", str(job)])
    lines = []
    stamp = None
    for line in info.splitlines():
        when, content = LOG_TIME.match(line), LOG_CONTENT.match(line)
        if when:
            stamp = datetime.strptime(when.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        elif content and stamp is not None:
            lines.append((stamp, content.group(1)))
            stamp = None
    return lines


def step_seconds(log: list[tuple[float, str]], step: str, before: str) -> float | None:
    """Time between the log line of task ``before`` and that of task ``step``."""
    stamp = {}
    for when, message in log:
        for name in (step, before):
            if name in message and name not in stamp:
                stamp[name] = when
    if step in stamp and before in stamp:
        return stamp[step] - stamp[before]
    return None


@dataclass
class Samples:
    """Per compression: the lists of seconds (and dump sizes) of every round."""

    dd: list[float] = field(default_factory=list)          # right before the export
    dd_imp: list[float] = field(default_factory=list)      # right before the import
    ssh_dd: list[float] = field(default_factory=list)
    exp_path: list[float] = field(default_factory=list)
    exp_total: list[float] = field(default_factory=list)
    imp_path: list[float] = field(default_factory=list)
    imp_total: list[float] = field(default_factory=list)
    task_floor: list[float] = field(default_factory=list)
    zstd_c: list[float] = field(default_factory=list)
    zstd_d: list[float] = field(default_factory=list)
    dump_bytes: list[int] = field(default_factory=list)
    dump_check: str = "not checked"
    checksum: str = "not checked"
    imp_source: str = "step"


@dataclass
class Setup:
    """Where and how one scenario runs."""

    title: str
    run: Runner                       # gnt commands on the master
    export_node: str                  # gnt-backup export -n
    import_node: str                  # gnt-backup import -n
    src_node: str                     # gnt-backup import --src-node
    src_disk: Path                    # the source disk, host path
    dst_disk: Path                    # the imported disk, host path
    dump_dir: Path                    # the export directory (final), host path
    copy: Path                        # the dd baseline's copy, host path
    ssh_baseline: Callable[[], float] | None = None
    settle: float = 2.0               # sync, then this pause before each timed step
    warm: bool = False                # inputs read into the page cache (else dropped from it)


def settle(setup: Setup, *inputs: Path) -> None:
    """The same starting point for every timed step: nothing dirty, a short pause, then the
    step's input files dropped from the page cache (cold, the default) or read into it."""
    subprocess.run(["sync"], check=True)
    time.sleep(setup.settle)
    for path in inputs:
        if setup.warm:
            with open(path, "rb") as handle:
                while handle.read(8 * MIB):
                    pass
        else:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cpu_reference(argv: list[str]) -> float:
    """Seconds of ``argv`` writing to /dev/null (a compressor's own speed here)."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def one_round(setup: Setup, compression: str, samples: Samples, verify: Source | None,
              round_no: int) -> None:
    """One round: dd, export, dd, import (odd rounds: export, dd, import, dd, so that neither
    side is always the one right after the other's writes), then the checks and clean-up."""
    run = setup.run
    src = setup.src_disk
    dumps: list[Path] = []

    def dd_before_export() -> None:
        settle(setup, src)
        samples.dd.append(dd_copy(src, setup.copy))
        if setup.ssh_baseline is not None:
            settle(setup, src)
            samples.ssh_dd.append(setup.ssh_baseline())

    def export() -> None:
        settle(setup, src)
        seconds, out = checked(run, ["gnt-backup", "export", "-n", setup.export_node,
                                     "--compress", compression, SRC])
        samples.exp_total.append(seconds)
        found = EXPORTED.search(out)
        if not found:
            raise BenchError(f"no 'disk 0: exported (...)' line in the export's output:\n{out}")
        samples.exp_path.append(float(found.group(3)))
        dumps.extend(setup.dump_dir.glob("disk0.dump*"))
        samples.dump_bytes.append(dumps[0].stat().st_size if dumps else -1)

    def dd_before_import() -> None:
        settle(setup, src)
        samples.dd_imp.append(dd_copy(src, setup.copy))

    def import_() -> None:
        settle(setup, *dumps[:1])
        seconds, out = checked(run, ["gnt-backup", "import", "--no-name-check", "-n", setup.import_node,
                                     "--src-node", setup.src_node, "--src-dir", SRC,
                                     "--net", "0:mac=generate", "--no-start", DST])
        samples.imp_total.append(seconds)
        found = IMPORTED.search(out)
        log = last_job_log(run)
        if found:
            samples.imp_path.append(float(found.group(1)))
            samples.imp_source = "node"
        else:
            step = step_seconds(log, STEP_IMPORT, STEP_BEFORE)
            if step is None:
                raise BenchError(f"no '{STEP_IMPORT}' step in the import job's log:\n{out}")
            samples.imp_path.append(step)
        floor = step_seconds(log, STEP_RENAME, STEP_IMPORT)
        if floor is not None:
            samples.task_floor.append(floor)

    steps = [dd_before_export, export, dd_before_import, import_]
    if round_no % 2:
        steps = [export, dd_before_export, import_, dd_before_import]
    for step in steps:
        step()
    if compression == "zstd" and dumps:
        settle(setup, src)
        samples.zstd_c.append(cpu_reference(["zstd", "-q", "-c", "-T0", str(src)]))
        settle(setup, dumps[0])
        samples.zstd_d.append(cpu_reference(["zstd", "-q", "-d", "-c", str(dumps[0])]))
    if verify is not None:
        samples.dump_check = ("ok" if dumps and dump_sha256(dumps[0], compression) == verify.whole
                              else "MISMATCH")
        samples.checksum = check_import(setup.dst_disk, verify)
    checked(run, ["gnt-instance", "remove", "-f", DST])
    checked(run, ["gnt-backup", "remove", SRC])
    subprocess.run(["sync"], check=True)
    order = "op first" if round_no % 2 else "dd first"
    print(f"  {compression:4} round {round_no + 1} ({order}): dd {samples.dd[-1]:.2f} s"
          + (f", dd|ssh|dd {samples.ssh_dd[-1]:.2f} s" if setup.ssh_baseline else "")
          + f", export {samples.exp_path[-1]:.2f} s data path / {samples.exp_total[-1]:.2f} s"
          f" total; dd {samples.dd_imp[-1]:.2f} s, import {samples.imp_path[-1]:.2f} s step /"
          f" {samples.imp_total[-1]:.2f} s total; dump {samples.dump_bytes[-1] / MIB:.0f} MiB",
          flush=True)


def run_scenario(setup: Setup, rounds: int, size: int, source: Source) -> dict[str, Samples]:
    results = {c: Samples() for c in COMPRESSIONS}
    for compression in COMPRESSIONS:
        for round_no in range(rounds):
            one_round(setup, compression, results[compression],
                      source if round_no == 0 else None, round_no)
    report(setup.title, results, size)
    return results


def report(title: str, results: dict[str, Samples], size: int) -> None:
    mib = size / MIB
    med = statistics.median
    print(f"\n== {title}: medians of {len(results[COMPRESSIONS[0]].dd)} rounds,"
          f" disk {mib:.0f} MiB; ratio = dd time / operation time (throughput ratio) ==")
    print(f"{'compression':11} {'measure':40} {'median s':>8} {'min-max s':>12} {'MiB/s':>6}"
          f" {'vs dd':>6}")
    for compression, s in results.items():
        dd_exp, dd_imp = med(s.dd), med(s.dd_imp)
        rows = [("dd bs=1M conv=fsync, before export", s.dd, dd_exp)]
        if s.ssh_dd:
            rows.append(("dd | ssh | dd conv=fsync (reference)", s.ssh_dd, dd_exp))
        if s.zstd_c:
            rows.append(("zstd -T0 disk > /dev/null (reference)", s.zstd_c, dd_exp))
        rows += [("export, data path (node)", s.exp_path, dd_exp),
                 ("export, end to end (command)", s.exp_total, dd_exp),
                 ("dd bs=1M conv=fsync, before import", s.dd_imp, dd_imp)]
        if s.zstd_d:
            rows.append(("zstd -d dump > /dev/null (reference)", s.zstd_d, dd_imp))
        rows += [(f"import, data path ({s.imp_source})", s.imp_path, dd_imp),
                 ("import, end to end (command)", s.imp_total, dd_imp)]
        for label, values, dd in rows:
            seconds = med(values)
            spread = f"{min(values):.2f}-{max(values):.2f}"
            print(f"{compression:11} {label:40} {seconds:8.2f} {spread:>12}"
                  f" {mib / seconds:6.0f} {dd / seconds:6.2f}")
        dump = med(s.dump_bytes)
        print(f"{compression:11} dump size {dump / MIB:.0f} MiB ({dump / size:.1%} of the disk);"
              f" dump data sha256 vs source disk: {s.dump_check}")
        print(f"{compression:11} imported disk vs source: {s.checksum}")
        if s.task_floor and s.imp_source == "step":
            print(f"{compression:11} (import step includes one Ansible task start-up; the next"
                  f" task, the OS rename script, took {med(s.task_floor):.2f} s)")
    none = results.get("none")
    if none:
        dd_exp, dd_imp = med(none.dd), med(none.dd_imp)
        ratios = {"export data path": dd_exp / med(none.exp_path),
                  "import data path": dd_imp / med(none.imp_path),
                  "export end to end": dd_exp / med(none.exp_total),
                  "import end to end": dd_imp / med(none.imp_total)}
        print("target >= 0.8 uncompressed: "
              + ", ".join(f"{k} {v:.2f} ({'met' if v >= 0.8 else 'NOT met'})"
                          for k, v in ratios.items()))


# -- the one-node cluster --------------------------------------------------------------------------

def local_runner(env: dict[str, str]) -> Runner:
    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / argv[0]), *argv[1:]], env=env, capture_output=True,
                              text=True, check=False)
    return run


def one_node(rounds: int, size: int, pause: float, warm: bool) -> None:
    root = Path(f"/var/lib/gnt-bench-backup-{os.getpid()}")
    check_space(root.parent, size, "the one-node cluster")
    env = dict(os.environ, GNT_ROOT=str(root),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    run = local_runner(env)
    start = time.monotonic()
    initialised = False
    try:
        root.mkdir(mode=0o755)
        checked(run, ["gnt-cluster", "init", "--enabled-disk-templates=file,diskless",
                      "-H", "kvm:accel=tcg", "cluster.bench.example"])
        initialised = True
        node = checked(run, ["gnt-node", "list", "--no-headers", "-o", "name"])[1].split()[0]
        size_opt = f"{size // MIB}M"
        add, _out = checked(run, ["gnt-instance", "add", "--no-name-check", "-o", "tinylinux", "-t", "file",
                                  "--disk", f"0:size={size_opt}", "-B", "memory=128M",
                                  "--no-start", SRC])
        storage = root / "srv/gnt/file-storage"
        src_disk = storage / SRC / "disk0"
        fill_start = time.monotonic()
        setup_s = fill_start - start
        parts = fill_disk(src_disk, size)
        source = source_of(src_disk)
        print(f"one-node cluster (GNT_ROOT={root}, node {node}): init + instance add"
              f" {setup_s:.1f} s (add {add:.1f} s); disk filled and hashed"
              f" ({', '.join(f'{k} {v / MIB:.0f} MiB' for k, v in parts.items())}) in"
              f" {time.monotonic() - fill_start:.1f} s", flush=True)
        setup = Setup(title="one node (local export and import)", run=run, export_node=node,
                      import_node=node, src_node=node, src_disk=src_disk,
                      dst_disk=storage / DST / "disk0", dump_dir=root / "srv/gnt/export" / SRC,
                      copy=root / "bench-dd-copy", settle=pause, warm=warm)
        run_scenario(setup, rounds, size, source)
    finally:
        (root / "bench-dd-copy").unlink(missing_ok=True)
        if initialised:
            for argv in (["gnt-instance", "remove", "-f", DST], ["gnt-backup", "remove", SRC],
                         ["gnt-instance", "remove", "-f", SRC]):
                run(argv)
            proc = run(["gnt-cluster", "destroy", "--yes-do-it"])
            if proc.returncode != 0:
                print(f"WARNING: gnt-cluster destroy failed: {proc.stdout}{proc.stderr}")
                run(["gnt-masterd", "stop"])
        shutil.rmtree(root, ignore_errors=True)
    print(f"one-node part: {time.monotonic() - start:.0f} s in all")


# -- the lab ------------------------------------------------------------------------------------

def lab_part(rounds: int, size: int, pause: float, warm: bool) -> None:
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from gnt_labcluster import lab_skip_reason, start_cluster, stop_cluster
    from labnet import free_slots

    from gnt.nodes.sshkeys import KEY_NAME

    reason = lab_skip_reason()
    if reason:
        print(f"lab part skipped: {reason}")
        return
    wanted = os.environ.get("GNT_LAB_SLOT")
    free = free_slots()
    slot = int(wanted) if wanted else next((k for k in free if k != 0), free[0] if free else None)
    if slot is None or slot not in free:
        print(f"lab part skipped: lab slot {slot} is in use (free slots: {free})")
        return
    os.environ["GNT_LAB_SLOT"] = str(slot)
    lab_dir = f"/tmp/gl{slot}-backup"
    check_space(Path("/tmp"), size, "the lab")
    start = time.monotonic()
    lc = None
    try:
        lc = start_cluster(lab_dir, 2)
        print(f"\nlab (slot {slot}, {lab_dir}): up + cluster init + gnt-node add:"
              f" {time.monotonic() - start:.1f} s", flush=True)

        def run(argv: list[str]) -> subprocess.CompletedProcess:
            return lc.gnt(shlex.join(argv), check=False, timeout=3600)

        checked(run, ["gnt-instance", "add", "--no-name-check", "-o", "tinylinux", "-t", "file", "--disk",
                      f"0:size={size // MIB}M", "-B", "memory=128M", "--no-start", "-n",
                      "node1", SRC])
        root1, root2 = lc.root_on_host("node1"), lc.root_on_host("node2")
        src_disk = root1 / "srv/gnt/file-storage" / SRC / "disk0"
        parts = fill_disk(src_disk, size)
        source = source_of(src_disk)
        print(f"lab instance {SRC} on node1, disk filled"
              f" ({', '.join(f'{k} {v / MIB:.0f} MiB' for k, v in parts.items())})", flush=True)
        node1, node2 = lc.lab.node("node1"), lc.lab.node("node2")
        disk_in_node = f"{node1.gnt_root}/srv/gnt/file-storage/{SRC}/disk0"
        copy_in_node2 = f"{node2.gnt_root}/bench-ssh-copy"
        ssh = ("ssh -T -o BatchMode=yes -o Compression=no -o StrictHostKeyChecking=accept-new"
               " -c aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"
               f" -o IdentityFile=~/.ssh/{KEY_NAME} root@{node2.address}")

        def ssh_baseline() -> float:
            remote = f"dd of={copy_in_node2} bs=1M iflag=fullblock conv=fsync status=none"
            # timed inside node1: the SSH session that runs it does not count
            command = (f"b=$(date +%s.%N); dd if={shlex.quote(disk_in_node)} bs=1M status=none"
                       f" | {ssh} {shlex.quote(remote)}; rc=$?; e=$(date +%s.%N);"
                       " echo \"$b $e\"; exit $rc")
            begin, end = lc.run("node1", command, timeout=3600).stdout.split()[-2:]
            seconds = float(end) - float(begin)
            (root2 / "bench-ssh-copy").unlink()
            subprocess.run(["sync"], check=True)
            return seconds

        setup = Setup(title="lab, 2 nodes: export node1 -> node2 over SSH, import on node1"
                      " from node2 over SSH", run=run, export_node="node2",
                      import_node="node1", src_node="node2", src_disk=src_disk,
                      dst_disk=root1 / "srv/gnt/file-storage" / DST / "disk0",
                      dump_dir=root2 / "srv/gnt/export" / SRC,
                      copy=Path(lab_dir) / "bench-dd-copy", ssh_baseline=ssh_baseline,
                      settle=pause, warm=warm)
        run_scenario(setup, rounds, size, source)
    finally:
        Path(lab_dir, "bench-dd-copy").unlink(missing_ok=True)
        if lc is not None:
            stop_cluster(lc)
    print(f"lab part: {time.monotonic() - start:.0f} s in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait (after a sync) before each timed step")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold",
                        help="each step's input file dropped from the page cache first (cold)"
                             " or read into it (warm)")
    parser.add_argument("--lab", action="store_true", help="also on a 2-node lab (over SSH)")
    parser.add_argument("--lab-only", action="store_true", help="only the lab part")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (cluster init, libvirt)")
    size = int(args.size_gib * GIB) // MIB * MIB
    if size < 2 * IMAGE_HEAD:
        raise SystemExit("--size-gib is too small (at least 64 MiB)")
    signal.signal(signal.SIGTERM, _term)
    start = time.monotonic()
    print(f"bench_backup: disk {size / MIB:.0f} MiB, {args.rounds} rounds per compression"
          f" ({', '.join(COMPRESSIONS)}), {os.cpu_count()} CPUs, {args.cache} page cache,"
          f" settle {args.settle:g} s", flush=True)
    try:
        if not args.lab_only:
            one_node(args.rounds, size, args.settle, args.cache == "warm")
        if args.lab or args.lab_only:
            lab_part(args.rounds, size, args.settle, args.cache == "warm")
    except BenchError as err:
        raise SystemExit(f"a command failed:\n{err}") from None
    print(f"total run time {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
