"""Ganeti's query filter language: checking a filter and evaluating it against a row.

A filter is a list such as ``["&", ["=", "name", "web1"], ["!", ["?", "admin_up"]]]``;
operators ``|`` ``&`` ``!`` (logic), ``?`` (field is true), ``=`` ``!=`` ``<`` ``>`` ``<=``
``>=`` (comparisons), ``=~`` (regular expression) and ``=[]`` (list contains). Used by the
RAPI's ``/2/query`` and by job filter rules' predicates (:mod:`gnt.jobs.filters`). Filters are
data: values are compared, never evaluated.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "<=": operator.le, ">=": operator.ge,
}
LOGIC = ("|", "&", "!")
OTHER = ("?", "=~", "=[]")


class QueryFilterError(ValueError):
    """A malformed filter; the message names the bad part."""


class Unavailable(Exception):
    """Raised by a field getter for a field the row does not have: the whole filter is then
    false (Ganeti's evaluation of job filter predicates)."""


def filter_fields(qfilter: Any) -> set[str]:
    """The field names a filter reads (None: no filter); :class:`QueryFilterError` if it is
    malformed."""
    if qfilter is None:
        return set()
    if not isinstance(qfilter, list) or not qfilter or not isinstance(qfilter[0], str):
        raise QueryFilterError(f"Invalid query filter {qfilter!r}: a list starting with an"
                               " operator")
    op, args = qfilter[0], qfilter[1:]
    if op in ("|", "&"):
        return set().union(*(filter_fields(arg) for arg in args)) if args else set()
    if op == "!":
        if len(args) != 1:
            raise QueryFilterError("Filter operator '!' takes one filter")
        return filter_fields(args[0])
    if op == "?":
        if len(args) != 1 or not isinstance(args[0], str):
            raise QueryFilterError("Filter operator '?' takes one field name")
        return {args[0]}
    if op in COMPARE or op in ("=~", "=[]"):
        if len(args) != 2 or not isinstance(args[0], str):
            raise QueryFilterError(f"Filter operator '{op}' takes a field name and a value")
        if op == "=~":
            try:
                re.compile(str(args[1]))
            except re.error as err:
                raise QueryFilterError(f"Invalid regular expression {args[1]!r}: {err}"
                                       ) from err
        return {args[0]}
    raise QueryFilterError(f"Unknown filter operator '{op}'")


def evaluate(qfilter: Any, get: Callable[[str], Any], ops: frozenset[str] | None = None,
             value: Callable[[Any], Any] = lambda v: v) -> bool:
    """Whether the row read by ``get`` (field -> value) passes ``qfilter`` (checked with
    :func:`filter_fields`). A getter raising :class:`Unavailable`, or an operator not in
    ``ops`` (when given), makes the whole filter false; ``value`` maps each compared value
    (e.g. a placeholder to its meaning)."""
    try:
        return _eval(qfilter, get, ops, value)
    except Unavailable:
        return False


def _eval(qfilter: Any, get: Callable[[str], Any], ops: frozenset[str] | None,
          value: Callable[[Any], Any]) -> bool:
    if qfilter is None:
        return True
    op, args = qfilter[0], qfilter[1:]
    if op == "|":
        return any(_eval(arg, get, ops, value) for arg in args)
    if op == "&":
        return all(_eval(arg, get, ops, value) for arg in args)
    if op == "!":
        return not _eval(args[0], get, ops, value)
    if ops is not None and op not in ops:
        raise Unavailable(op)
    if op == "?":
        return bool(get(args[0]))
    current, wanted = get(args[0]), value(args[1])
    if op == "=~":
        return current is not None and re.search(str(wanted), str(current)) is not None
    if op == "=[]":
        return isinstance(current, list) and wanted in current
    try:
        return bool(COMPARE[op](current, wanted))
    except TypeError:
        return False


def matches(qfilter: Any, row: dict[str, Any]) -> bool:
    """Whether ``row`` (field -> value; a missing field is None) passes ``qfilter``."""
    return evaluate(qfilter, row.get)
