"""gnt.cluster.lvm_volume's ``volumes`` option (module_utils/storage/lvm_batch.py) with a fake
command runner: a list of creates, renames and removes in one call, in order, a later entry
seeing what an earlier one did (check mode too), one ``lvs``/``vgs`` per group for the list,
idempotence, diff, and a failure midway naming the volume and what was done before it."""

from __future__ import annotations

import importlib

import pytest
from storage_fakes import FakeRunner

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import CommandResult

D = "6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0"
LV = "  xenvg|{name}|{size}.00|-wi-a-----|||/dev/vdb(0)\n"
VGS_OUT = "  xenvg|20476.00|{free}.00|wz--n-|4.00|1|2|0\n"
CHANGING = ("lvcreate", "lvremove", "lvrename", "lvextend", "lvchange", "dd")


def lvs(**volumes: int) -> str:
    """An ``lvs`` report of xenvg with these volumes (name suffix -> MiB)."""
    return "".join(LV.format(name=D + suffix, size=size) for suffix, size in volumes.items())


@pytest.fixture
def fake(monkeypatch):
    runner = FakeRunner()
    runner.on(["lvs"], lvs(_data=64, _meta=128)).on(["vgs"], VGS_OUT.format(free=1000))
    module = importlib.import_module("ansible_collections.gnt.cluster.plugins.modules.lvm_volume")
    monkeypatch.setattr(module, "module_runner", lambda _module: runner)
    return runner


def changes(runner: FakeRunner) -> list[list[str]]:
    return [argv for argv in runner.calls if argv[0] in CHANGING]


NEW = [{"vg": "xenvg", "name": D + "_data_new", "size_mib": 64},
       {"vg": "xenvg", "name": D + "_meta_new", "size_mib": 128, "wipe": True}]
SWAP = [{"vg": "xenvg", "name": D + "_data_replaced-1", "rename_from": D + "_data"},
        {"vg": "xenvg", "name": D + "_meta_replaced-1", "rename_from": D + "_meta"},
        {"vg": "xenvg", "name": D + "_data", "rename_from": D + "_data_new"},
        {"vg": "xenvg", "name": D + "_meta", "rename_from": D + "_meta_new"}]


def test_create_list_check_then_real_then_idempotent(run_module, fake):
    ok, result = run_module("lvm_volume", {"volumes": NEW}, check=True, diff=True)
    assert ok and result["changed"], result
    assert result["actions"] == [f"xenvg/{D}_data_new: created 64 MiB",
                                 f"xenvg/{D}_meta_new: created 128 MiB",
                                 f"xenvg/{D}_meta_new: wiped 128 MiB with zeros"]
    assert changes(fake) == []
    assert result["diff"]["before"][f"xenvg/{D}_meta_new"] == {"exists": False, "size_mib": 0}
    assert result["diff"]["after"][f"xenvg/{D}_meta_new"] == {"exists": True, "size_mib": 128}
    assert [v["exists"] for v in result["volumes"]] == [True, True]

    fake.on(["lvs"], lvs(_data=64, _meta=128),
            lvs(_data=64, _meta=128, _data_new=64, _meta_new=128))
    fake.calls.clear()
    ok, result = run_module("lvm_volume", {"volumes": NEW})
    assert ok and result["changed"] and "diff" not in result
    assert changes(fake) == [
        ["lvcreate", "-Wn", "-L", "64m", "-n", f"{D}_data_new", "xenvg"],
        ["lvcreate", "-Wn", "-L", "128m", "-n", f"{D}_meta_new", "xenvg"],
        ["dd", "if=/dev/zero", f"of=/dev/xenvg/{D}_meta_new", "bs=1M", "count=128",
         "oflag=direct", "conv=notrunc", "status=none"]]
    # the group's volumes and free space read once for the list, the volumes once after it
    assert fake.commands().count("lvs") == 2 and fake.commands().count("vgs") == 1
    assert [(v["name"], v["size_mib"], v["changed"]) for v in result["volumes"]] == \
        [(f"{D}_data_new", 64, True), (f"{D}_meta_new", 128, True)]

    fake.calls.clear()
    ok, result = run_module("lvm_volume", {"volumes": NEW})
    assert ok and not result["changed"] and result["actions"] == [] and changes(fake) == []
    assert fake.commands() == ["lvs"]


def test_renames_in_order_see_the_earlier_ones(run_module, fake):
    both = lvs(_data=64, _meta=128, _data_new=64, _meta_new=128)
    fake.on(["lvs"], both)
    # in check mode too: the second rename into _data finds it freed by the first
    ok, result = run_module("lvm_volume", {"volumes": SWAP}, check=True, diff=True)
    assert ok and result["changed"] and changes(fake) == [], result
    assert len(result["actions"]) == 4
    assert result["diff"]["after"][f"xenvg/{D}_data_new"] == {"exists": False, "size_mib": 0}
    assert result["diff"]["after"][f"xenvg/{D}_data_replaced-1"]["exists"] is True

    done = lvs(_data=64, _meta=128, _data_replaced=64, _meta_replaced=128).replace(
        "_replaced", "_replaced-1")
    fake.on(["lvs"], both, done)
    fake.calls.clear()
    ok, result = run_module("lvm_volume", {"volumes": SWAP})
    assert ok and result["changed"]
    assert changes(fake) == [["lvrename", "xenvg", f"{D}_data", f"{D}_data_replaced-1"],
                             ["lvrename", "xenvg", f"{D}_meta", f"{D}_meta_replaced-1"],
                             ["lvrename", "xenvg", f"{D}_data_new", f"{D}_data"],
                             ["lvrename", "xenvg", f"{D}_meta_new", f"{D}_meta"]]
    assert fake.commands().count("lvs") == 2

    # the swap's volumes in place and the renamed-aside ones removed: nothing left to do
    gone = [{"vg": "xenvg", "name": v["name"], "state": "absent"} for v in SWAP[:2]]
    fake.on(["lvs"], done, lvs(_data=64, _meta=128))
    fake.calls.clear()
    ok, result = run_module("lvm_volume", {"volumes": gone})
    assert ok and changes(fake) == [["lvremove", "-f", f"xenvg/{D}_data_replaced-1"],
                                    ["lvremove", "-f", f"xenvg/{D}_meta_replaced-1"]]
    assert [v["exists"] for v in result["volumes"]] == [False, False]
    fake.calls.clear()
    ok, result = run_module("lvm_volume", {"volumes": gone})
    assert ok and not result["changed"] and changes(fake) == []


def test_a_failing_entry_stops_the_list_and_says_what_was_done(run_module, fake):
    fake.on(["lvs"], lvs(_data=64, _meta=128, _data_new=64, _meta_new=128))
    fake.on(["lvrename", "xenvg", f"{D}_meta"],
            CommandResult(5, "", "  Device or resource busy"))
    ok, result = run_module("lvm_volume", {"volumes": SWAP})
    assert not ok
    assert result["msg"] == (
        f"logical volume xenvg/{D}_meta: lvrename failed (exit 5): Device or resource busy"
        f" [step: renamed from {D}_meta]; done before it in this call:"
        f" xenvg/{D}_data_replaced-1: renamed from {D}_data")
    assert [argv[2] for argv in changes(fake)] == [f"{D}_data", f"{D}_meta"]   # stopped


def test_refusals_and_bad_input(run_module, fake):
    ok, result = run_module("lvm_volume", {"volumes": SWAP})      # no _new volumes yet
    assert not ok and "cannot rename" in result["msg"] and "neither exists" in result["msg"]
    assert f"done before it in this call: xenvg/{D}_data_replaced-1" in result["msg"]
    fake.calls.clear()
    fake.on(["lvs"], lvs(_data=64, _meta=128).replace("-wi-a-----", "-wi-ao----"))
    ok, result = run_module("lvm_volume", {"volumes": [
        {"vg": "xenvg", "name": D + "_data", "state": "absent"}]})
    assert not ok and f"xenvg/{D}_data is open (in use), not removing it" in result["msg"]
    assert changes(fake) == []
    # the free space is counted down over the list (check mode too): 1000 MiB free
    ok, result = run_module("lvm_volume", {"volumes": [
        {"vg": "xenvg", "name": "a", "size_mib": 600},
        {"vg": "xenvg", "name": "b", "size_mib": 600}]}, check=True)
    assert not ok and "xenvg/b: volume group xenvg has 400 MiB free, 600 MiB needed" \
        in result["msg"] and "done before it in this call: xenvg/a: created 600 MiB" \
        in result["msg"]
    ok, result = run_module("lvm_volume", {"volumes": [
        {"vg": "xenvg", "name": "a", "size_mib": 6, "rename_from": "b"}]})
    assert not ok and "xenvg/a: give either rename_from or size_mib" in result["msg"]
    ok, result = run_module("lvm_volume", {"volumes": [
        {"vg": "xenvg", "name": "a", "size_mib": 0}]})
    assert not ok and "xenvg/a: size_mib must be positive, got 0" in result["msg"]
    ok, result = run_module("lvm_volume", {"volumes": [{"vg": "xenvg", "name": "--x"}]})
    assert not ok and "invalid logical volume name '--x'" in result["msg"]
    ok, result = run_module("lvm_volume", {"volumes": [{"vg": "xenvg", "name": "nope"}]})
    assert not ok and "xenvg/nope does not exist: size_mib is required" in result["msg"]
    ok, result = run_module("lvm_volume", {"volumes": NEW, "name": "x", "vg": "xenvg"})
    assert not ok and "mutually exclusive" in result["msg"]
    ok, result = run_module("lvm_volume", {"name": "x"})
    assert not ok and "vg" in result["msg"]
    assert changes(fake) == []
