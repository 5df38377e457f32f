"""move-instance throughput between two clusters (issue 15), next to its floors.

A 2-node lab (tests/lab) with cluster A on node1 and cluster B on node2 sharing the cluster
domain secret (the set-up of tests/integration/test_move_instance_lab.py). Cluster A gets a
stopped instance with a file disk of ``--size-gib`` GiB (default 2) filled as bench_backup.py
fills its disk: the tinylinux image, then 1/2 random data, 1/4 compressible text, zeros.
Per compression (``--compressions``, default ``none,zstd``) and round, each timed step starting
from the same state (``sync``, a short pause, the source disk dropped from the page cache):

- ``dd``: ``dd if=DISK of=COPY bs=1M conv=fsync`` on node1, the copy in node1's file storage
  (no compression: the same floor for every row);
- ``ssh pipe``: the same file from node1 to node2 over one SSH connection between the two
  nodes (the product's bulk options: no SSH compression, AES-GCM first), written with
  ``dd conv=fsync`` there; with a compression, through the compressor and decompressor the
  product runs for it (``COMPRESSION_TOOLS``: the same command lines);
- ``move-instance --keep-source-instance --compress C`` run on node1: the stream (from the
  source job's ``Sending disk 0`` to its ``Remote export ... complete``, as the tool logs them:
  the send play, TLS, the compressor and the receiver's OS import script, fsync included) and
  end to end (the whole command: both clusters' jobs). The moved disk is compared with the
  source (sha256) in the first round; the moved instance is removed from B after each round.

MiB/s are of the disk's size; ratios are throughput ratios (time of the floor / time of the
move; the issue's target is >= 0.9 of the ssh pipe). Steps are timed inside node1
(``date +%s.%N``), so the SSH session that runs them does not count.

Usage (as root): ``.venv/bin/python bench/bench_move_instance.py [--size-gib 2] [--rounds 2]
[--compressions none,zstd] [--settle 2]``; the lab runs in slot ``$GNT_LAB_SLOT`` (else 0).

"data path (node)" is the source node's own measure of its send chain (OS export script,
compressor, TLS sender), which ends when the receiver confirmed the last byte; "stream (job)"
adds the send play around it (from the export job's own log timestamps); "end to end" is the
whole command, both clusters' jobs and the destination's final fsync included. The ssh pipe
ends after its ``dd conv=fsync`` on node2.

Figures (2 GiB, 2 rounds, medians, 2 CPUs, lab slot 2, 2026-12-06), after the receiver stopped
copying each 1 MiB frame about 32 times over (it grew it with ``bytes +=`` per 16 KiB TLS record;
before: none 193 MiB/s stream, ratio 0.50 to the ssh pipe; zstd 0.88)::

    compression measure                       median s   MiB/s  move/dd  move/ssh
    -           dd bs=1M conv=fsync (node1)       2.30     890
    none        ssh pipe node1 -> node2           4.19     489
    none        move-instance, data path (node)   3.25     630     0.71      1.29
    none        move-instance, stream (job)       3.97     515     0.58      1.05
    none        move-instance, end to end         5.05     406     0.46      0.83
    zstd        ssh pipe node1 -> node2           9.04     226
    zstd        move-instance, data path (node)   9.43     217     0.24      0.96
    zstd        move-instance, stream (job)      10.05     204     0.23      0.90
    zstd        move-instance, end to end        11.62     176     0.20      0.78
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from _backup_data import fill_disk  # noqa: E402
from gnt_labcluster import LabCluster, lab_skip_reason, stop_cluster  # noqa: E402
from test_move_instance_lab import _move_command, _wait_rapi, start_two_clusters  # noqa: E402

from gnt.core.collection import load_module_util  # noqa: E402

MIB, GIB = 1 << 20, 1 << 30
NAME = "inst20.lab.example"
BENCH_DIR = "var/lib/gnt/bench-move"          # under each node's GNT_ROOT, 0700
# gnt-job info (Ganeti's layout): "- Time: <stamp>" then "Content: [serial, type, message]"
LOG_TIME = re.compile(r"^\s*- Time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")
LOG_CONTENT = re.compile(r"^\s*Content: \[\d+, \w+, (.*)\]$")
EXPORTED = re.compile(r"disk 0: exported \(.*? ([\d.]+) s\)")


def timed_in(lc: LabCluster, node: str, pipeline: str) -> float:
    """Seconds ``pipeline`` (a shell pipeline, pipefail) took, timed inside ``node``."""
    command = (f"set -o pipefail; b=$(date +%s.%N); {pipeline}; rc=$?; e=$(date +%s.%N);"
               ' echo "$b $e"; exit $rc')
    begin, end = lc.run(node, command, timeout=3600).stdout.split()[-2:]
    return float(end) - float(begin)


def settle(disk: Path, pause: float) -> None:
    """Nothing dirty, a pause, the source disk out of the page cache (only that file)."""
    subprocess.run(["sync"], check=True)
    time.sleep(pause)
    fd = os.open(disk, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


class Bench:
    """The lab, the source disk and the floors' command lines."""

    def __init__(self, lc: LabCluster, size: int, pause: float) -> None:
        self.lc, self.size, self.pause = lc, size, pause
        self.node1, self.node2 = lc.lab.node("node1"), lc.lab.node("node2")
        self.disk_in_node = f"{self.node1.gnt_root}/srv/gnt/file-storage/{NAME}/disk0"
        self.disk = lc.root_on_host("node1") / "srv/gnt/file-storage" / NAME / "disk0"
        self.stream = load_module_util("disk_stream")
        self.tools = load_module_util("compressions").COMPRESSION_TOOLS
        self.key = f"{self.node1.gnt_root}/{BENCH_DIR}/id"
        self.copy = f"{self.node1.gnt_root}/srv/gnt/file-storage/bench-dd-copy"
        self.remote_copy = f"{self.node2.gnt_root}/srv/gnt/file-storage/bench-ssh-copy"

    def prepare(self) -> dict[str, int]:
        """The source instance (stopped) with its disk filled; the lab's key on node1 for
        the ssh pipe (node2's root accepts it)."""
        self.lc.gnt(f"gnt-instance add -o tinylinux -t file --disk 0:size={self.size // MIB}M"
                    f" -B memory=128M --no-start -n node1 {NAME}")
        parts = fill_disk(self.disk, self.size)
        private = self.lc.root_on_host("node1") / BENCH_DIR
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = private / "id"
        key.write_bytes(self.lc.lab.key.read_bytes())
        key.chmod(0o600)
        return parts

    def dd(self) -> float:
        settle(self.disk, self.pause)
        seconds = timed_in(self.lc, "node1", f"dd if={shlex.quote(self.disk_in_node)}"
                           f" of={self.copy} bs=1M conv=fsync status=none")
        self.lc.run("node1", f"rm -f {self.copy}; sync")
        return seconds

    def ssh_pipe(self, compression: str) -> float:
        ssh = self.stream.ssh_argv(
            {"address": self.node2.address, "ssh_args": [
                "-i", self.key, "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]},
            f"{self._decompress(compression)}dd of={self.remote_copy} bs=1M iflag=fullblock"
            " conv=fsync status=none")
        tools = self.tools[compression]
        squeeze = f" | {shlex.join(tools[0])}" if tools else ""
        seconds = timed_in(self.lc, "node1", f"dd if={shlex.quote(self.disk_in_node)} bs=1M"
                           f" status=none{squeeze} | {shlex.join(ssh)}")
        self.lc.run("node2", f"rm -f {self.remote_copy}; sync")
        return seconds

    def _decompress(self, compression: str) -> str:
        tools = self.tools[compression]
        return f"{shlex.join(tools[1])} | " if tools else ""

    def move(self, compression: str, verify: bool) -> tuple[float, float, float]:
        """(stream, data path, end-to-end) seconds of one move; the moved instance is
        removed from B afterwards (checked against the source first with ``verify``)."""
        settle(self.disk, self.pause)
        command = _move_command(self.lc, NAME, "--keep-source-instance", "--compress",
                                compression)
        command = (f"set -o pipefail; b=$(date +%s.%N); {command}; rc=$?;"
                   ' e=$(date +%s.%N); echo "TIMES $b $e"; exit $rc')
        proc = self.lc.run("node1", command, timeout=3600)
        if f"{NAME}: success" not in proc.stdout:
            raise SystemExit(f"the move failed:\n{proc.stdout}{proc.stderr}")
        begin, end = next(line for line in proc.stdout.splitlines()
                          if line.startswith("TIMES ")).split()[1:]
        stream, path = self.export_seconds()
        if verify:
            moved = self.lc.root_on_host("node2") / "srv/gnt/file-storage" / NAME / "disk0"
            if sha256(moved) != sha256(self.disk):
                raise SystemExit("the moved disk differs from the source")
        self.lc.gnt(f"gnt-instance remove -f {NAME}", node="node2")
        self.lc.run("node2", "sync")
        return stream, path, float(end) - float(begin)

    def export_seconds(self) -> tuple[float, float]:
        """From the log of cluster A's newest export job (its own timestamps): seconds from
        ``Sending disk 0`` to ``Remote export ... complete``, and the data path as the node
        measured it (``disk 0: exported (..., S s)``)."""
        jobs = self.lc.gnt("gnt-job list --no-headers --separator '|' -o id,summary").stdout
        job = max(int(line.split("|")[0]) for line in jobs.splitlines() if "EXPORT" in line)
        info = self.lc.gnt(f"gnt-job info {job}").stdout
        stamps: dict[str, datetime] = {}
        path = None
        stamp = None
        for line in info.splitlines():
            when, content = LOG_TIME.match(line), LOG_CONTENT.match(line)
            if when:
                stamp = datetime.strptime(when.group(1), "%Y-%m-%d %H:%M:%S.%f")
            elif content and stamp is not None:
                message = content.group(1)
                for key, text in (("start", "Sending disk 0"), ("end", "Remote export of")):
                    if text in message:
                        stamps.setdefault(key, stamp)
                found = EXPORTED.search(message)
                if found:
                    path = float(found.group(1))
        if len(stamps) != 2 or path is None:
            raise SystemExit(f"no stream start/end or data path in job {job}'s log:\n{info}")
        return (stamps["end"] - stamps["start"]).total_seconds(), path


def report(size: int, results: dict[str, dict[str, list[float]]], dd: list[float]) -> None:
    mib = size / MIB
    med = statistics.median
    print(f"\n== move-instance, disk {mib:.0f} MiB, medians of {len(dd)} round(s);"
          " ratio = floor seconds / move seconds ==")
    print(f"{'compression':11} {'measure':34} {'median s':>8} {'MiB/s':>7} {'move/dd':>8}"
          f" {'move/ssh':>9}")
    print(f"{'-':11} {'dd bs=1M conv=fsync (node1)':34} {med(dd):8.2f} {mib / med(dd):7.0f}")
    for compression, samples in results.items():
        pipe = med(samples["ssh"])
        print(f"{compression:11} {'ssh pipe node1 -> node2':34} {pipe:8.2f} {mib / pipe:7.0f}")
        for label, key in (("move-instance, data path (node)", "path"),
                           ("move-instance, stream (job)", "stream"),
                           ("move-instance, end to end", "total")):
            seconds = med(samples[key])
            print(f"{compression:11} {label:34} {seconds:8.2f} {mib / seconds:7.0f}"
                  f" {med(dd) / seconds:8.2f} {pipe / seconds:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compressions", default="none,zstd")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait (after a sync) before each timed step")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the lab)")
    reason = lab_skip_reason()
    if reason:
        raise SystemExit(f"no lab here: {reason}")
    size = int(args.size_gib * GIB) // MIB * MIB
    if size < 64 * MIB:
        raise SystemExit("--size-gib is too small (at least 64 MiB)")
    compressions = args.compressions.split(",")
    slot = os.environ.setdefault("GNT_LAB_SLOT", "0")
    start = time.monotonic()
    lc = start_two_clusters(f"/tmp/gl{slot}-bmove")
    try:
        _wait_rapi(lc)
        bench = Bench(lc, size, args.settle)
        parts = bench.prepare()
        print(f"bench_move_instance: lab slot {slot} up, two clusters, {NAME} filled"
              f" ({', '.join(f'{k} {v / MIB:.0f} MiB' for k, v in parts.items())}),"
              f" {os.cpu_count()} CPUs: {time.monotonic() - start:.0f} s", flush=True)
        dd: list[float] = []
        results = {c: {"ssh": [], "path": [], "stream": [], "total": []}
                   for c in compressions}
        for round_no in range(args.rounds):
            dd.append(bench.dd())
            print(f"round {round_no + 1}: dd {dd[-1]:.2f} s", flush=True)
            for compression in compressions:
                samples = results[compression]
                samples["ssh"].append(bench.ssh_pipe(compression))
                stream, path, total = bench.move(compression, verify=round_no == 0)
                samples["stream"].append(stream)
                samples["path"].append(path)
                samples["total"].append(total)
                print(f"  {compression}: ssh pipe {samples['ssh'][-1]:.2f} s, move data path"
                      f" {path:.2f} s, stream {stream:.2f} s, end to end {total:.2f} s",
                      flush=True)
        report(size, results, dd)
    finally:
        stop_cluster(lc)
    print(f"total run time {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
