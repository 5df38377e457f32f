"""Ganeti's container modifications, shared by ``modify --net`` and ``modify --disk``.

A modification is ``[action, identifier, params]`` (``add`` at an index or -1 for the end;
``remove``/``modify`` of the item with that index, name or UUID, -1 for the last) or the older
``[add|remove|index, params]`` form. :func:`normalize` brings both to the first shape and makes
the checks that need nothing but the items; :func:`index` finds the list index an item is about.
"""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError

ADD, REMOVE, MODIFY = "add", "remove", "modify"
ACTIONS = (ADD, REMOVE, MODIFY)


def normalize(mods: list[Any], kind: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """``mods`` as ``(action, identifier, params)``; an unknown action, or settings given
    with ``remove``, are refused (``kind`` names the items in messages: ``NIC``, ``disk``)."""
    result = []
    for item in mods:
        if len(item) == 2:                      # the older form
            first, values = item
            if first in (ADD, REMOVE):
                action, ident = first, -1
            else:
                action, ident = MODIFY, first
        else:
            action, ident, values = item
        if action not in ACTIONS:
            raise OpPrereqError(f"Invalid {kind} modification '{action}' (use one of"
                                f" {', '.join(ACTIONS)})", ECODE_INVAL)
        values = dict(values)
        if action == REMOVE and values:
            raise OpPrereqError(f"No settings should be passed when removing a {kind}",
                                ECODE_INVAL)
        result.append((action, ident, values))
    return result


def index(items: list[dict[str, Any]], ident: Any, action: str, kind: str) -> int:
    """The list index a modification is about (for ``add``: where the new item goes);
    ``ident`` is an index (-1: the last, or the end for ``add``), a name or a UUID."""
    try:
        idx = int(ident)
    except (TypeError, ValueError):
        for idx, item in enumerate(items):
            if ident in (item.get("name"), item.get("uuid")):
                if action == ADD:
                    break
                return idx
        raise OpPrereqError(f"Cannot find {kind} with identifier {ident}",
                            ECODE_NOENT) from None
    if action == ADD:
        if idx == -1:
            return len(items)
        if idx < 0:
            raise OpPrereqError("Not accepting negative indices other than -1", ECODE_INVAL)
        if idx > len(items):
            raise OpPrereqError(f"Got {kind} index {idx}, but there are only {len(items)}",
                                ECODE_INVAL)
        return idx
    if idx == -1 and items:
        return len(items) - 1
    if not 0 <= idx < len(items):
        raise OpPrereqError(f"Invalid {kind} index {ident}, valid range is 0 -"
                            f" {len(items) - 1}" if items else
                            f"Invalid {kind} index {ident}: the instance has no {kind}s",
                            ECODE_INVAL)
    return idx


def duplicate_name(items: list[dict[str, Any]]) -> str | None:
    """The first name two of ``items`` share (sorted), or None."""
    names = [item["name"] for item in items if item.get("name")]
    dupes = sorted({name for name in names if names.count(name) > 1})
    return dupes[0] if dupes else None
