"""storage.lvm with a fake runner: exact argv, report parsing, names, idempotency, check mode.

The sample reports below are in the format lvm2 prints for the options the module passes
(``--noheadings --units m --nosuffix --separator '|'``): leading spaces, two decimals, an
empty field for no value, a line per segment for ``lvs -o ...,devices``.
"""

from __future__ import annotations

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.storage import lvm
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    CommandResult,
    StorageError,
)

UUID = "6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f"
REPORT = ["--noheadings", "--units", "m", "--nosuffix", "--separator", "|"]
LVS = ["lvs"] + REPORT + ["-o", "vg_name,lv_name,lv_size,lv_attr,origin,lv_tags,devices",
                          "xenvg"]
VGS = ["vgs"] + REPORT + ["-o", "vg_name,vg_size,vg_free,vg_attr,vg_extent_size,pv_count,"
                          "lv_count,vg_missing_pv_count", "xenvg"]

LVS_OUT = (
    f"  xenvg|{UUID}.disk0|1024.00|-wi-ao----||originstname+inst1.example.com|/dev/vdb(0)\n"
    f"  xenvg|{UUID}.disk1_data|2048.00|-wi-a-----|||/dev/vdb(256)\n"
    f"  xenvg|{UUID}.disk1_data|2048.00|-wi-a-----|||/dev/vdc(0)\n"
    f"  xenvg|{UUID}.disk1_meta|128.00|-wi-------|||/dev/vdc(256)\n"
    f"  xenvg|{UUID}.disk0.snap|512.00|swi-a-s---|{UUID}.disk0||/dev/vdc(288)\n"
    "  xenvg|lost|64.00|vwi-a-v---|||\n"
)
VGS_OUT = "  xenvg|20476.00|16124.00|wz--n-|4.00|2|5|0\n"
PVS_OUT = ("  /dev/vdb|xenvg|10238.00|6142.00|4096.00|a--\n"
           "  /dev/vdc|xenvg|10238.00|9982.00|256.00|---\n"
           "  [unknown]|xenvg|10238.00|10238.00|0|a-m\n")


@pytest.fixture
def lvm_node(fake_runner):
    fake_runner.on(["lvs"], LVS_OUT).on(["vgs"], VGS_OUT).on(["pvs"], PVS_OUT)
    return fake_runner


def changing(calls):
    return [argv for argv in calls if argv[0] not in ("lvs", "vgs", "pvs")]


@pytest.mark.parametrize("name", [f"{UUID}.disk0", f"{UUID}.disk3_data", f"{UUID}.disk3_meta",
                                  "xenvg", "a", "A+b_c.d-e"])
def test_valid_names(name):
    assert lvm.validate_name("logical volume", name) == name


@pytest.mark.parametrize("name", ["", "-n", "--help", "../etc", "vg/lv", "a b", "x;rm", ".",
                                  "..", "snapshot", "pvmove", "lv_mlog", "lv_rimage_0",
                                  "a" * 128, "a|b", "\u00e9", None, 3])
def test_invalid_names_refused(name):
    with pytest.raises(StorageError, match="invalid logical volume name"):
        lvm.validate_name("logical volume", name)


def test_tags_and_pvs_validated():
    assert lvm.validate_tag("originstname+inst1.example.com") == "originstname+inst1.example.com"
    for bad in ("-x", "", "a b", "a|b", "a,b"):
        with pytest.raises(StorageError, match="invalid LVM tag"):
            lvm.validate_tag(bad)
    assert lvm.validate_pv("/dev/disk/by-id/virtio-1") == "/dev/disk/by-id/virtio-1"
    for bad in ("vdb", "-f", "/dev/../etc/passwd", "/tmp/x", "/dev/a b"):
        with pytest.raises(StorageError, match="invalid physical volume"):
            lvm.validate_pv(bad)


def test_lvs_parsed_and_segments_merged(lvm_node):
    rows = {row["name"]: row for row in lvm.list_lvs(lvm_node, ["xenvg"])}
    assert lvm_node.calls == [LVS]
    disk0 = rows[f"{UUID}.disk0"]
    assert disk0["size_mib"] == 1024 and disk0["active"] and disk0["open"]
    assert disk0["tags"] == ["originstname+inst1.example.com"]
    assert disk0["path"] == f"/dev/xenvg/{UUID}.disk0"
    assert rows[f"{UUID}.disk1_data"]["devices"] == ["/dev/vdb", "/dev/vdc"]
    assert rows[f"{UUID}.disk1_meta"]["active"] is False
    snap = rows[f"{UUID}.disk0.snap"]
    assert snap["snapshot"] and snap["origin"] == f"{UUID}.disk0"
    assert rows["lost"]["degraded"] and not disk0["degraded"]


def test_vgs_pvs_parsed(lvm_node):
    (vg,) = lvm.list_vgs(lvm_node, ["xenvg"])
    assert vg == {**vg, "name": "xenvg", "size_mib": 20476, "free_mib": 16124, "extent_mib": 4,
                  "pv_count": 2, "lv_count": 5, "missing_pv_count": 0, "partial": False,
                  "writable": True}
    assert lvm_node.calls == [VGS]
    pvs = lvm.list_pvs(lvm_node)
    assert [p["name"] for p in pvs] == ["/dev/vdb", "/dev/vdc", "[unknown]"]
    assert [p["allocatable"] for p in pvs] == [True, False, True]
    assert pvs[2]["missing"] and not pvs[0]["missing"]
    assert pvs[0]["used_mib"] == 4096


def test_report_with_wrong_field_count_is_an_error(fake_runner):
    fake_runner.on(["vgs"], "  xenvg|100.00\n")
    with pytest.raises(StorageError, match=r"unexpected vgs output line \(2 fields, expected 8\)"):
        lvm.list_vgs(fake_runner)


def test_missing_vg_names_it(fake_runner):
    fake_runner.on(["lvs"], CommandResult(5, "", '  Volume group "nope" not found\n'))
    backend = lvm.LvmBackend(fake_runner, "nope")
    with pytest.raises(StorageError, match='logical volumes of nope: lvs failed.*"nope" not found'):
        backend.info("x")


def test_create_exact_argv_then_idempotent(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    name = f"{UUID}.disk2"
    after = LVS_OUT + f"  xenvg|{name}|1024.00|-wi-a-----|originstname+i1||/dev/vdb(300)\n"
    lvm_node.on(["lvs"], LVS_OUT, after)
    result = backend.create(name, 1024, tags=["originstname+i1"], stripes=2)
    assert result.changed and result.actions == ["created 1024 MiB"]
    assert changing(lvm_node.calls) == [["lvcreate", "-Wn", "-L", "1024m", "-n", name, "-i", "2",
                                         "--addtag", "originstname+i1", "xenvg"]]
    assert result.state.exists and result.state.size_mib == 1024
    assert result.state.path == f"/dev/xenvg/{name}"
    lvm_node.calls.clear()
    again = backend.create(name, 1024)
    assert not again.changed and changing(lvm_node.calls) == []
    assert again.state.details["size_mismatch"] is False
    assert backend.create(name, 2048).state.details["size_mismatch"] is True


def test_volumes_are_listed_once_until_a_command_changes_them(lvm_node):
    """A state step reads ``lvs`` once before and once after its command, not per look."""
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    name = f"{UUID}.disk2"
    after = LVS_OUT + f"  xenvg|{name}|64.00|-wi-a-----|||/dev/vdb(300)\n"
    lvm_node.on(["lvs"], LVS_OUT, after)
    assert not backend.info(name).exists
    result = backend.create(name, 64)
    assert result.changed and result.state.exists and result.state.size_mib == 64
    assert [argv[0] for argv in lvm_node.calls] == ["lvs", "vgs", "lvcreate", "lvs"]
    lvm_node.calls.clear()
    backend.info(name).details["tags"].append("mutated")   # a copy: the cache stays as read
    assert backend.info(name).details["tags"] == [] and lvm_node.calls == []


def test_create_with_wipe_zeroes_the_volume(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    result = backend.create("new", 256, wipe=True)
    assert result.actions == ["created 256 MiB", "wiped 256 MiB with zeros"]
    assert changing(lvm_node.calls)[1] == ["dd", "if=/dev/zero", "of=/dev/xenvg/new", "bs=1M",
                                           "count=256", "oflag=direct", "conv=notrunc",
                                           "status=none"]


def test_check_mode_runs_only_reports(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    created = backend.create("new", 256, check_mode=True, wipe=True)
    assert created.changed and created.state.exists and created.state.size_mib == 256
    grown = backend.grow(f"{UUID}.disk1_data", 4096, check_mode=True)
    assert grown.actions == ["grown from 2048 MiB to 4096 MiB"] and grown.state.size_mib == 4096
    assert backend.remove(f"{UUID}.disk1_meta", check_mode=True).changed
    assert backend.rename(f"{UUID}.disk1_meta", "renamed", check_mode=True).changed
    assert backend.snapshot(f"{UUID}.disk1_data", "s1", 128, check_mode=True).changed
    assert backend.attach(f"{UUID}.disk1_meta", check_mode=True).state.attached
    assert backend.set_tags(f"{UUID}.disk0", add=["t1"], check_mode=True).changed
    assert lvm.set_pv_allocatable(lvm_node, "/dev/vdc", True, check_mode=True).changed
    assert changing(lvm_node.calls) == []


def test_no_space_refused_before_lvcreate(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    with pytest.raises(StorageError, match=r"logical volume xenvg/big: volume group xenvg has "
                                           r"16124 MiB free, 20000 MiB needed"):
        backend.create("big", 20000)
    assert changing(lvm_node.calls) == []


def test_failed_command_names_volume_and_error(lvm_node):
    lvm_node.on(["lvcreate"], CommandResult(5, "", "  Insufficient free space: 1 extents\n"))
    with pytest.raises(StorageError, match=r"logical volume xenvg/x: lvcreate failed "
                                           r"\(exit 5\): Insufficient free space: 1 extents \[step: created 4 MiB\]"):
        lvm.LvmBackend(lvm_node, "xenvg").create("x", 4)


def test_remove_refuses_open_and_is_idempotent(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    with pytest.raises(StorageError, match=f"xenvg/{UUID}.disk0 is open"):
        backend.remove(f"{UUID}.disk0")
    assert not backend.remove("absent").changed
    backend.remove(f"{UUID}.disk1_meta")
    assert changing(lvm_node.calls) == [["lvremove", "-f", f"xenvg/{UUID}.disk1_meta"]]


def test_rename_cases(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    backend.rename(f"{UUID}.disk1_meta", "other")
    assert changing(lvm_node.calls) == [["lvrename", "xenvg", f"{UUID}.disk1_meta", "other"]]
    assert not backend.rename("gone", f"{UUID}.disk0").changed  # already done
    with pytest.raises(StorageError, match="neither exists"):
        backend.rename("gone", "also-gone")
    with pytest.raises(StorageError, match="the target already exists"):
        backend.rename(f"{UUID}.disk0", f"{UUID}.disk1_meta")


def test_grow_and_shrink(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    assert not backend.grow(f"{UUID}.disk0", 1024).changed
    with pytest.raises(StorageError, match="is 1024 MiB, cannot shrink it to 512 MiB"):
        backend.grow(f"{UUID}.disk0", 512)
    backend.grow(f"{UUID}.disk0", 1536)
    assert changing(lvm_node.calls) == [["lvextend", "-L", "1536m", f"xenvg/{UUID}.disk0"]]
    with pytest.raises(StorageError, match="does not exist, cannot grow"):
        backend.grow("absent", 10)


def test_snapshot(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    assert not backend.snapshot(f"{UUID}.disk0", f"{UUID}.disk0.snap", 512).changed
    with pytest.raises(StorageError, match="exists and is not its snapshot"):
        backend.snapshot(f"{UUID}.disk0", f"{UUID}.disk1_meta", 512)
    backend.snapshot(f"{UUID}.disk1_data", "s1", 256)
    assert changing(lvm_node.calls) == [["lvcreate", "-s", "-L", "256m", "-n", "s1",
                                         f"xenvg/{UUID}.disk1_data"]]


def test_attach_detach_and_tags(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    assert not backend.attach(f"{UUID}.disk0").changed
    backend.attach(f"{UUID}.disk1_meta")
    with pytest.raises(StorageError, match="is open"):
        backend.detach(f"{UUID}.disk0")
    backend.detach(f"{UUID}.disk1_data")
    backend.set_tags(f"{UUID}.disk0", add=["originstname+inst1.example.com", "new"],
                     remove=["originstname+inst1.example.com"])
    assert changing(lvm_node.calls) == [
        ["lvchange", "-ay", f"xenvg/{UUID}.disk1_meta"],
        ["lvchange", "-an", f"xenvg/{UUID}.disk1_data"],
        ["lvchange", "--addtag", "new", f"xenvg/{UUID}.disk0"],
        ["lvchange", "--deltag", "originstname+inst1.example.com", f"xenvg/{UUID}.disk0"]]


def test_adopt_checks(lvm_node):
    backend = lvm.LvmBackend(lvm_node, "xenvg")
    assert backend.adopt(f"{UUID}.disk1_data").size_mib == 2048
    for name, cause in ((f"{UUID}.disk0", "it is open"), ("absent", "it does not exist"),
                        (f"{UUID}.disk0.snap", "it is a snapshot"), ("lost", "degraded")):
        with pytest.raises(StorageError, match=f"cannot adopt logical volume xenvg/.*{cause}"):
            backend.adopt(name)
    assert changing(lvm_node.calls) == []


def test_pv_allocatable_and_repair(lvm_node):
    assert not lvm.set_pv_allocatable(lvm_node, "/dev/vdb", True).changed
    lvm.set_pv_allocatable(lvm_node, "/dev/vdb", False)
    assert changing(lvm_node.calls) == [["pvchange", "-x", "n", "/dev/vdb"]]
    lvm_node.calls.clear()
    assert not lvm.repair_vg(lvm_node, "xenvg").changed
    missing = "  xenvg|30714.00|26362.00|wz-pn-|4.00|3|5|1\n"
    lvm_node.on(["vgs"], missing, VGS_OUT)
    result = lvm.repair_vg(lvm_node, "xenvg")
    assert result.actions == ["removed 1 missing physical volume(s)"]
    assert ["vgreduce", "--removemissing", "xenvg"] in lvm_node.calls
    lvm_node.on(["vgs"], missing)
    with pytest.raises(StorageError, match="xenvg still misses 1 physical volume"):
        lvm.repair_vg(lvm_node, "xenvg")


def test_repair_removes_the_volumes_lost_with_a_pv(lvm_node):
    """As Ganeti: the partial volumes (on the missing PV) go with it (--force), named."""
    missing = "  xenvg|30714.00|26362.00|wz-pn-|4.00|3|5|1\n"
    lvm_node.on(["vgs"], missing, VGS_OUT)
    lvm_node.on(["lvs"], LVS_OUT + "  xenvg|gone|32.00|-wi-a---p-|||[unknown](0)\n")
    checked = lvm.repair_vg(lvm_node, "xenvg", check_mode=True)
    assert checked.actions == ["removed 1 missing physical volume(s) and the logical"
                               " volume(s) on them: gone"]
    assert changing(lvm_node.calls) == []
    lvm_node.on(["vgs"], missing, VGS_OUT)
    result = lvm.repair_vg(lvm_node, "xenvg")
    assert result.changed and result.state.details["removed_lvs"] == ["gone"]
    assert changing(lvm_node.calls) == [["vgreduce", "--removemissing", "--force", "xenvg"]]


def test_verify_reports_degraded(lvm_node):
    assert lvm.LvmBackend(lvm_node, "xenvg").verify() == [
        "logical volume /dev/xenvg/lost is degraded"]
