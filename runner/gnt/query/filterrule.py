"""Query fields of job filter rules (Ganeti's ``/2/query/filter``, ``gnt-filter list``).

Rows are the rules of ``config.data["filters"]`` in evaluation order (priority, watermark,
UUID); names select rules by UUID.
"""

from __future__ import annotations

from typing import Any

from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_NOENT, OpPrereqError
from gnt.query.field import Field


def rows(store: ConfigStore, names: list[str]) -> list[dict[str, Any]]:
    """The rules named by UUID (all if none); unknown UUIDs raise (ECODE_NOENT)."""
    rules = {rule["uuid"]: rule for rule in store.filters()}
    if not names:
        return sorted(rules.values(),
                      key=lambda r: (r["priority"], r["watermark"], r["uuid"]))
    unknown = [name for name in names if name not in rules]
    if unknown:
        raise OpPrereqError(f"Unknown filter rule(s): {', '.join(unknown)}", ECODE_NOENT)
    return [rules[name] for name in names]


def filter_fields() -> list[Field]:
    """Ganeti's filter rule fields."""
    return [
        Field("watermark", "Watermark", "other", lambda r: r["watermark"],
              doc="Highest job ID used at the time when the filter was added"),
        Field("priority", "Priority", "other", lambda r: r["priority"],
              doc="Filter priority"),
        Field("predicates", "Predicates", "other", lambda r: r["predicates"],
              doc="List of filter predicates"),
        Field("action", "Action", "other", lambda r: r["action"], doc="Filter action"),
        Field("reason_trail", "ReasonTrail", "other", lambda r: r["reason_trail"],
              doc="Reason why this filter was added"),
        Field("uuid", "UUID", "other", lambda r: r["uuid"], doc="Filter ID"),
    ]
