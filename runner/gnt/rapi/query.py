"""``/2/query/RESOURCE`` and ``/2/query/RESOURCE/fields``: Ganeti's generic query over
RAPI, with its filter language.

The answer is Ganeti's query result: field definitions and, per row, ``[status, value]`` pairs
(status 0 normal, 1 unknown field, 2 no data). A filter is a list such as
``["&", ["=", "name", "web1"], ["!", ["?", "admin_up"]]]``; operators ``|`` ``&`` ``!``
``?`` ``=`` ``!=`` ``<`` ``>`` ``<=`` ``>=`` ``=~`` (regular expression) and ``=[]`` (list
contains). The rows are read from the master daemon and filtered here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from gnt.rapi.resources import Backend, HttpError, Request

RS_NORMAL, RS_UNKNOWN, RS_NODATA = 0, 1, 2
# Ganeti's query resources we answer (names as in its URLs) -> our query kinds.
RESOURCES = {"instance": "instance", "node": "node", "group": "group", "network": "network"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "<=": operator.le, ">=": operator.ge,
}


def _kind(req: Request) -> str:
    name = req.items[0]
    if name not in RESOURCES:
        raise HttpError(501, f"Queries of '{name}' are not implemented in gnt.cluster yet"
                             f" (available: {', '.join(sorted(RESOURCES))})")
    return RESOURCES[name]


def _definitions(backend: Backend, kind: str, names: list[str] | None) -> list[dict[str, str]]:
    """Ganeti's field definitions; an unknown name is kind ``unknown``."""
    known = {f["name"]: f for f in backend.call("query_fields", what=kind)}
    if names is None:
        names = list(known)
    return [{"name": n, "title": known[n].get("title", n), "kind": known[n].get("kind", ""),
             "doc": known[n].get("doc", "")} if n in known else
            {"name": n, "title": n, "kind": "unknown", "doc": "Unknown field"} for n in names]


def filter_fields(qfilter: Any) -> set[str]:
    """The field names a filter reads (raises HttpError for a malformed filter)."""
    if qfilter is None:
        return set()
    if not isinstance(qfilter, list) or not qfilter or not isinstance(qfilter[0], str):
        raise HttpError(400, f"Invalid query filter {qfilter!r}: a list starting with an"
                             " operator")
    op, args = qfilter[0], qfilter[1:]
    if op in ("|", "&"):
        return set().union(*(filter_fields(arg) for arg in args)) if args else set()
    if op == "!":
        if len(args) != 1:
            raise HttpError(400, "Filter operator '!' takes one filter")
        return filter_fields(args[0])
    if op == "?":
        if len(args) != 1 or not isinstance(args[0], str):
            raise HttpError(400, "Filter operator '?' takes one field name")
        return {args[0]}
    if op in _COMPARE or op in ("=~", "=[]"):
        if len(args) != 2 or not isinstance(args[0], str):
            raise HttpError(400, f"Filter operator '{op}' takes a field name and a value")
        if op == "=~":
            try:
                re.compile(str(args[1]))
            except re.error as err:
                raise HttpError(400, f"Invalid regular expression {args[1]!r}: {err}") from err
        return {args[0]}
    raise HttpError(400, f"Unknown filter operator '{op}'")


def matches(qfilter: Any, row: dict[str, Any]) -> bool:
    """Whether ``row`` (field -> value) passes ``qfilter`` (checked by :func:`filter_fields`)."""
    if qfilter is None:
        return True
    op, args = qfilter[0], qfilter[1:]
    if op == "|":
        return any(matches(arg, row) for arg in args)
    if op == "&":
        return all(matches(arg, row) for arg in args)
    if op == "!":
        return not matches(args[0], row)
    if op == "?":
        return bool(row.get(args[0]))
    value, wanted = row.get(args[0]), args[1]
    if op == "=~":
        return value is not None and re.search(str(wanted), str(value)) is not None
    if op == "=[]":
        return isinstance(value, list) and wanted in value
    try:
        return bool(_COMPARE[op](value, wanted))
    except TypeError:
        return False


def run_query(backend: Backend, kind: str, fields: list[str], qfilter: Any
              ) -> dict[str, Any]:
    """Ganeti's query answer for ``fields`` of ``kind`` rows passing ``qfilter``."""
    if not isinstance(fields, list) or not fields \
            or not all(isinstance(f, str) and f for f in fields):
        raise HttpError(400, "'fields' must be a non-empty list of field names")
    available = {f["name"] for f in backend.call("query_fields", what=kind)}
    in_filter = filter_fields(qfilter)
    if in_filter - available:
        raise HttpError(400, "Unknown field(s) in the filter:"
                             f" {', '.join(sorted(in_filter - available))}")
    needed = sorted((set(fields) & available) | in_filter)
    result = backend.call("query", what=kind, fields=needed, names=[])
    data = []
    for values in result["data"]:
        row = dict(zip(needed, values, strict=True))
        if matches(qfilter, row):
            data.append([[RS_UNKNOWN, None] if f not in available else
                         [RS_NORMAL if row[f] is not None else RS_NODATA, row[f]]
                         for f in fields])
    return {"fields": _definitions(backend, kind, fields), "data": data}


def _query_arg_fields(req: Request) -> list[str]:
    fields = req.arg("fields")
    if not fields:
        raise HttpError(400, "Missing 'fields' query argument")
    return fields.split(",")


def get_query(backend: Backend, req: Request) -> Any:
    """``GET /2/query/RESOURCE?fields=a,b`` (no filter, as Ganeti's GET)."""
    return run_query(backend, _kind(req), _query_arg_fields(req), None)


def put_query(backend: Backend, req: Request) -> Any:
    """``PUT /2/query/RESOURCE`` with ``{"fields": [...], "qfilter": [...]}`` (``filter``
    is the old name of ``qfilter``; fields may also come from the query argument)."""
    kind = _kind(req)
    body = req.body_dict()
    fields = body["fields"] if "fields" in body else _query_arg_fields(req)
    qfilter = body.get("qfilter", body.get("filter"))
    return run_query(backend, kind, fields, qfilter)


def get_query_fields(backend: Backend, req: Request) -> Any:
    """``GET /2/query/RESOURCE/fields[?fields=a,b]``: field definitions."""
    names = req.arg("fields")
    return {"fields": _definitions(backend, _kind(req), names.split(",") if names else None)}
