"""Job filter rules (Ganeti's ``gnt-filter``, design "optables"): checking rules and deciding
what the scheduler does with a queued job.

A rule is ``{"uuid", "watermark", "priority", "predicates", "action", "reason_trail"}`` (as
in Ganeti's ``config.data["filters"]``). Rules are evaluated in order of priority, then
watermark, then UUID; the rule that *applies* to a job is the first one all of whose
predicates match and whose action is not CONTINUE. Its action: ACCEPT runs the job, PAUSE
keeps it queued, REJECT cancels it, ``["RATE_LIMIT", n]`` runs it only while fewer than ``n``
running jobs have this rule applying to them. No applying rule: the job runs.

Predicates (all must hold) use the query filter language (:mod:`gnt.core.qfilter`):
``["jobid", F]`` (field ``id``; the value ``"watermark"`` stands for the rule's watermark;
comparisons only), ``["opcode", F]`` (any field of an opcode, ``a.b`` for nested ones; true
if one opcode of the job matches), ``["reason", F]`` (fields ``source``, ``reason``,
``timestamp`` of a reason trail entry; true if one entry of one opcode matches; every
operator, so that the man page's ``["=~", "reason", ...]`` example works, where Ganeti's
code evaluates only comparisons). Predicates are data: compared, never evaluated as code or templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from gnt.core import qfilter
from gnt.core.errors import ECODE_INVAL, OpPrereqError

ACCEPT, PAUSE, REJECT, CONTINUE, RATE_LIMIT = "ACCEPT", "PAUSE", "REJECT", "CONTINUE", \
    "RATE_LIMIT"
ACTIONS = (ACCEPT, PAUSE, REJECT, CONTINUE)
# predicate name -> the fields its filter may read (None: any field of the opcode)
PREDICATE_FIELDS: dict[str, frozenset[str] | None] = {
    "jobid": frozenset({"id"}),
    "opcode": None,
    "reason": frozenset(("source", "reason", "timestamp")),
}
_COMPARISONS = frozenset(qfilter.COMPARE)
_REASON_FIELDS = ("source", "reason", "timestamp")
WATERMARK = "watermark"
# What the scheduler does with a job.
RUN, HOLD, CANCEL = "run", "hold", "cancel"


def _bad(message: str) -> OpPrereqError:
    return OpPrereqError(message, ECODE_INVAL)


def check_priority(priority: Any) -> int:
    """A rule's priority: a non-negative integer (0 is evaluated first)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise _bad(f"Invalid filter priority {priority!r}: must be a non-negative integer")
    return priority


def check_action(action: Any) -> str | list[Any]:
    """One of ACCEPT, PAUSE, REJECT, CONTINUE or ``["RATE_LIMIT", n]`` (n a positive
    integer); names are case-sensitive, as Ganeti's."""
    if isinstance(action, str) and action in ACTIONS:
        return action
    if isinstance(action, list) and action and action[0] == RATE_LIMIT:
        if len(action) == 2 and isinstance(action[1], int) \
                and not isinstance(action[1], bool) and action[1] > 0:
            return [RATE_LIMIT, action[1]]
        raise _bad(f"Invalid filter action {action!r}: the RATE_LIMIT argument must be a"
                   " positive integer")
    raise _bad(f"Invalid filter action {action!r}: must be one of {', '.join(ACTIONS)} or"
               " RATE_LIMIT n")


def check_predicates(predicates: Any) -> list[list[Any]]:
    """A list of ``[name, filter]`` predicates with valid filters reading known fields."""
    if not isinstance(predicates, list):
        raise _bad(f"Invalid filter predicates {predicates!r}: must be a list")
    for pred in predicates:
        if not isinstance(pred, list) or not pred or not isinstance(pred[0], str):
            raise _bad(f"Invalid filter predicate {pred!r}: must be a list whose first"
                       " entry names the predicate")
        name = pred[0]
        if name not in PREDICATE_FIELDS:
            raise _bad(f"Invalid filter predicate {pred!r}: unknown predicate '{name}'"
                       f" (known: {', '.join(PREDICATE_FIELDS)})")
        if len(pred) != 2:
            raise _bad(f"Invalid filter predicate {pred!r}: '{name}' takes one filter")
        try:
            fields = qfilter.filter_fields(pred[1])
        except qfilter.QueryFilterError as err:
            raise _bad(f"Invalid filter predicate {pred!r}: {err}") from err
        allowed = PREDICATE_FIELDS[name]
        if allowed is not None and fields - allowed:
            raise _bad(f"Invalid filter predicate {pred!r}: unknown field(s)"
                       f" {', '.join(sorted(fields - allowed))} (known: "
                       f"{', '.join(sorted(allowed))})")
    return predicates


def check_reason(reason: Any) -> list[list[Any]]:
    """A reason trail: ``[source, text, timestamp]`` entries."""
    if not isinstance(reason, list) or not all(
            isinstance(e, list) and len(e) == 3 and isinstance(e[0], str)
            and isinstance(e[1], str) and isinstance(e[2], int) and not isinstance(e[2], bool)
            for e in reason):
        raise _bad(f"Invalid reason trail {reason!r}: must be a list of"
                   " [source, reason, timestamp] entries")
    return [list(e) for e in reason]


def make_rule(uuid: str, watermark: int, priority: Any, predicates: Any, action: Any,
              reason_trail: Any) -> dict[str, Any]:
    """A checked rule (raises :class:`OpPrereqError` naming the bad value)."""
    return {"uuid": uuid, "watermark": int(watermark), "priority": check_priority(priority),
            "predicates": check_predicates(predicates), "action": check_action(action),
            "reason_trail": check_reason(reason_trail)}


def ordered(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules in evaluation order: priority, then watermark, then UUID."""
    return sorted(rules, key=lambda r: (r["priority"], r["watermark"], r["uuid"]))


def _job_value(watermark: int, value: Any) -> Any:
    """A value a ``jobid`` filter compares the id with: a number, or ``"watermark"``."""
    if value == WATERMARK:
        return watermark
    if isinstance(value, str):
        raise qfilter.Unavailable(value)   # only numbers compare with an id
    return value


def _field_of(row: dict[str, Any], name: str) -> Any:
    """Field ``name`` (``a.b``: nested) of ``row``; :class:`qfilter.Unavailable` if absent."""
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise qfilter.Unavailable(name)
        value = value[part]
    return value


def predicate_matches(job: Any, watermark: int, pred: list[Any]) -> bool:
    """Whether one predicate holds for ``job`` (``.id``, ``.ops[i].input``)."""
    name, expr = pred[0], pred[1]
    inputs = [op.input for op in job.ops]
    if name == "jobid":
        return qfilter.evaluate(expr, partial(_field_of, {"id": job.id}), _COMPARISONS,
                                partial(_job_value, watermark))
    if name == "opcode":
        return any(qfilter.evaluate(expr, partial(_field_of, op)) for op in inputs)
    entries = [dict(zip(_REASON_FIELDS, entry, strict=True))
               for op in inputs for entry in op.get("reason") or []
               if isinstance(entry, list | tuple) and len(entry) == 3]
    return any(qfilter.evaluate(expr, partial(_field_of, entry)) for entry in entries)


def rule_matches(job: Any, rule: dict[str, Any]) -> bool:
    """Whether all predicates of ``rule`` hold for ``job`` (no predicates: always)."""
    return all(predicate_matches(job, rule["watermark"], pred) for pred in rule["predicates"])


def applying_rule(rules: Iterable[dict[str, Any]], job: Any) -> dict[str, Any] | None:
    """The first rule (in evaluation order) that matches ``job`` and is not CONTINUE."""
    for rule in ordered(rules):
        if rule["action"] != CONTINUE and rule_matches(job, rule):
            return rule
    return None


def decide(rules: Sequence[dict[str, Any]], job: Any, running: Iterable[Any]
           ) -> tuple[str, dict[str, Any] | None]:
    """What to do with queued ``job``: (:data:`RUN`, :data:`HOLD` or :data:`CANCEL`, the
    applying rule). ``running`` are the jobs running now (for RATE_LIMIT)."""
    rule = applying_rule(rules, job)
    if rule is None or rule["action"] == ACCEPT:
        return RUN, rule
    if rule["action"] == PAUSE:
        return HOLD, rule
    if rule["action"] == REJECT:
        return CANCEL, rule
    limit = rule["action"][1]
    taken = 0
    for other in running:
        applying = applying_rule(rules, other)
        if applying is not None and applying["uuid"] == rule["uuid"]:
            taken += 1
    return (RUN if taken < limit else HOLD), rule
