"""Unit-test-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gnt.core import certs

KEY_POOL_SIZE = 8


@pytest.fixture(autouse=True, scope="session")
def rsa_key_pool() -> Iterator[None]:
    """Certificates made by unit tests take their RSA keys from a pool of real keys, each made
    once and handed out in turn (two keys asked for one after the other always differ):
    a cluster's init makes one, 0.1-0.4 s of every test that starts a cluster."""
    made: list[Any] = []
    turn = 0
    real = certs.new_key

    def pooled() -> Any:
        nonlocal turn
        if len(made) < KEY_POOL_SIZE:
            made.append(real())
            return made[-1]
        turn = (turn + 1) % KEY_POOL_SIZE
        return made[turn]

    certs.new_key = pooled  # type: ignore[assignment]
    try:
        yield
    finally:
        certs.new_key = real  # type: ignore[assignment]
