"""libvirt_migrate: the migration decision (idempotence, refusals) and the flags."""

from __future__ import annotations

import types

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import DomainError
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_migrate import (
    ALREADY_THERE,
    MIGRATE,
    migration_flags,
    migration_params,
    plan,
)


@pytest.mark.parametrize("source, dest", [("running", "absent"), ("paused", "absent"),
                                          ("running", "shutoff")])
def test_plan_migrates_a_running_domain(source, dest):
    assert plan("i1", source, dest) == MIGRATE


@pytest.mark.parametrize("source", ["absent", "shutoff"])
def test_plan_already_on_destination(source):
    assert plan("i1", source, "running") == ALREADY_THERE


@pytest.mark.parametrize("source, dest, message", [
    ("absent", "absent", "neither on the source nor on the destination"),
    ("running", "running", "active on both"),
    ("shutoff", "absent", "not running .*failed over or moved"),
    ("shutoff", "shutoff", "not running"),
    ("shutdown", "absent", "state on the source is shutdown"),
])
def test_plan_refusals_name_the_states(source, dest, message):
    with pytest.raises(DomainError, match=message) as err:
        plan("inst1.example.com", source, dest)
    assert "inst1.example.com" in str(err.value)


def test_flags_and_params():
    lv = types.SimpleNamespace(VIR_MIGRATE_LIVE=1, VIR_MIGRATE_PEER2PEER=2,
                               VIR_MIGRATE_PERSIST_DEST=8, VIR_MIGRATE_UNDEFINE_SOURCE=16,
                               VIR_MIGRATE_UNSAFE=512, VIR_MIGRATE_PARAM_BANDWIDTH="bandwidth")
    assert migration_flags(lv) == 1 | 2 | 8 | 16
    assert migration_flags(lv, live=False) == 2 | 8 | 16
    assert migration_flags(lv, live=True, unsafe=True) == 1 | 2 | 8 | 16 | 512
    assert migration_params(lv) == {}
    assert migration_params(lv, bandwidth_mib=100) == {"bandwidth": 100}
