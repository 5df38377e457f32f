"""One query field: its name, column title, kind and how to read it from a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """A column of ``gnt-* list``: ``live`` ones need the nodes' answers; a ``None`` value of
    an ``unavail`` one is Ganeti's "unavailable" (RS_UNAVAIL), else "no data" (RS_NODATA)."""

    name: str
    title: str
    kind: str  # text, number, unit (MiB), bool, list, timestamp, other
    getter: Callable[[Any], Any]
    live: bool = False
    doc: str = ""
    unavail: bool = False
