"""``lvmstrap`` (Ganeti's node tool, issue 14) over a made-up /sys, /proc and /dev tree and a
recording command runner: which disks are listed and in use, the diskinfo table, the choice
of disks, what create runs in which order and its refusals and exit codes. The tool runs for
real on a lab guest in tests/integration/test_storage_lab_verify.py (diskinfo)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from gnt.admin import lvmstrap
from gnt.admin.lvmstrap import LvmstrapError, System

GIB = 1 << 30


def block(root: Path, name: str, size: int, devno: str, parent: str | None = None,
          removable: str = "0", holders: Sequence[str] = ()) -> None:
    base = root / "sys/block" / (f"{parent}/{name}" if parent else name)
    (base / "holders").mkdir(parents=True)
    (base / "size").write_text(f"{size // 512}\n")
    (base / "dev").write_text(f"{devno}\n")
    if parent:
        (base / "partition").write_text("1\n")
    else:
        (base / "removable").write_text(f"{removable}\n")
    for holder in holders:
        (base / "holders" / holder).touch()


class Runner:
    """Answers pvs/vgs/file/parted like a node; records every command."""

    def __init__(self, pvs: str = "", vg_exists: bool = False) -> None:
        self.pvs, self.vg_exists, self.calls = pvs, vg_exists, []

    def __call__(self, argv: Sequence[str], stdin: str = "") -> tuple[int, str, str]:
        argv = list(argv)
        self.calls.append(argv + ([f"<{stdin.strip()}"] if stdin else []))
        if argv[0] == "pvs":
            return 0, self.pvs, ""
        if argv[0] == "vgs":
            return (0, "  0 9.94 9.94\n", "") if self.vg_exists else (5, "", "not found")
        if argv[0] == "vgcreate":
            self.vg_exists = True
        if argv[0] == "file":
            return 0, "data\n", ""
        return 0, "", ""


@pytest.fixture
def node(tmp_path):
    """vda: root disk (vda1 mounted at /, vda2 small swap), vdb: a PV of xenvg, vdc: free,
    sdd: removable, sr0/loop0: not disks."""
    block(tmp_path, "vda", 20 * GIB, "254:0")
    block(tmp_path, "vda1", 19 * GIB, "254:1", parent="vda")
    block(tmp_path, "vda2", GIB // 2, "254:2", parent="vda")
    block(tmp_path, "vdb", 10 * GIB, "254:16", holders=["dm-0"])
    block(tmp_path, "vdc", 4 * GIB, "254:32")
    block(tmp_path, "sdd", 8 * GIB, "8:48", removable="1")
    block(tmp_path, "sr0", GIB, "11:0")
    block(tmp_path, "loop0", GIB, "7:0")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/swaps").write_text("Filename Type Size Used Priority\n"
                                         "/dev/vda2 partition 524284 0 -2\n")
    (tmp_path / "dev").mkdir()
    for name in ("vdc", "sdd"):
        (tmp_path / "dev" / name).write_bytes(b"\xff" * 4096)
    runner = Runner(pvs="  /dev/vdb|xenvg\n")
    return System(root=tmp_path, run=runner, mounted={"254:1": "/"})


def test_scan_lists_real_disks_with_big_partitions_and_use(node):
    disks = lvmstrap.scan(node)
    assert [(d.name, d.in_use, [p.name for p in d.partitions]) for d in disks] == [
        ("vda", True, ["vda1"]),          # vda2 is under 1 GiB (and swap)
        ("vdb", True, []),                # held by an LV, a PV of xenvg
        ("vdc", False, [])]
    with_removable = lvmstrap.scan(node, removable_ok=True)
    assert [d.name for d in with_removable] == ["sdd", "vda", "vdb", "vdc"]


def test_pv_of_a_group_is_in_use_even_without_active_volumes(node, tmp_path):
    (tmp_path / "sys/block/vdb/holders/dm-0").unlink()
    assert [d.in_use for d in lvmstrap.scan(node) if d.name == "vdb"] == [True]
    node.run.pvs = "  /dev/vdb|\n"                 # a PV of no group: free
    assert [d.in_use for d in lvmstrap.scan(node) if d.name == "vdb"] == [False]


def test_diskinfo_table(node):
    lines = lvmstrap.diskinfo(node)
    assert lines[0] == "------- Disk information -------"
    rows = [line.split() for line in lines[1:]]
    assert rows[0] == ["Name", "Size[M]", "Used", "Mount", "LVM?", "Info"]
    assert rows[1:] == [["vda", "20480.00", "yes", "-", "-", "data"],
                        ["vda1", "19456.00", "yes", "/", "-", "data"],
                        ["vdb", "10240.00", "yes", "-", "in", "xenvg", "data"],
                        ["vdc", "4096.00", "no", "-", "-", "data"]]
    assert lines[3].startswith(" vda1")            # partitions indented


@pytest.mark.parametrize("alldisks, wanted, kind, needle", [
    (False, "vdb", "usage", "disk vdb is in use"),
    (False, "vdz", "usage", "disk vdz not found"),
    (False, None, "usage", "--alldisks or --disks"),
    (True, "vdc", "usage", "not both"),
])
def test_choose_disks_refusals(node, alldisks, wanted, kind, needle):
    with pytest.raises(LvmstrapError) as err:
        lvmstrap.choose_disks(lvmstrap.scan(node), alldisks, wanted)
    assert err.value.kind == kind and needle in str(err.value)


def test_alldisks_takes_free_disks_and_free_partitions_of_used_disks(node, tmp_path):
    block(tmp_path, "vda3", 2 * GIB, "254:3", parent="vda")
    assert lvmstrap.choose_disks(lvmstrap.scan(node), True, None) == ["vda3", "vdc"]


def test_create_wipes_partitions_makes_pv_and_group(node, tmp_path, capsys):
    assert lvmstrap.main(["-g", "newvg", "--disks", "vdc", "create"], node) == 0
    assert capsys.readouterr().out.strip() == "Done! newvg: size 9.94 GiB, disks: vdc"
    wiped = (tmp_path / "dev/vdc").read_bytes()
    assert wiped[:512] == b"\0" * 512 and wiped[512:] == b"\xff" * (4096 - 512)
    made = [c for c in node.run.calls if c[0] in ("parted", "sfdisk", "pvcreate", "vgcreate")]
    assert made == [["parted", "--version"],
                    ["parted", "-s", "/dev/vdc", "mklabel", "msdos"],
                    ["parted", "-s", "/dev/vdc", "mkpart", "primary", "1MiB", "100%"],
                    ["parted", "-s", "/dev/vdc", "set", "1", "lvm", "on"],
                    ["pvcreate", "-yff", "/dev/vdc1"],
                    ["vgcreate", "-s", "64MB", "newvg", "/dev/vdc1"]]


def test_create_with_sfdisk(node):
    assert lvmstrap.main(["--use-sfdisk", "--alldisks", "create"], node) == 0
    assert ["sfdisk", "--label", "dos", "/dev/vdc", "<,,8e"] in node.run.calls
    assert not any(c[0] == "parted" for c in node.run.calls)


def test_existing_group_is_refused_before_anything_is_touched(node, tmp_path, capsys):
    node.run.vg_exists = True
    assert lvmstrap.main(["--disks", "vdc", "create"], node) == 1
    assert "volume group 'xenvg' exists already" in capsys.readouterr().err
    assert (tmp_path / "dev/vdc").read_bytes() == b"\xff" * 4096
    assert not any(c[0] in ("pvcreate", "vgcreate", "parted") for c in node.run.calls[1:]
                   if c != ["parted", "--version"])


def test_usage_errors_exit_2_and_failed_steps_exit_1(node, capsys):
    assert lvmstrap.main(["--disks", "vdb", "create"], node) == 2
    assert "disk vdb is in use" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        lvmstrap.main(["format"], node)
    assert exit_info.value.code == 2

    answers = node.run

    def failing(argv, stdin=""):
        if argv[0] == "pvcreate":
            return 5, "", "  Device /dev/vdc1 excluded by a filter."
        return answers(argv, stdin)
    node.run = failing
    assert lvmstrap.main(["--disks", "vdc", "create"], node) == 1
    err = capsys.readouterr().err
    assert "partly changed" in err and "excluded by a filter" in err
