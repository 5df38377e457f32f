"""``/2/filters`` and ``/2/filters/UUID``: Ganeti's job filter rules over RAPI.

The body of POST and PUT has ``priority`` (default 0), ``predicates`` (default ``[]``),
``action`` (default ``CONTINUE``) and ``reason`` (default ``[]``), nothing else; the master
daemon checks the values (bad ones answer 400 naming them). POST and PUT answer the rule's
UUID, DELETE null.
"""

from __future__ import annotations

from typing import Any

from gnt.rapi.resources import Backend, HttpError, Request

# Ganeti's fields of a filter rule in RAPI answers (bulk listing and single rule).
FILTER_RULE_FIELDS = ["watermark", "priority", "predicates", "action", "reason_trail", "uuid"]
_BODY = {"priority": (int, 0), "predicates": (list, []), "action": (None, "CONTINUE"),
         "reason": (list, [])}


def _parameters(req: Request) -> dict[str, Any]:
    """The rule's parameters from the body, checked as Ganeti's RAPI checks them."""
    body = req.body
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise HttpError(400, "Invalid body contents, not a dictionary")
    for name in body:
        if name not in _BODY:
            raise HttpError(400, "Invalid body parameters: filter rule doesn't support the"
                                 f" parameter '{name}'")
    params: dict[str, Any] = {}
    for name, (expected, default) in _BODY.items():
        value = body.get(name, default)
        if expected is not None and (not isinstance(value, expected)
                                     or isinstance(value, bool)):
            raise HttpError(400, f"Invalid parameter '{name}': {value!r} is not a"
                                 f" {expected.__name__}")
        params[name] = value
    return params


def _rows(backend: Backend, names: list[str]) -> list[dict[str, Any]]:
    result = backend.call("query", what="filter", fields=FILTER_RULE_FIELDS, names=names)
    return [dict(zip(FILTER_RULE_FIELDS, row, strict=True)) for row in result["data"]]


def get_filters(backend: Backend, req: Request) -> Any:
    """``GET /2/filters``: ``[{uuid, uri}]``, or every field with ``bulk=1``."""
    rows = _rows(backend, [])
    if req.flag("bulk"):
        return rows
    return [{"uuid": row["uuid"], "uri": f"/2/filters/{row['uuid']}"} for row in rows]


def post_filters(backend: Backend, req: Request) -> Any:
    """``POST /2/filters``: add a rule; its UUID."""
    return backend.call("replace_filter", uuid=None, **_parameters(req))


def get_filter(backend: Backend, req: Request) -> Any:
    """``GET /2/filters/UUID``: the rule's fields (404 if there is none)."""
    return _rows(backend, [req.items[0]])[0]


def put_filter(backend: Backend, req: Request) -> Any:
    """``PUT /2/filters/UUID``: replace the rule, or create it with this UUID."""
    return backend.call("replace_filter", uuid=req.items[0], **_parameters(req))


def delete_filter(backend: Backend, req: Request) -> Any:
    """``DELETE /2/filters/UUID``."""
    return backend.call("delete_filter", uuid=req.items[0])
