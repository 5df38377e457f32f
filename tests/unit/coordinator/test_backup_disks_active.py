"""gnt-backup export and Ganeti's ``disks_active`` flag (LUBackupExport's ``activate_disks =
not instance.disks_active``): the disks of an instance whose flag is off are activated for the
copy and deactivated after it (also after a failed step); disks marked active, or in use by a
running instance, are left alone; the flag ends as the export found it, without a config write.
Real LUs, recording executor, the nodes' LVM/DRBD answers faked at the network edge."""

from __future__ import annotations

from typing import Any

import pytest
from test_backup_lvm import INST, N2, N3, _exported, _lv, lvm  # noqa: F401  # pylint: disable=unused-import
from test_ext_instances import NAME as EXT
from test_ext_instances import _create as _create_ext
from test_ext_instances import mn  # noqa: F401  # pylint: disable=unused-import

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.lu.backup_export import activates_disks


def _create(cluster, template: str, start: bool = False) -> None:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=INST, disk_template=template,
                      disks=[{"size": "1G"}], pnode=N2, snode=N3 if template == "drbd" else None,
                      name_check=False, ip_check=False, no_install=True, start=start,
                      os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log


def _op(cluster, op_id: str, name: str = INST, **kw: Any) -> None:
    job = cluster.run(op_id, instance_name=name, **kw)
    assert job.status == SUCCESS, job.ops[0].log


def _export(cluster, name: str = INST, ok: bool = True, **kw: Any):
    _exported(cluster, ok)
    since = len(cluster.executor.calls)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=name, target_node=N3, **kw)
    return job, since


def _volume_plays(cluster, since: int) -> list[tuple[bool, list[str]]]:
    """(active, [vg/lv ...]) of each instance_volumes play since ``since``, in run order."""
    return [(host["gnt_volumes_active"], [f"{v['vg']}/{v['name']}" for v in host["gnt_volumes"]])
            for plays in cluster.executor.calls[since:] for play in plays
            if play.role == "instance_volumes" for host in play.hosts.values()]


def _roles(cluster, since: int) -> list[str]:
    return [play.role for plays in cluster.executor.calls[since:] for play in plays]


def _state(cluster, name: str = INST) -> tuple[Any, int]:
    inst = cluster.master.config.lookup("instances", name)
    return inst.get("disks_active"), inst["serial_no"]


def test_inactive_plain_disks_are_activated_for_the_copy_then_deactivated(cluster, lvm):  # noqa: F811
    _create(cluster, "plain")
    before = _state(cluster)
    assert before[0] is False
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert _roles(cluster, since) == ["instance_volumes", "instance_export",
                                      "instance_volumes", "export_place"]
    assert _volume_plays(cluster, since) == [(True, [_lv(cluster)]), (False, [_lv(cluster)])]
    assert _state(cluster) == before            # flag as found, no config write


def test_active_disks_of_a_stopped_instance_stay_active(cluster, lvm):  # noqa: F811
    _create(cluster, "plain")
    _op(cluster, "OP_INSTANCE_ACTIVATE_DISKS")
    before = _state(cluster)
    assert before[0] is True
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert _roles(cluster, since) == ["instance_export", "export_place"]
    assert _state(cluster) == before


def test_inactive_drbd_disks_activate_the_data_volume_only(cluster, lvm):  # noqa: F811
    _create(cluster, "drbd")
    before = _state(cluster)
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    # read from the primary's data volume: no DRBD device assembled, and the volume stays
    # active, as deactivate-disks leaves a drbd instance's volumes
    assert _roles(cluster, since) == ["instance_volumes", "instance_export", "export_place"]
    assert _volume_plays(cluster, since) == [(True, [_lv(cluster)])]
    assert _lv(cluster).endswith("_data")
    assert _state(cluster) == before


def test_running_instance_disks_are_not_touched(cluster, lvm):  # noqa: F811
    _create(cluster, "plain", start=True)
    before = _state(cluster)
    assert before[0] is True
    job, since = _export(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    assert "instance_volumes" not in _roles(cluster, since)
    assert _state(cluster) == before


def test_failed_copy_still_deactivates_what_it_activated(cluster, lvm):  # noqa: F811
    _create(cluster, "plain")
    before = _state(cluster)
    cluster.executor.fail_roles["instance_export"] = "ssh to node3 failed"
    job, since = _export(cluster)
    assert job.status == ERROR and "Could not export" in str(job.ops[0].result)
    # the run stops at the failed copy (the plays after it not taken); a recovery run
    # deactivates the volumes, then the unfinished export is removed
    copy, recovery, discard = cluster.executor.calls[since:]
    assert [play.role for play in copy] == ["instance_volumes", "instance_export",
                                            "instance_volumes"]
    assert _volume_plays(cluster, since + 1) == [(False, [_lv(cluster)])]
    assert [play.role for play in recovery + discard] == ["instance_volumes", "export_remove"]
    assert _state(cluster) == before


def test_ext_disks_marked_active_stay_attached(mn):  # noqa: F811
    _create_ext(mn, start=False)
    _op(mn, "OP_INSTANCE_ACTIVATE_DISKS", EXT)
    before = _state(mn, EXT)
    assert before[0] is True
    job, since = _export(mn, EXT)
    assert job.status == SUCCESS, job.ops[0].log
    attached = [play.hosts[N2]["gnt_volumes_active"] for play in
                (p for plays in mn.executor.calls[since:] for p in plays)
                if play.role == "instance_volumes"]
    assert attached == [True]                   # attached for the copy, not detached after
    assert _state(mn, EXT) == before


@pytest.mark.parametrize(("flag", "admin_state", "running", "disks", "expected"), [
    (False, "down", False, ["d"], True),
    (None, "down", False, ["d"], True),         # older config: reads as admin state down
    (True, "down", False, ["d"], False),
    (None, "up", False, ["d"], False),
    (False, "down", True, ["d"], False),        # in use: never deactivated
    (False, "down", False, [], False),          # diskless
])
def test_activates_disks(flag, admin_state, running, disks, expected):
    inst: dict[str, Any] = {"admin_state": admin_state, "disks": disks}
    if flag is not None:
        inst["disks_active"] = flag
    assert activates_disks(inst, running) is expected
