"""``lvmstrap``: the node tool of Ganeti's admin guide that shows a node's disks
(``diskinfo``) and makes the cluster's volume group out of the unused ones (``create``).

Usage (Ganeti's)::

    lvmstrap diskinfo
    lvmstrap [--vg-name=NAME] [--allow-removable] {--alldisks | --disks DISKLIST}
             [--use-sfdisk] create

Disks are the non-removable block devices of ``/sys/block`` of the kinds Ganeti knows
(``hd``, ``sd``, ``md``, ``ubd``) and those of today's machines (``vd``, ``xvd``, ``nvme``);
their partitions of at least 1 GiB are listed under them. A disk or partition is *in use* when
something holds it (sysfs ``holders``: device-mapper, md, an active LV), a file system on it is
mounted, it is swap, or it is a physical volume of a volume group (never wiped); a disk is in
use when any of its partitions is. ``create`` refuses an existing volume group, wipes each
chosen disk's first sector, gives a whole disk one partition marked for LVM (parted; sfdisk
with ``--use-sfdisk`` or without parted; GPT above 2 TB), makes the physical volumes and the
group with 64 MiB extents. ``create`` destroys what is on the chosen disks.

Exit codes: 0 done, 1 a prerequisite or an operation failed, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

USAGE = ("lvmstrap diskinfo\n"
         "       lvmstrap [--vg-name=NAME] [--allow-removable]"
         " {--alldisks | --disks DISKLIST} [--use-sfdisk] create")
DISK_PREFIXES = ("hd", "sd", "md", "ubd", "vd", "xvd", "nvme")
PARTITION_RE = re.compile(r"^((?:h|s|m|ub|v|xv)d[a-z]{1,2})([0-9]+)$|^(nvme[0-9]+n[0-9]+)p([0-9]+)$")
PARTITION_MIN_BYTES = 1 << 30
MBR_MAX_BYTES = 2 * 10 ** 12
VIRTUAL_FS = frozenset({"nfs", "nfs4", "autofs", "tmpfs", "proc", "sysfs", "usbfs", "devpts"})
DEFAULT_VG = "xenvg"
EXTENT_SIZE = "64MB"

Runner = Callable[..., "tuple[int, str, str]"]   # (argv, stdin="") -> code, stdout, stderr


class LvmstrapError(Exception):
    """A failure with its kind: ``prereq`` (nothing changed), ``usage``, ``operation``
    (the system may be half changed)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def run_command(argv: Sequence[str], stdin: str = "") -> tuple[int, str, str]:
    """Run ``argv`` (no shell) with ``stdin``: exit code, stdout, stderr; 127 when it is not
    installed."""
    try:
        proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError as err:
        return 127, "", str(err)
    return proc.returncode, proc.stdout, proc.stderr


@dataclass
class Device:
    """A disk or partition: name (``sda``, ``sda1``), size in bytes, ``major:minor``, in use."""

    name: str
    size: int
    devno: str
    in_use: bool = False
    partitions: list[Device] = field(default_factory=list)


@dataclass
class System:
    """Where the facts come from: ``root`` prefixes /sys, /proc and /dev (tests use a tree),
    ``mounted`` the mount points by ``major:minor`` (read from /proc/mounts when None), ``run``
    the commands."""

    root: Path = Path("/")
    run: Runner = run_command
    mounted: dict[str, str] | None = None

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def mounted_devices(self) -> dict[str, str]:
        """``major:minor`` -> mount point of every mounted real file system (by stat of its
        mount point)."""
        if self.mounted is not None:
            return self.mounted
        found: dict[str, str] = {}
        for line in self.path("/proc/mounts").read_text().splitlines():
            _source, mountpoint, fstype = line.split()[:3]
            if fstype in VIRTUAL_FS:
                continue
            try:
                dev = os.stat(mountpoint).st_dev
            except OSError:
                continue
            found.setdefault(f"{os.major(dev)}:{os.minor(dev)}", mountpoint)
        return found

    def swaps(self) -> set[str]:
        """Device names (``sda2``) used as swap."""
        lines = self.path("/proc/swaps").read_text().splitlines()[1:]
        return {os.path.basename(line.split()[0]) for line in lines if line.strip()}

    def physical_volumes(self) -> dict[str, str]:
        """Device name -> its volume group ('' for a physical volume in none)."""
        code, out, _err = self.run(["pvs", "--noheadings", "--separator", "|",
                                    "-o", "pv_name,vg_name"])
        if code != 0:
            return {}
        pvs = {}
        for line in out.splitlines():
            if "|" in line:
                name, vg = (part.strip() for part in line.split("|", 1))
                pvs[os.path.basename(os.path.realpath(name)) if self.root == Path("/")
                    else os.path.basename(name)] = vg
        return pvs


def _read(path: Path) -> str:
    return path.read_text().strip()


def _device(system: System, sysdir: Path, name: str, pvs: dict[str, str],
            mounted: dict[str, str], swaps: set[str]) -> Device:
    size, devno = int(_read(sysdir / "size")) * 512, _read(sysdir / "dev")
    holders = sysdir / "holders"
    held = holders.is_dir() and any(holders.iterdir())
    in_use = held or devno in mounted or name in swaps or bool(pvs.get(name))
    return Device(name, size, devno, in_use)


def scan(system: System, removable_ok: bool = False) -> list[Device]:
    """The node's disks (sorted), each with its partitions of at least 1 GiB and in-use
    status."""
    block = system.path("/sys/block")
    if not block.is_dir():
        raise LvmstrapError("prereq", f"{block} is not a directory: is sysfs mounted?")
    pvs, mounted, swaps = system.physical_volumes(), system.mounted_devices(), system.swaps()
    disks = []
    for name in sorted(os.listdir(block)):
        if not name.startswith(DISK_PREFIXES) or PARTITION_RE.match(name):
            continue
        sysdir = block / name
        if _read(sysdir / "removable") != "0" and not removable_ok:
            continue
        disk = _device(system, sysdir, name, pvs, mounted, swaps)
        for part in sorted(os.listdir(sysdir)):
            partdir = sysdir / part
            if not part.startswith(name) or not (partdir / "partition").exists():
                continue
            partition = _device(system, partdir, part, pvs, mounted, swaps)
            disk.in_use = disk.in_use or partition.in_use
            if partition.size >= PARTITION_MIN_BYTES:
                disk.partitions.append(partition)
        disks.append(disk)
    return disks


def diskinfo(system: System, removable_ok: bool = False) -> list[str]:
    """The ``diskinfo`` table: name (partitions indented), size in MiB, used, mount point
    device, LVM membership, what ``file -bs`` says of the contents."""
    pvs = system.physical_volumes()
    mounted = system.mounted_devices()
    rows = [["Name", "Size[M]", "Used", "Mount", "LVM?", "Info"]]
    for disk in scan(system, removable_ok):
        for device, indent in [(disk, ""), *((part, " ") for part in disk.partitions)]:
            vg = pvs.get(device.name)
            lvm = "-" if vg is None else ("yes,free" if vg == "" else f"in {vg}")
            code, out, _err = system.run(["file", "-bs", f"/dev/{device.name}"])
            rows.append([indent + device.name, f"{device.size / 1024 / 1024:.2f}",
                         "yes" if device.in_use else "no",
                         mounted.get(device.devno, "-"), lvm,
                         out.strip()[:45] if code == 0 else "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["------- Disk information -------"]
    for row in rows:
        cells = [cell.rjust(widths[i]) if i == 1 else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append(" ".join(cells).rstrip())
    return lines


def choose_disks(disks: list[Device], alldisks: bool, wanted: str | None) -> list[str]:
    """The disks (or partitions) ``create`` uses: every free one (``--alldisks``) or those of
    ``--disks``, each checked to exist and be free."""
    free, used = [], []
    for disk in disks:
        if not disk.in_use:
            free.append(disk.name)
            continue
        used.append(disk.name)
        for part in disk.partitions:
            (used if part.in_use else free).append(part.name)
    if alldisks and wanted:
        raise LvmstrapError("usage", "give either --alldisks or --disks, not both")
    if not free and (alldisks or wanted):
        raise LvmstrapError("prereq", f"no free disks found ({len(used)} in use)")
    if alldisks:
        return free
    if not wanted:
        raise LvmstrapError("usage", "create needs --alldisks or --disks DISKLIST")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    for name in names:
        if name in used:
            raise LvmstrapError("usage", f"disk {name} is in use: it is not wiped")
        if name not in free:
            raise LvmstrapError("usage", f"disk {name} not found among this node's disks")
    return names


def partitioned(name: str) -> bool:
    """Whether ``create`` puts a partition on ``name`` first (whole disks but md)."""
    return not (name.startswith("md") or PARTITION_RE.match(name))


def pv_device(name: str) -> str:
    """The device the physical volume goes on: the first partition of a partitioned disk."""
    if not partitioned(name):
        return f"/dev/{name}"
    return f"/dev/{name}p1" if name.startswith("nvme") else f"/dev/{name}1"


def _must(system: System, argv: list[str], what: str, stdin: str = "") -> None:
    code, out, err = system.run(argv, stdin=stdin) if stdin else system.run(argv)
    if code != 0:
        raise LvmstrapError("operation", f"{what} failed ({' '.join(argv)}): "
                            f"{(err or out).strip()}")


def _vg_summary(system: System, vg: str) -> list[str] | None:
    code, out, _err = system.run(["vgs", "--noheadings", "-o", "lv_count,vg_size,vg_free",
                                  "--nosuffix", "--units", "g", vg])
    return out.split() if code == 0 else None


def refuse_existing_group(system: System, vg: str) -> None:
    """LvmstrapError (prerequisite) when volume group ``vg`` exists already."""
    existing = _vg_summary(system, vg)
    if existing is not None:
        raise LvmstrapError("prereq", f"volume group '{vg}' exists already (LVs, size GiB, free"
                            f" GiB: {' '.join(existing)})")


def create(system: System, vg: str, disks: list[str], use_sfdisk: bool = False) -> str:
    """Wipe, partition and make physical volumes of ``disks``, then volume group ``vg``;
    answers the summary line."""
    refuse_existing_group(system, vg)
    if not use_sfdisk and system.run(["parted", "--version"])[0] != 0:
        use_sfdisk = True
    sizes = {disk.name: disk.size for disk in scan(system)}
    for name in disks:
        with open(system.path(f"/dev/{name}"), "r+b", buffering=0) as handle:
            handle.write(b"\0" * 512)
            os.fsync(handle.fileno())
        if not partitioned(name):
            continue
        label = "gpt" if sizes.get(name, 0) > MBR_MAX_BYTES else "msdos"
        if use_sfdisk:
            if label == "gpt":
                raise LvmstrapError("operation", f"disk {name} is over 2 TB: it needs parted"
                                    " for a GPT label")
            _must(system, ["sfdisk", "--label", "dos", f"/dev/{name}"], f"partitioning {name}",
                  stdin=",,8e\n")
        else:
            for step in (["mklabel", label], ["mkpart", "primary", "1MiB", "100%"],
                         ["set", "1", "lvm", "on"]):
                _must(system, ["parted", "-s", f"/dev/{name}", *step], f"partitioning {name}")
    for name in disks:
        _must(system, ["pvcreate", "-yff", pv_device(name)], f"pvcreate on {name}")
    _must(system, ["vgcreate", "-s", EXTENT_SIZE, vg, *(pv_device(n) for n in disks)],
          f"vgcreate {vg}")
    made = _vg_summary(system, vg)
    if made is None:
        raise LvmstrapError("operation", f"volume group '{vg}' was not made")
    return f"Done! {vg}: size {made[1]} GiB, disks: {','.join(disks)}"


def parser() -> argparse.ArgumentParser:
    """The command line (Ganeti's options)."""
    p = argparse.ArgumentParser(prog="lvmstrap", usage=USAGE)
    p.add_argument("command", choices=["diskinfo", "create"])
    p.add_argument("--alldisks", action="store_true", help="use (and erase) every free disk")
    p.add_argument("-d", "--disks", default=None, metavar="DISKLIST",
                   help="the disks to use (and erase), e.g. sdb,sdc")
    p.add_argument("-r", "--allow-removable", dest="removable_ok", action="store_true",
                   help="list and use removable devices too")
    p.add_argument("-g", "--vg-name", dest="vg", default=DEFAULT_VG, metavar="NAME",
                   help=f"the volume group to make [default: {DEFAULT_VG}]")
    p.add_argument("--use-sfdisk", action="store_true", help="partition with sfdisk")
    p.add_argument("-v", "--verbose", action="store_true", help="show the commands run")
    return p


def main(argv: list[str] | None = None, system: System | None = None) -> int:
    """Entry point of ``lvmstrap``."""
    args = parser().parse_args(argv)
    system = system or System()
    if args.verbose:
        inner = system.run

        def verbose(cmd: Sequence[str], stdin: str = "") -> tuple[int, str, str]:
            print("$ " + " ".join(cmd))
            return inner(cmd, stdin=stdin) if stdin else inner(cmd)
        system.run = verbose
    try:
        if args.command == "diskinfo":
            print("\n".join(diskinfo(system, args.removable_ok)))
            return 0
        if os.geteuid() != 0 and system.root == Path("/"):
            raise LvmstrapError("prereq", "lvmstrap create must run as root")
        refuse_existing_group(system, args.vg)           # before the disks, as Ganeti
        disks = choose_disks(scan(system, args.removable_ok), args.alldisks, args.disks)
        print(create(system, args.vg, disks, args.use_sfdisk))
        return 0
    except LvmstrapError as err:
        if err.kind == "usage":
            print(f"lvmstrap: {err}\nUsage: {USAGE}", file=sys.stderr)
            return 2
        if err.kind == "operation":
            print("lvmstrap: the system may be partly changed; check and clean up by hand:",
                  file=sys.stderr)
        print(f"lvmstrap: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"lvmstrap: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
