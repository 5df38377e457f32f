"""storage.drbd / drbd_sync resync pacing (the drbd sync disk parameters): the exact options of
the ``drbdsetup attach`` for a fixed rate and for the dynamic controller (no separate
``disk-options`` after it: it can fail while the new disk negotiates), set again with
``disk-options`` on an attached device only where ``drbdsetup show --show-defaults`` differs, check mode,
refused values; and the drbd_device module's ``sync_params``."""

from __future__ import annotations

import pytest
from storage_fakes import FakeRunner
from test_storage_drbd import EMPTY_PROC, PROC_7, SHOW_7, SPEC, backend, changing

from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd_sync as drbd
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import StorageError
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd import DrbdSpec
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_status import (
    parse_disk_options,
)

SHOW_DEFAULTS = ["drbdsetup", "show", "--show-defaults", "7"]
ATTACH = ["drbdsetup", "attach", "7", "/dev/xenvg/abc.disk0_data", "/dev/xenvg/abc.disk0_meta",
          "flexible", "--on-io-error=detach", "--size", "1024m"]
DYNAMIC = drbd.DrbdSync(dynamic_resync=True, c_plan_ahead=30, c_fill_target=100,
                        c_delay_target=10, c_max_rate=20480, c_min_rate=1024)


def disk_section(**values: str) -> str:
    """``drbdsetup show --show-defaults 7`` with the given disk values, the rest at DRBD
    8.4.11's defaults, in the layout of a lab guest (``# default`` comments)."""
    defaults = {"resync-rate": "250k; # bytes/second, default",
                "c-plan-ahead": "20; # 1/10 seconds, default",
                "c-delay-target": "10; # 1/10 seconds, default",
                "c-fill-target": "100s; # bytes, default",
                "c-max-rate": "102400k; # bytes/second, default",
                "c-min-rate": "250k; # bytes/second, default"}
    lines = "".join("                %-16s\t%s\n" % (key, text if ";" in text else text + ";")
                    for key, text in {**defaults, **values}.items())
    base = "".join(line for line in SHOW_7.splitlines(keepends=True)
                   if "resync-rate" not in line and "c-plan-ahead" not in line)
    return base.replace("            disk {\n", "            disk {\n" + lines, 1)


def spec(sync: drbd.DrbdSync) -> DrbdSpec:
    return DrbdSpec(**{**SPEC.__dict__, "sync": sync})


def test_attach_with_a_fixed_rate_and_the_controller_off():
    runner = FakeRunner()
    result = backend(runner, EMPTY_PROC).assemble(spec(drbd.DrbdSync(resync_rate=1024)))
    assert result.changed
    calls = changing(runner.calls)
    assert ATTACH + ["--c-plan-ahead", "0", "--resync-rate", "1024k"] in calls
    assert not [argv for argv in calls if argv[1] == "disk-options"]
    assert SHOW_DEFAULTS not in runner.calls      # nothing to compare before the attach


def test_attach_with_the_dynamic_controller_as_ganeti_sets_it():
    runner = FakeRunner()
    backend(runner, EMPTY_PROC).assemble(spec(DYNAMIC))
    calls = changing(runner.calls)
    assert ATTACH + ["--c-plan-ahead", "30", "--c-fill-target", "100s", "--c-delay-target",
                     "10", "--c-max-rate", "20480k", "--c-min-rate", "1024k"] in calls
    assert not [argv for argv in calls if argv[1] == "disk-options"]
    assert drbd.DrbdSync(dynamic_resync=True).argv(3) == [
        "drbdsetup", "disk-options", "3", "--c-plan-ahead", "20", "--c-fill-target", "0s",
        "--c-delay-target", "1", "--c-max-rate", "61440k", "--c-min-rate", "4096k"]


def test_attached_device_gets_only_what_differs_and_check_mode_runs_nothing():
    runner = FakeRunner().on(["drbdsetup", "show"], SHOW_7)
    runner.on(SHOW_DEFAULTS, disk_section(**{"resync-rate": "512k", "c-plan-ahead": "0"}))
    wanted = spec(drbd.DrbdSync(resync_rate=61440))
    result = backend(runner, PROC_7).assemble(wanted, check_mode=True)
    assert result.actions == ["set the resync pacing (resync-rate)"]
    assert changing(runner.calls) == []
    runner.calls.clear()
    result = backend(runner, PROC_7).assemble(wanted)
    assert changing(runner.calls) == [["drbdsetup", "disk-options", "7", "--c-plan-ahead", "0",
                                       "--resync-rate", "61440k"]]
    # the kernel's defaults (controller on) differ from a fixed rate in c-plan-ahead
    runner.on(SHOW_DEFAULTS, disk_section(**{"resync-rate": "61440k"}))
    result = backend(runner, PROC_7).assemble(wanted)
    assert result.actions == ["set the resync pacing (c-plan-ahead)"]


def test_attached_device_with_the_wanted_pacing_is_left_alone():
    runner = FakeRunner().on(["drbdsetup", "show"], SHOW_7)
    shown = {"c-plan-ahead": "30", "c-fill-target": "50k", "c-max-rate": "20M",
             "c-min-rate": "1024k"}
    runner.on(SHOW_DEFAULTS, disk_section(**shown))
    result = backend(runner, PROC_7).assemble(spec(DYNAMIC))
    assert not result.changed and changing(runner.calls) == []
    runner.on(SHOW_DEFAULTS, "")           # unreadable: set, rather than trust it
    result = backend(runner, PROC_7).assemble(spec(DYNAMIC))
    assert result.changed and changing(runner.calls)[0][:2] == ["drbdsetup", "disk-options"]


def test_show_values_in_each_parameters_unit():
    shown = parse_disk_options(disk_section(**{"resync-rate": "1M", "c-fill-target": "2k"}))
    assert shown["c-plan-ahead"] == "20"
    assert drbd.sync_values(shown) == {"resync-rate": 1024, "c-plan-ahead": 20,
                                       "c-delay-target": 10, "c-fill-target": 4,
                                       "c-max-rate": 102400, "c-min-rate": 250}
    assert drbd.sync_values({"c-plan-ahead": "2k", "resync-rate": "fast"}) == {
        **{p.name: None for p in drbd.SYNC_PARAMS}}


@pytest.mark.parametrize("sync, cause", [
    (drbd.DrbdSync(dynamic_resync=True, c_plan_ahead=0),
     "c-plan-ahead 0 turns DRBD's dynamic resync controller off, which contradicts"
     " dynamic-resync; to pace resyncs at the fixed resync-rate, set dynamic-resync to false"),
    (drbd.DrbdSync(resync_rate=0), "resync-rate must be at least 1 KiB/s"),
    (drbd.DrbdSync(c_max_rate=-1), "invalid c-max-rate -1: expected a number >= 0"),
])
def test_bad_pacing_refused_before_any_command(sync, cause):
    runner = FakeRunner()
    with pytest.raises(StorageError) as err:
        backend(runner, EMPTY_PROC).assemble(spec(sync))
    assert str(err.value) == "drbd7: " + cause
    assert runner.calls == []


def test_sync_from_the_role_variable():
    assert drbd.DrbdSync.from_dict({"dynamic_resync": True, "c_plan_ahead": 5}) == \
        drbd.DrbdSync(dynamic_resync=True, c_plan_ahead=5)
    assert drbd.DrbdSync.from_dict(None) == drbd.DrbdSync()
    with pytest.raises(StorageError, match="unknown drbd sync parameter.*: c_plan"):
        drbd.DrbdSync.from_dict({"c_plan": 5})
    keys = ["c_plan_ahead", "c_fill_target", "c_delay_target", "c_max_rate", "c_min_rate",
            "resync_rate"]
    assert [p.key for p in drbd.SYNC_PARAMS] == keys
