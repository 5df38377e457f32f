import threading
import time

import pytest

from gnt.core.errors import LockError
from gnt.core.locklevels import ALL
from gnt.jobs.locking import LockManager


def _try(lm, owner, level, names, shared):
    """Acquire in a thread; return (thread, event set when granted)."""
    got = threading.Event()

    def run():
        lm.acquire(owner, level, names, shared)
        got.set()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def test_shared_locks_coexist_exclusive_waits():
    lm = LockManager()
    lm.acquire(1, "instance", ["a"], shared=True)
    _thread, got2 = _try(lm, 2, "instance", ["a"], True)
    assert got2.wait(1)
    _thread, got3 = _try(lm, 3, "instance", ["a"], False)
    assert not got3.wait(0.2)
    lm.release(1)
    assert not got3.wait(0.2)
    lm.release(2)
    assert got3.wait(1)


def test_different_names_do_not_block():
    lm = LockManager()
    lm.acquire(1, "instance", ["a"], shared=False)
    _thread, got = _try(lm, 2, "instance", ["b"], False)
    assert got.wait(1)


def test_all_conflicts_with_single_names():
    lm = LockManager()
    lm.acquire(1, "instance", ALL, shared=True)
    _thread, got_x = _try(lm, 2, "instance", ["a"], False)
    _thread, got_s = _try(lm, 3, "instance", ["a"], True)
    assert got_s.wait(1)
    assert not got_x.wait(0.2)
    lm.release(1)
    lm.release(3)
    assert got_x.wait(1)
    _thread, got_all_x = _try(lm, 4, "instance", ALL, False)
    assert not got_all_x.wait(0.2)
    lm.release(2)
    assert got_all_x.wait(1)


def test_order_violation_refused():
    lm = LockManager()
    lm.acquire(1, "node", ["n1"], shared=False)
    with pytest.raises(LockError, match="order"):
        lm.acquire(1, "instance", ["a"], shared=False)


def test_cancel_while_waiting_holds_nothing_of_that_level():
    lm = LockManager()
    lm.acquire(1, "instance", ["a"], shared=False)
    cancel = threading.Event()
    errors = []

    def run():
        try:
            lm.acquire(2, "instance", ["a"], False, should_cancel=cancel.is_set)
        except LockError as err:
            errors.append(err)
    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.1)
    cancel.set()
    lm.wake()
    thread.join(3)
    assert errors and "canceled" in str(errors[0])
    assert lm.held(2) == {}


def test_release_names_gives_back_only_those():
    lm = LockManager()
    lm.acquire(1, "node", ["a", "b"], shared=False)
    lm.release_names(1, "node", ["a"])
    _thread, got_a = _try(lm, 2, "node", ["a"], False)
    _thread, got_b = _try(lm, 3, "node", ["b"], False)
    assert got_a.wait(1)
    assert not got_b.wait(0.2)
    assert lm.held(1) == {"node": {"b": "exclusive"}}
    lm.release(1)
    assert got_b.wait(1)


def test_keep_only_turns_all_into_the_kept_names():
    lm = LockManager()
    lm.acquire(1, "node", ALL, shared=False)
    _thread, got_b = _try(lm, 2, "node", ["b"], False)
    assert not got_b.wait(0.2)
    lm.keep_only(1, "node", ["a"])
    assert got_b.wait(1)  # released without a release of everything
    assert lm.held(1) == {"node": {"a": "exclusive"}}
    _thread, got_a = _try(lm, 3, "node", ["a"], True)
    _thread, got_all = _try(lm, 4, "node", ALL, True)
    assert not got_a.wait(0.2)
    assert not got_all.wait(0.1)
    lm.release(1)
    assert got_a.wait(1)
    lm.release(2)
    assert got_all.wait(1)


def test_keep_only_of_shared_all_keeps_shared_names():
    lm = LockManager()
    lm.acquire(1, "node", ALL, shared=True)
    lm.keep_only(1, "node", ["a", "b"])
    assert lm.held(1) == {"node": {"a": "shared", "b": "shared"}}
    _thread, got_s = _try(lm, 2, "node", ["a"], True)
    _thread, got_x = _try(lm, 3, "node", ["b"], False)
    _thread, got_c = _try(lm, 4, "node", ["c"], False)
    assert got_s.wait(1) and got_c.wait(1)
    assert not got_x.wait(0.2)


def test_keep_nothing_releases_the_level_and_keeps_others():
    lm = LockManager()
    lm.acquire(1, "instance", ["i1"], shared=False)
    lm.acquire(1, "node", ["a"], shared=False)
    lm.keep_only(1, "node", [])
    assert lm.held(1) == {"instance": {"i1": "exclusive"}}
    _thread, got_all = _try(lm, 2, "node", ALL, False)
    assert got_all.wait(1)


def test_release_names_of_a_whole_level_refused():
    lm = LockManager()
    lm.acquire(1, "node", ALL, shared=False)
    with pytest.raises(LockError, match="keep_only"):
        lm.release_names(1, "node", ["a"])
    assert lm.held(1) == {"node": {"all": "exclusive"}}
