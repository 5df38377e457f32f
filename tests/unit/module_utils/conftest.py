"""Shared fixtures of the module_utils tests."""

from __future__ import annotations

import pytest
from storage_fakes import FakeRunner


@pytest.fixture
def fake_runner() -> FakeRunner:
    """A fake storage command runner (tests/storage_fakes.py)."""
    return FakeRunner()
