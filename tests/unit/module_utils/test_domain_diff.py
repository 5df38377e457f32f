"""Diff mode's prediction of a domain after an operation (``domain_diff.planned``), for the
reboot of Ganeti's semantics: a domain that is not running is started from the spec."""

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.domain_diff import planned

OLD, NEW = "<domain>old</domain>", "<domain>new</domain>"


def _view(state, outdated=True):
    return {"state": state, "memory_mib": 128, "xml": OLD, "outdated": outdated}


@pytest.mark.parametrize(("before", "reboot_type", "xml"), [
    ("running", "soft", OLD),       # the guest reboots itself: the definition stays
    ("running", "hard", NEW),
    ("running", "full", NEW),
    ("shutoff", "soft", NEW),       # not running: started from the spec whatever the type
    ("shutoff", "hard", NEW),
])
def test_a_reboot_leaves_the_domain_running_from_the_right_definition(before, reboot_type, xml):
    after = planned(_view(before), "rebooted", NEW, reboot_type=reboot_type)
    assert after["state"] == "running" and after["xml"] == xml


def test_a_reboot_with_a_current_definition_keeps_it():
    after = planned(_view("running", outdated=False), "rebooted", NEW, reboot_type="hard")
    assert after["xml"] == OLD and after["state"] == "running"


def test_a_soft_reboot_without_spec_changes_nothing_predicted():
    before = _view("running")
    assert planned(before, "rebooted", None, reboot_type="soft") == before
