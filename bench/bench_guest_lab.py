"""Guest nodes of the lab (tests/lab/labguest.py, issue 14): the node image build (cached, and
from scratch into a scratch cache), ``up`` of N guest nodes with each node's boot-to-SSH time,
``down``, and the floor later DRBD work is compared with: a raw ``drbdadm`` initial resync of an
LV pair between node1 and node2 (DRBD's own defaults, and with its resync controller off at a
fixed high rate), plus O_DIRECT write throughput to the plain LV and to the connected DRBD device
(protocol C).

Usage: ``.venv/bin/python bench/bench_guest_lab.py [--nodes 3] [--size 512] [--no-scratch]``
as root. The lab runs in slot $GNT_LAB_SLOT (else 0); the scratch image build uses
``/var/cache/gnt/lab-guest-bench`` and removes it again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import guestimage  # noqa: E402
from lab import Lab, default_slot  # noqa: E402
from labnet import active_lab_dir  # noqa: E402

SCRATCH_CACHE = Path("/var/cache/gnt/lab-guest-bench")
VG = "xenvg"
#: DRBD 8.4 options of the second resync run: the dynamic resync controller off and a fixed
#: rate far above what the guests can do, larger buffers, so the figure is what the guests'
#: disks, network and CPUs give.
OPEN_RESYNC = ("disk { c-plan-ahead 0; resync-rate 4000M; }",
               "max-buffers 8000; max-epoch-size 8000;")


def resource(lab: Lab, name: str, lv: str, disk_opts: str = "", net_opts: str = "") -> str:
    """A DRBD 8.4 resource (protocol C, internal meta data) on ``lv`` of node1 and node2."""
    hosts = "\n".join(f"  on {node.fqdn} {{\n    device /dev/drbd1;\n    disk /dev/{VG}/{lv};\n"
                      f"    address {node.address}:7790;\n    meta-disk internal;\n  }}"
                      for node in lab.nodes[:2])
    return (f"resource {name} {{\n  net {{ protocol C; {net_opts} }}\n  {disk_opts}\n{hosts}\n"
            "}\n")


def sh(lab: Lab, node: str, command: str, timeout: float = 600.0) -> str:
    proc = lab.ssh(node, command, check=False, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{node}: {command!r} failed: {proc.stderr or proc.stdout}")
    return proc.stdout


def drbd_resync(lab: Lab, size_mib: int, opts: tuple[str, str]) -> tuple[float, float, float]:
    """Initial resync of a fresh ``size_mib`` LV pair; (resync MiB/s, LV write MiB/s, DRBD
    write MiB/s), timed inside node1 (from ``primary --force`` to UpToDate/UpToDate)."""
    res = resource(lab, "glbench", "glbench", *opts)
    setup = (f"set -e; lvcreate -q -y -L {size_mib}m -n glbench {VG} >/dev/null; "
             f"cat >/etc/drbd.d/glbench.res <<'EOF'\n{res}EOF\n"
             "yes yes | drbdadm create-md glbench >/dev/null 2>&1; drbdadm up glbench")
    teardown = ("drbdadm down glbench; rm -f /etc/drbd.d/glbench.res; "
                f"lvremove -q -y {VG}/glbench >/dev/null")
    write = (f"dd if=/dev/zero of={{dev}} bs=1M count={min(size_mib, 256)} oflag=direct "
             "2>&1 | tail -1")
    try:
        plain = (f"lvcreate -q -y -L {size_mib}m -n glplain {VG} >/dev/null && "
                 f"{write.format(dev=f'/dev/{VG}/glplain')} && "
                 f"lvremove -q -y {VG}/glplain >/dev/null")
        lv_rate = _dd_rate(sh(lab, "node1", plain))
        for node in ("node1", "node2"):
            sh(lab, node, setup)
        out = sh(lab, "node1", "set -e; t0=$(date +%s.%N); drbdadm primary --force glbench; "
                               "while ! grep -q 'ds:UpToDate/UpToDate' /proc/drbd; do "
                               "sleep 0.1; done; t1=$(date +%s.%N); echo \"$t0 $t1\"")
        t0, t1 = (float(x) for x in out.split()[-2:])
        drbd_rate = _dd_rate(sh(lab, "node1", write.format(dev="/dev/drbd1")))
        return size_mib / (t1 - t0), lv_rate, drbd_rate
    finally:
        for node in ("node1", "node2"):
            lab.ssh(node, teardown, check=False, timeout=120)


def _dd_rate(line: str) -> float:
    """MiB/s from dd's last line (``N bytes (...) copied, S s, ...``)."""
    words = line.split()
    return int(words[0]) / float(words[words.index("copied,") + 1]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--size", type=int, default=512, help="DRBD LV size in MiB (512)")
    parser.add_argument("--no-scratch", action="store_true",
                        help="skip the from-scratch image build")
    args = parser.parse_args()
    slot = default_slot()
    if active_lab_dir(slot) is not None:
        raise SystemExit(f"cannot run: a lab is up in slot {slot} ({active_lab_dir(slot)})")
    rows: list[tuple[str, str]] = []
    if not args.no_scratch:
        try:
            image = guestimage.ensure_image(SCRATCH_CACHE, force=True, log=lambda _m: None)
            man = image.manifest
            rows.append(("image build from scratch", f"{man['build_seconds']:.0f} s (debootstrap "
                         f"{man['debootstrap_seconds']:.0f} s, packages "
                         f"{man['packages_seconds']:.0f} s)"))
        finally:
            shutil.rmtree(SCRATCH_CACHE, ignore_errors=True)
    t0 = time.perf_counter()
    image = guestimage.ensure_image()
    rows.append(("image, cached (hash of inputs, files present)",
                 f"{time.perf_counter() - t0:.2f} s"))
    lab = Lab(Path(tempfile.mkdtemp(prefix="gntgb-", dir="/tmp")))
    try:
        lab.up(args.nodes, kind="guest")
        t = lab.timings
        rows.append((f"lab up, {args.nodes} guest nodes", f"{t['up']:.1f} s (files and disks "
                     f"{t['files'] - t['image']:.2f} s, network "
                     f"{t['network'] - t['files']:.2f} s)"))
        for node in lab.nodes:
            rows.append((f"  {node.name} boot to SSH / libvirtd answering",
                         f"{t[f'ssh_{node.name}']:.1f} s / {t[f'ready_{node.name}']:.1f} s"))
        for label, opts in (("DRBD defaults", ("", "")),
                            ("no resync controller, rate 4000M", OPEN_RESYNC)):
            resync, lv_rate, drbd_rate = drbd_resync(lab, args.size, opts)
            rows.append((f"DRBD initial resync {args.size} MiB, raw drbdadm ({label})",
                         f"{resync:.0f} MiB/s"))
            rows.append((f"  O_DIRECT 1 MiB writes: plain LV / DRBD protocol C ({label})",
                         f"{lv_rate:.0f} / {drbd_rate:.0f} MiB/s"))
    finally:
        lab.down()
        shutil.rmtree(lab.dir, ignore_errors=True)
    rows.append(("lab down", f"{lab.timings.get('down', 0):.2f} s"))
    width = max(len(row[0]) for row in rows)
    print(f"guest-node lab (image {image.dir.name}, kernel {image.manifest['kernel_version']})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
