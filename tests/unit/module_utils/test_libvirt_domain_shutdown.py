"""libvirt_domain.ensure_shutdown against a fake domain and a fake clock: how often it checks
whether the guest is off after the ACPI request (soon at first, every 20 ms at most for the
first 2 s, then every 0.1 s at most),
that it never waits past the timeout, and that it forces the domain off only then."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("libvirt")

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (  # noqa: E402
    ensure_shutdown,
    poll_intervals,
)


class FakeClock:
    """Time that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeDomain:
    """A running domain that powers off ``off_after`` seconds after the ACPI request
    (never when None)."""

    def __init__(self, clock: FakeClock, off_after: float | None) -> None:
        self.clock, self.off_after = clock, off_after
        self.requested: float | None = None
        self.destroyed = False

    def isActive(self) -> bool:  # noqa: N802 - libvirt's name
        if self.destroyed:
            return False
        if self.requested is None or self.off_after is None:
            return True
        return self.clock.now - self.requested < self.off_after

    def shutdown(self) -> None:
        self.requested = self.clock.now

    def destroy(self) -> None:
        self.destroyed = True


class FakeConn:
    def __init__(self, dom: FakeDomain) -> None:
        self.dom = dom

    def lookupByName(self, name: str) -> FakeDomain:  # noqa: N802 - libvirt's name
        return self.dom


def test_poll_intervals_start_short_and_grow_to_a_cap() -> None:
    waits = list(itertools.islice(poll_intervals(), 200))
    assert waits[0] == pytest.approx(0.005)
    assert all(b >= a for a, b in zip(waits, waits[1:]))
    elapsed = list(itertools.accumulate(waits))
    early = [wait for wait, before in zip(waits[1:], elapsed) if before < 2.0]
    assert max(early) == pytest.approx(0.02)     # the first 2 s: every 20 ms at most
    assert waits[-1] == pytest.approx(0.1)
    assert max(waits) <= 0.1


def test_a_guest_off_after_a_quarter_second_is_seen_within_20_ms() -> None:
    clock = FakeClock()
    dom = FakeDomain(clock, off_after=0.27)       # ACPI + QEMU's exit of a small guest
    assert ensure_shutdown(FakeConn(dom), "vm1", timeout=120, clock=clock.clock,
                           sleep=clock.sleep) == (True, False)
    assert 0.27 <= clock.now - 100.0 <= 0.29, clock.sleeps   # growing to 0.1 s: 0.35


def test_a_quick_guest_is_seen_off_within_milliseconds() -> None:
    clock = FakeClock()
    dom = FakeDomain(clock, off_after=0.03)
    changed, forced = ensure_shutdown(FakeConn(dom), "vm1", timeout=120, clock=clock.clock,
                                      sleep=clock.sleep)
    assert (changed, forced) == (True, False)
    assert not dom.destroyed
    waited = clock.now - 100.0
    assert 0.03 <= waited < 0.045, clock.sleeps      # with a fixed 0.1 s poll: 0.1


def test_a_slow_guest_is_checked_every_tenth_of_a_second_at_most() -> None:
    clock = FakeClock()
    dom = FakeDomain(clock, off_after=5.0)
    assert ensure_shutdown(FakeConn(dom), "vm1", timeout=120, clock=clock.clock,
                           sleep=clock.sleep) == (True, False)
    assert max(clock.sleeps) <= 0.1 + 1e-9
    assert 5.0 <= clock.now - 100.0 < 5.1
    # not a busy loop: ~100 checks in the first 2 s, then ~30 of 0.1 s
    assert len(clock.sleeps) < 150


def test_a_guest_that_ignores_acpi_is_forced_off_at_the_timeout_not_later() -> None:
    clock = FakeClock()
    dom = FakeDomain(clock, off_after=None)
    assert ensure_shutdown(FakeConn(dom), "vm1", timeout=2, clock=clock.clock,
                           sleep=clock.sleep) == (True, True)
    assert dom.destroyed
    assert clock.now - 100.0 == pytest.approx(2.0)


def test_timeout_zero_forces_off_at_once() -> None:
    clock = FakeClock()
    dom = FakeDomain(clock, off_after=0.01)
    assert ensure_shutdown(FakeConn(dom), "vm1", timeout=0, clock=clock.clock,
                           sleep=clock.sleep) == (True, True)
    assert dom.requested is None and dom.destroyed and clock.sleeps == []
