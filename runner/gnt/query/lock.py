"""Query fields of locks (Ganeti's ``/2/query/lock``, ``gnt-debug locks``).

Rows are the lock manager's read-only snapshot
(:meth:`gnt.jobs.locking.LockManager.snapshot`), taken by the master daemon:
``(name, mode, owners, pending)``.
"""

from __future__ import annotations

from gnt.query.field import Field


def lock_fields() -> list[Field]:
    """Ganeti's lock fields."""
    return [
        Field("name", "Name", "other", lambda r: r[0], doc="Lock name"),
        Field("mode", "Mode", "other", lambda r: r[1],
              doc="Mode in which the lock is currently acquired (exclusive or shared)"),
        Field("owner", "Owner", "other", lambda r: list(r[2]), doc="Current lock owner(s)"),
        Field("pending", "Pending", "other", lambda r: list(r[3]),
              doc="Jobs waiting for the lock"),
    ]
