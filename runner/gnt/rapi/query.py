"""``/2/query/RESOURCE`` and ``/2/query/RESOURCE/fields``: Ganeti's generic query over
RAPI, with its filter language.

The answer is Ganeti's query result: field definitions and, per row, ``[status, value]`` pairs
(status 0 normal, 1 unknown field, 2 no data, 3 unavailable). The filter language is
:mod:`gnt.core.qfilter`. The rows are read from the master daemon and filtered here.
"""

from __future__ import annotations

from typing import Any

from gnt.core import qfilter as qfilter_lang
from gnt.rapi.resources import Backend, HttpError, Request

RS_NORMAL, RS_UNKNOWN, RS_NODATA, RS_UNAVAIL = 0, 1, 2, 3
# Ganeti's query resources we answer (names as in its URLs) -> our query kinds.
RESOURCES = {"instance": "instance", "node": "node", "group": "group",
             "job": "job", "export": "export", "lock": "lock", "filter": "filter",
             "network": "network"}


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
    """The field names a filter reads (raises HttpError 400 for a malformed filter)."""
    try:
        return qfilter_lang.filter_fields(qfilter)
    except qfilter_lang.QueryFilterError as err:
        raise HttpError(400, str(err)) from err


matches = qfilter_lang.matches


def run_query(backend: Backend, kind: str, fields: list[str], qfilter: Any
              ) -> dict[str, Any]:
    """Ganeti's query answer for ``fields`` of ``kind`` rows passing ``qfilter``."""
    if not isinstance(fields, list) or not fields \
            or not all(isinstance(f, str) and f for f in fields):
        raise HttpError(400, "'fields' must be a non-empty list of field names")
    defs = {f["name"]: f for f in backend.call("query_fields", what=kind)}
    available = set(defs)
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
                         [RS_NORMAL, row[f]] if row[f] is not None else
                         [RS_UNAVAIL if defs[f].get("unavail") else RS_NODATA, None]
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
