"""Cluster locks: levels, shared/exclusive modes, a fixed acquisition order.

Levels (acquired strictly in this order, names sorted within a level, so no two jobs can wait
for each other in a cycle): cluster (the "Big Ganeti Lock", BGL) > instance > nodegroup >
node > node-res > network.

Each level also has a level-wide lock (multi-granularity locking): a request for named locks
takes it in an intention mode (IS/IX), a request for ``ALL`` takes it S or X, so "all instances"
conflicts with any single instance lock in a conflicting mode, as Ganeti's lock sets do.
All names a job asks for at one level are granted together or not at all.

Lock names are identities, not names: instances, nodes and node groups are locked by their
UUID, so a rename cannot let two jobs act on one object under two names. A name that is being
given to an object (creation, rename) is reserved by the lock :func:`name_lock` at the level of
that kind of object, so two jobs cannot claim one new name at once.

Opportunistic acquisition (:meth:`LockManager.acquire_opportunistic`, Ganeti's for instance
creation with ``opportunistic_locking``) takes those of the wanted names that are free, once at
least a given number are, instead of waiting for all of them.

A job may give back locks it no longer needs before it ends (:meth:`LockManager.release_names`,
:meth:`LockManager.keep_only`), as Ganeti's logical units do after choosing nodes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gnt.core.errors import LockError
from gnt.core.locklevels import ALL, LEVELS

_LEVEL_WIDE = "__level__"  # the level-wide lock every named lock of a level goes through

# Multi-granularity modes: named locks use S/X; the level-wide lock uses IS/IX for requests
# of named locks and S/X for requests of ALL.
_COMPATIBLE = {
    "IS": {"IS", "IX", "S"},
    "IX": {"IS", "IX"},
    "S": {"IS", "S"},
    "X": set(),
}


def _combine(held: str | None, wanted: str) -> str:
    """The single mode covering both ``held`` and ``wanted`` (S+IX approximated by X)."""
    if held is None or held == wanted:
        return wanted
    pair = {held, wanted}
    if "X" in pair or pair == {"S", "IX"}:
        return "X"
    if "S" in pair:
        return "S"
    return "IX"


@dataclass
class _LockState:
    holders: dict[object, str] = field(default_factory=dict)

    def compatible(self, owner: object, mode: str) -> bool:
        return all(mode in _COMPATIBLE[held] for other, held in self.holders.items()
                   if other is not owner)


class LockManager:
    """All locks of the master daemon; owners are arbitrary hashable objects (job ids)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._locks: dict[tuple[str, str], _LockState] = {}
        self._owned: dict[object, dict[tuple[str, str], str]] = {}
        # owner -> the (lock, mode) pairs it is waiting for (read by :meth:`snapshot`)
        self._pending: dict[object, list[tuple[tuple[str, str], str]]] = {}

    def _wanted(self, level: str, names: Iterable[str] | str, shared: bool
                ) -> list[tuple[tuple[str, str], str]]:
        mode = "S" if shared else "X"
        if names == ALL:
            return [((level, _LEVEL_WIDE), mode)]
        wanted = [((level, _LEVEL_WIDE), "IS" if shared else "IX")]
        wanted += [((level, name), mode) for name in sorted(set(names))]
        return wanted

    def acquire(self, owner: object, level: str, names: Iterable[str] | str, shared: bool,
                should_cancel: Callable[[], bool] | None = None,
                on_wait: Callable[[], None] | None = None) -> None:
        """Block until ``owner`` holds ``names`` (or ``ALL``) at ``level``.

        ``should_cancel`` is polled while waiting; when it returns true the wait ends with
        :class:`LockError` and nothing of this level is held. ``on_wait`` is called once, the
        first time the request has to wait.
        """
        if level not in LEVELS:
            raise LockError(f"Unknown lock level '{level}'")
        wanted = self._wanted(level, names, shared)
        waited = False
        with self._cond:
            owned = self._owned.setdefault(owner, {})
            for key, _unused in wanted:
                if key[0] != level:
                    raise LockError("internal: lock level mismatch")
            deeper = [key for key in owned if LEVELS.index(key[0]) > LEVELS.index(level)]
            if deeper:
                raise LockError(f"Lock order violation: {level} requested while holding"
                                f" {sorted({key[0] for key in deeper})}")
            try:
                while not all(self._state(key).compatible(owner, _combine(owned.get(key), mode))
                              for key, mode in wanted):
                    self._pending[owner] = wanted
                    if should_cancel is not None and should_cancel():
                        raise LockError("Job canceled while waiting for locks")
                    if not waited and on_wait is not None:
                        waited = True
                        self._cond.release()
                        try:
                            on_wait()
                        finally:
                            self._cond.acquire()
                        continue
                    self._cond.wait(0.5 if should_cancel is not None else None)
            finally:
                self._pending.pop(owner, None)
            for key, mode in wanted:
                mode = _combine(owned.get(key), mode)
                self._state(key).holders[owner] = mode
                owned[key] = mode

    def acquire_opportunistic(self, owner: object, level: str, names: Iterable[str],
                              shared: bool, minimum: int = 1,
                              should_cancel: Callable[[], bool] | None = None) -> list[str]:
        """Take those of ``names`` at ``level`` that are free, waiting only until at least
        ``minimum`` of them are (or all, if fewer are asked for); returns the names taken.

        Cancellation while waiting ends with :class:`LockError`, as in :meth:`acquire`.
        """
        if level not in LEVELS:
            raise LockError(f"Unknown lock level '{level}'")
        wanted = sorted(set(names))
        mode = "S" if shared else "X"
        wide = (level, _LEVEL_WIDE)
        need = min(max(1, minimum), len(wanted))
        with self._cond:
            owned = self._owned.setdefault(owner, {})
            deeper = [key for key in owned if LEVELS.index(key[0]) > LEVELS.index(level)]
            if deeper:
                raise LockError(f"Lock order violation: {level} requested while holding"
                                f" {sorted({key[0] for key in deeper})}")
            intent = "IS" if shared else "IX"
            self._pending[owner] = [(wide, intent)] + [((level, name), mode) for name in wanted]
            try:
                free = self._wait_free(owner, level, wanted, mode, need, should_cancel)
            finally:
                self._pending.pop(owner, None)
            if not free:
                return []
            for key, key_mode in [(wide, intent)] + [((level, name), mode) for name in free]:
                key_mode = _combine(owned.get(key), key_mode)
                self._state(key).holders[owner] = key_mode
                owned[key] = key_mode
            return free

    def _wait_free(self, owner: object, level: str, wanted: list[str], mode: str, need: int,
                   should_cancel: Callable[[], bool] | None) -> list[str]:
        """Wait (with :attr:`_cond` held) until ``need`` of ``wanted`` are free for ``owner``;
        the free ones (for :meth:`acquire_opportunistic`)."""
        owned = self._owned.setdefault(owner, {})
        wide = (level, _LEVEL_WIDE)
        intent = "IS" if mode == "S" else "IX"
        while True:
            free: list[str] = []
            if self._state(wide).compatible(owner, _combine(owned.get(wide), intent)):
                free = [name for name in wanted
                        if self._state((level, name)).compatible(
                            owner, _combine(owned.get((level, name)), mode))]
            if len(free) >= need:
                return free
            if should_cancel is not None and should_cancel():
                if not owned:
                    self._owned.pop(owner, None)
                raise LockError("Job canceled while waiting for locks")
            self._cond.wait(0.5 if should_cancel is not None else None)

    def _state(self, key: tuple[str, str]) -> _LockState:
        state = self._locks.get(key)
        if state is None:
            state = self._locks[key] = _LockState()
        return state

    def release(self, owner: object, level: str | None = None) -> None:
        """Release ``owner``'s locks at ``level`` (all levels when None)."""
        with self._cond:
            owned = self._owned.get(owner, {})
            self._drop(owner, [key for key in owned if level is None or key[0] == level])
            self._cond.notify_all()

    def release_names(self, owner: object, level: str, names: Iterable[str]) -> None:
        """Give back ``owner``'s locks on ``names`` at ``level``; other locks stay held.

        Names held through ``ALL`` cannot be given back one by one (use :meth:`keep_only`).
        """
        with self._cond:
            if self._owned.get(owner, {}).get((level, _LEVEL_WIDE)) in ("S", "X"):
                raise LockError(f"internal: level {level} is held whole; give back names with"
                                " keep_only")
            self.keep_only(owner, level, set(self._named(owner, level)) - set(names))

    def keep_only(self, owner: object, level: str, keep: Iterable[str]) -> None:
        """Keep only ``keep`` of ``owner``'s locks at ``level`` and release the rest.

        When ``owner`` holds the whole level (``ALL``), it ends up holding just the named
        locks ``keep``, in the same mode, without waiting: no other job can hold a
        conflicting lock on them while the whole level is held. An empty ``keep`` releases
        the level.
        """
        if level not in LEVELS:
            raise LockError(f"Unknown lock level '{level}'")
        keep = set(keep)
        with self._cond:
            owned = self._owned.get(owner, {})
            wide = owned.get((level, _LEVEL_WIDE))
            if wide is None:
                return
            if wide in ("S", "X"):
                held = set(self._named(owner, level))
                if not keep:
                    drop = [(level, name) for name in held] + [(level, _LEVEL_WIDE)]
                else:
                    # Named locks under a whole-level lock: take the kept ones in the mode
                    # of the level lock, then weaken the level lock to an intention.
                    for name in keep:
                        key = (level, name)
                        mode = _combine(owned.get(key), wide)
                        self._state(key).holders[owner] = mode
                        owned[key] = mode
                    intent = "IS" if wide == "S" else "IX"
                    self._state((level, _LEVEL_WIDE)).holders[owner] = intent
                    owned[(level, _LEVEL_WIDE)] = intent
                    drop = [(level, name) for name in held - keep]
            else:
                held = set(self._named(owner, level))
                unknown = keep - held
                if unknown:
                    raise LockError(f"internal: cannot keep locks not held at level {level}:"
                                    f" {sorted(unknown)}")
                drop = [(level, name) for name in held - keep]
                if not keep:
                    drop.append((level, _LEVEL_WIDE))
            self._drop(owner, drop)
            self._cond.notify_all()

    def _named(self, owner: object, level: str) -> list[str]:
        return [name for (lvl, name) in self._owned.get(owner, {})
                if lvl == level and name != _LEVEL_WIDE]

    def _drop(self, owner: object, keys: Iterable[tuple[str, str]]) -> None:
        owned = self._owned.get(owner, {})
        for key in keys:
            state = self._locks.get(key)
            if state is not None:
                state.holders.pop(owner, None)
                if not state.holders:
                    del self._locks[key]
            owned.pop(key, None)
        if not owned:
            self._owned.pop(owner, None)

    def wake(self) -> None:
        """Wake waiters so they re-check their cancel flags."""
        with self._cond:
            self._cond.notify_all()

    def held(self, owner: object) -> dict[str, dict[str, str]]:
        """What ``owner`` holds: level -> name -> "shared"/"exclusive" (for debugging)."""
        with self._cond:
            result: dict[str, dict[str, str]] = {}
            for (level, name), mode in self._owned.get(owner, {}).items():
                if name == _LEVEL_WIDE and mode in ("IS", "IX"):
                    continue
                label = "all" if name == _LEVEL_WIDE else name
                result.setdefault(level, {})[label] = "shared" if mode == "S" else "exclusive"
            return result

    def snapshot(self) -> list[tuple[str, str | None, list[str], list[list[Any]]]]:
        """Every lock held or waited for, as Ganeti's lock query shows it (read-only): rows of
        name (``level/uuid``, ``level/[lockset]`` for a level-wide lock, ``cluster/BGL``),
        mode (``exclusive``/``shared``, None when only waited for), owners (job ids as text)
        and pending requests (``[mode, [owner]]`` pairs), sorted by name. Intention modes of
        a level-wide lock (held for named locks of the level) count as shared."""
        with self._cond:
            holders = {key: dict(state.holders) for key, state in self._locks.items()
                       if state.holders}
            pending: dict[tuple[str, str], list[list[Any]]] = {}
            for owner, wanted in self._pending.items():
                for key, mode in wanted:
                    pending.setdefault(key, []).append(
                        [_mode_name(mode), [str(owner)]])
        rows: list[tuple[str, str | None, list[str], list[list[Any]]]] = []
        for key in sorted(set(holders) | set(pending)):
            level, name = key
            owners = holders.get(key, {})
            held: str | None = None if not owners else (
                "exclusive" if any(m == "X" for m in owners.values()) else "shared")
            label = "[lockset]" if name == _LEVEL_WIDE else name
            rows.append((f"{level}/{label}", held, sorted(str(o) for o in owners),
                         pending.get(key, [])))
        return rows


def _mode_name(mode: str) -> str:
    """Ganeti's name of a lock mode (intention modes are shared requests of the lock set)."""
    return "exclusive" if mode == "X" else "shared"
