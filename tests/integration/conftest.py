"""Fixtures shared by several integration modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gnt_labcluster import LabCluster
from gnt_storagelab import storage_cluster_fixture, timed_fixture


@pytest.fixture(scope="session")
def storage_cluster() -> Iterator[LabCluster]:
    """The mixed lab cluster of the storage tests (gnt_storagelab), once per session."""
    yield from storage_cluster_fixture()


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Iterator[Callable[[str], None]]:
    """``timed(label)`` prints the time since the previous mark (gnt_storagelab)."""
    yield from timed_fixture(request)
