"""One query field: its name, column title, kind and how to read it from a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gnt.core.errors import ECODE_NOENT, OpPrereqError


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


def select_by_name(objects: list[dict[str, Any]], names: list[str],
                   what: str) -> list[dict[str, Any]]:
    """The named objects (by name or UUID) in the order given, or all sorted by name; names
    that match none are one error naming them (``Unknown {what}(s): ...``)."""
    if not names:
        return sorted(objects, key=lambda obj: obj["name"])
    by_key = {obj["uuid"]: obj for obj in objects}
    by_key.update({obj["name"]: obj for obj in objects})
    unknown = [name for name in names if name not in by_key]
    if unknown:
        raise OpPrereqError(f"Unknown {what}(s): {', '.join(unknown)}", ECODE_NOENT)
    return [by_key[name] for name in names]
