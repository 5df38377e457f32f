"""The xdist spread of the test run (tests/gnt_parallel.py): which modules stay together, in
which group, and the lab slot of each worker."""

from __future__ import annotations

import os

import gnt_parallel
from gnt_parallel import HOST_GROUP, STORAGE_GROUP, TESTS, group_of


def test_groups_follow_what_the_modules_share():
    cache: dict = {}
    assert group_of(TESTS / "unit/test_layers.py", cache) == ("unit", None)
    assert group_of(TESTS / "sanity/test_ansible_test_sanity.py", cache) == ("sanity", None)
    for name in ("test_storage_lab.py", "test_storage_lab_drbd.py"):
        assert group_of(TESTS / "integration" / name, cache) == (STORAGE_GROUP, STORAGE_GROUP)
    assert group_of(TESTS / "integration/test_multinode.py", cache) == \
        ("lab", "lab-test_multinode")
    assert group_of(TESTS / "integration/test_executor_modes.py", cache) == \
        (HOST_GROUP, HOST_GROUP)
    assert group_of(TESTS / "integration/test_backup_roundtrip.py", cache) == \
        (HOST_GROUP, HOST_GROUP)
    assert group_of(TESTS / "lab/test_lab.py", cache) == ("lab", "lab-test_lab")


def test_every_integration_module_that_starts_a_lab_gets_its_own_group():
    cache: dict = {}
    starts_lab, starts_host_cluster = "start_cluster" + "(", "make_cluster" + "("
    for path in sorted((TESTS / "integration").glob("test_*.py")):
        text = path.read_text()
        kind, group = group_of(path, cache)
        if starts_lab in text and not path.name.startswith("test_storage_lab"):
            assert (kind, group) == ("lab", f"lab-{path.stem}"), path.name
        elif starts_host_cluster in text:
            assert group == HOST_GROUP, path.name


def test_workers_get_distinct_slots():
    slots = [gnt_parallel.worker_lab_slot(1, index, 4) for index in range(4)]
    assert slots == [1, 2, 3, 0]


def test_this_worker_runs_in_its_own_slot():
    index = gnt_parallel.worker_index()
    if index is None:
        assert "PYTEST_XDIST_WORKER" not in os.environ
        return
    assert os.environ["GNT_LAB_SLOT"] == str((gnt_parallel.base_slot + index) % 4)


def test_scope_of_a_test_is_its_group_or_itself():
    cache: dict = {}
    assert gnt_parallel.scope_of("tests/integration/test_storage_lab_drbd.py::test_x", cache) \
        == STORAGE_GROUP
    assert gnt_parallel.scope_of("tests/integration/test_multinode.py::test_y[a]", cache) \
        == "lab-test_multinode"
    assert gnt_parallel.scope_of("tests/unit/test_layers.py::test_z", cache) == \
        "tests/unit/test_layers.py::test_z"
