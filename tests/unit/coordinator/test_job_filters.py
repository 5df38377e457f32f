"""Job filter rules (gnt.jobs.filters): checking rules, predicates, evaluation order and the
scheduler's decision, on plain job stand-ins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.jobs import filters as f


@dataclass
class Op:
    input: dict[str, Any]


@dataclass
class FakeJob:
    id: int
    ops: list[Op] = field(default_factory=list)


def job(job_id: int, *op_ids: str, reason: list[list[Any]] | None = None,
        **params: Any) -> FakeJob:
    return FakeJob(job_id, [Op({"OP_ID": op_id, "reason": reason or [], **params})
                            for op_id in op_ids or ("OP_TEST_DELAY",)])


def rule(uuid: str, action: Any, predicates: list[Any] | None = None, priority: int = 0,
         watermark: int = 10) -> dict[str, Any]:
    return f.make_rule(uuid, watermark, priority, predicates or [], action, [])


@pytest.mark.parametrize("action, named", [
    ("accept", "'accept'"), ("DROP", "'DROP'"), (["RATE_LIMIT", 0], "positive"),
    (["RATE_LIMIT", "3"], "positive"), (["RATE_LIMIT"], "positive"), (7, "7"),
    ("RATE_LIMIT 3", "'RATE_LIMIT 3'"), (["RATE_LIMIT", True], "positive"),
])
def test_bad_actions_are_named(action: Any, named: str) -> None:
    with pytest.raises(OpPrereqError) as err:
        f.check_action(action)
    assert named in str(err.value) and err.value.ecode == ECODE_INVAL


def test_good_actions() -> None:
    assert [f.check_action(a) for a in ("ACCEPT", "PAUSE", "REJECT", "CONTINUE")] == \
        ["ACCEPT", "PAUSE", "REJECT", "CONTINUE"]
    assert f.check_action(["RATE_LIMIT", 4]) == ["RATE_LIMIT", 4]


@pytest.mark.parametrize("priority", [-1, "0", 1.5, True, None])
def test_bad_priorities_are_named(priority: Any) -> None:
    with pytest.raises(OpPrereqError, match="Invalid filter priority"):
        f.check_priority(priority)


@pytest.mark.parametrize("predicates, named", [
    ("jobid", "must be a list"),
    ([["jobs", [">", "id", 1]]], "unknown predicate 'jobs'"),
    ([["jobid"]], "takes one filter"),
    ([["jobid", [">", "id", 1], 2]], "takes one filter"),
    ([["jobid", ["~", "id", 1]]], "Unknown filter operator '~'"),
    ([["jobid", [">", "name", 1]]], "unknown field(s) name"),
    ([["reason", ["=", "who", "x"]]], "unknown field(s) who"),
    ([["opcode", ["=~", "OP_ID", "("]]], "Invalid regular expression"),
    ([[3, ["=", "id", 1]]], "first entry names the predicate"),
])
def test_bad_predicates_are_named(predicates: Any, named: str) -> None:
    with pytest.raises(OpPrereqError) as err:
        f.check_predicates(predicates)
    assert named in str(err.value)


def test_bad_reason_trail() -> None:
    with pytest.raises(OpPrereqError, match="reason trail"):
        f.check_reason([["gnt:user", "x"]])
    assert f.check_reason([["gnt:user", "x", 5]]) == [["gnt:user", "x", 5]]


def test_jobid_predicate_with_watermark() -> None:
    pred = ["jobid", [">", "id", "watermark"]]
    assert not f.predicate_matches(job(10), 10, pred)
    assert f.predicate_matches(job(11), 10, pred)
    assert f.predicate_matches(job(3), 10, ["jobid", ["|", ["=", "id", 3], ["=", "id", 4]]])
    # text other than "watermark" never compares with an id; non-comparisons are false
    assert not f.predicate_matches(job(3), 10, ["jobid", ["!=", "id", "three"]])
    assert not f.predicate_matches(job(3), 10, ["jobid", ["?", "id"]])


def test_opcode_predicate_any_opcode_and_nested_fields() -> None:
    two = job(5, "OP_TEST_DELAY", "OP_INSTANCE_CREATE")
    assert f.predicate_matches(two, 0, ["opcode", ["=", "OP_ID", "OP_INSTANCE_CREATE"]])
    assert not f.predicate_matches(two, 0, ["opcode", ["=", "OP_ID", "OP_NODE_ADD"]])
    nested = job(6, "OP_X", beparams={"maxmem": 512})
    assert f.predicate_matches(nested, 0, ["opcode", [">=", "beparams.maxmem", 512]])
    assert not f.predicate_matches(nested, 0, ["opcode", ["=", "beparams.vcpus", 1]])
    assert f.predicate_matches(nested, 0, ["opcode", ["=~", "OP_ID", "^OP_"]])


def test_reason_predicate_matches_any_entry() -> None:
    trail = [["gnt:user", "maintenance pink bunny", 100], ["gnt:client:gnt-debug", "", 200]]
    marked = job(7, reason=trail)
    assert f.predicate_matches(marked, 0, ["reason", ["=~", "reason", "pink bunny"]])
    assert f.predicate_matches(marked, 0, ["reason", [">", "timestamp", 150]])
    assert not f.predicate_matches(job(8), 0, ["reason", ["=~", "reason", "pink"]])


def test_predicates_are_data_never_code() -> None:
    value = "{{ lookup('pipe', 'touch /tmp/gnt-filter-pwned') }}"
    marked = job(9, reason=[["gnt:user", value, 1]])
    assert f.predicate_matches(marked, 0, ["reason", ["=", "reason", value]])
    assert not f.predicate_matches(marked, 0, ["reason", ["=", "reason", "x"]])


def test_order_priority_then_watermark_then_uuid_and_continue_skipped() -> None:
    rules = [rule("b", "REJECT", priority=1), rule("a", "PAUSE", priority=1, watermark=20),
             rule("c", "CONTINUE", priority=0), rule("d", "ACCEPT", priority=2)]
    assert [r["uuid"] for r in f.ordered(rules)] == ["c", "b", "a", "d"]
    applying = f.applying_rule(rules, job(1))
    assert applying is not None and applying["uuid"] == "b"
    assert f.decide(rules, job(1), [])[0] == f.CANCEL


def test_decisions_for_each_action() -> None:
    only = [["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]
    other = job(1, "OP_NODE_ADD")
    for action, decision in (("ACCEPT", f.RUN), ("PAUSE", f.HOLD), ("REJECT", f.CANCEL),
                             ("CONTINUE", f.RUN)):
        rules = [rule("r", action, only)]
        assert f.decide(rules, job(1), [])[0] == decision
        assert f.decide(rules, other, []) == (f.RUN, None)
    # ACCEPT before a later PAUSE lets the job run
    rules = [rule("a", "ACCEPT", [["jobid", ["=", "id", 5]]]), rule("p", "PAUSE", priority=1)]
    assert f.decide(rules, job(5), [])[0] == f.RUN
    assert f.decide(rules, job(6), [])[0] == f.HOLD
    assert f.decide([], job(6), []) == (f.RUN, None)


def test_rate_limit_counts_running_jobs_of_the_same_rule() -> None:
    limited = [["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]
    rules = [rule("limit", ["RATE_LIMIT", 2], limited)]
    assert f.decide(rules, job(3), [job(1)])[0] == f.RUN
    assert f.decide(rules, job(3), [job(1), job(2)])[0] == f.HOLD
    # running jobs another rule (or none) applies to take no slot
    assert f.decide(rules, job(3), [job(1), job(2, "OP_NODE_ADD")])[0] == f.RUN
