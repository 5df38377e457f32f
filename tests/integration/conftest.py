"""Fixtures shared by several integration modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import stop_session_cluster, storage_cluster_fixture, timed_fixture


@pytest.fixture(scope="session")
def storage_cluster() -> Iterator[LabCluster]:
    """The mixed lab cluster of the storage tests (gnt_storagelab), once per session."""
    yield from storage_cluster_fixture()


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Iterator[Callable[[str], None]]:
    """``timed(label)`` prints the time since the previous mark (gnt_storagelab)."""
    yield from timed_fixture(request)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last test that uses ``storage_cluster`` (and its own fixtures' teardown,
    which still use the cluster), take that cluster down at once instead of at the session's
    end: its lab slot is this worker's, and lab modules follow."""
    if "storage_cluster" in getattr(item, "fixturenames", ()) and \
            "storage_cluster" not in getattr(nextitem, "fixturenames", ()):
        stop_session_cluster()
