"""``/2/filters`` and ``/2/filters/UUID`` (Ganeti's job filter rules over RAPI) against a
fake master daemon: body checks, answers, and the calls made."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.core.errors import ECODE_NOENT, OpPrereqError
from gnt.rapi import filters, routes
from gnt.rapi.resources import HttpError, Request

UUID = "0b6b1a16-d1f5-4bd5-8ac1-7a4b1b0c0f5e"
RULE = [5, 0, [["jobid", [">", "id", "watermark"]]], "REJECT", [["luxid", "", 1]], UUID]


class Daemon:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, **args: Any) -> Any:
        self.calls.append((method, args))
        if method == "query":
            assert args["what"] == "filter" and args["fields"] == filters.FILTER_RULE_FIELDS
            if args["names"] and args["names"] != [UUID]:
                raise OpPrereqError(f"Unknown filter rule(s): {args['names'][0]}",
                                    ECODE_NOENT)
            return {"data": [RULE]}
        if method == "replace_filter":
            return args["uuid"] or UUID
        return None


def _req(method: str, items: list[str], body: Any = None, **query: str) -> Request:
    return Request(method, items, {k: [v] for k, v in query.items()}, body, "filters")


def test_routes_are_served() -> None:
    for path, methods in (("/2/filters", {"GET", "POST"}),
                          ("/2/filters/" + UUID, {"GET", "PUT", "DELETE"})):
        match = routes.match(path)
        assert match is not None
        assert {m for m, spec in match[0].methods.items() if spec.resource} == methods


def test_listing_and_bulk_and_one() -> None:
    daemon = Daemon()
    assert filters.get_filters(daemon, _req("GET", [])) == [
        {"uuid": UUID, "uri": f"/2/filters/{UUID}"}]
    bulk = filters.get_filters(daemon, _req("GET", [], bulk="1"))
    assert bulk == [dict(zip(filters.FILTER_RULE_FIELDS, RULE, strict=True))]
    one = filters.get_filter(daemon, _req("GET", [UUID]))
    assert one["action"] == "REJECT" and one["watermark"] == 5


def test_unknown_rule_is_404_through_the_error_mapping() -> None:
    with pytest.raises(OpPrereqError) as err:
        filters.get_filter(Daemon(), _req("GET", ["nosuch"]))
    assert err.value.ecode == ECODE_NOENT


def test_post_and_put_pass_the_body_with_ganetis_defaults() -> None:
    daemon = Daemon()
    assert filters.post_filters(daemon, _req("POST", [], {"action": "PAUSE"})) == UUID
    assert daemon.calls[-1] == ("replace_filter", {"uuid": None, "priority": 0,
                                                   "predicates": [], "action": "PAUSE",
                                                   "reason": []})
    body = {"priority": 2, "predicates": [["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]],
            "action": ["RATE_LIMIT", 3], "reason": [["gnt:user", "why", 1]]}
    assert filters.put_filter(daemon, _req("PUT", [UUID], body)) == UUID
    assert daemon.calls[-1] == ("replace_filter", {"uuid": UUID, **body})
    assert filters.delete_filter(daemon, _req("DELETE", [UUID])) is None
    assert daemon.calls[-1] == ("delete_filter", {"uuid": UUID})


@pytest.mark.parametrize("body, named", [
    ({"prio": 1}, "'prio'"),
    ({"priority": "1"}, "'priority'"),
    ({"priority": True}, "'priority'"),
    ({"predicates": "jobid"}, "'predicates'"),
    ({"reason": "x"}, "'reason'"),
    (["action"], "not a dictionary"),
])
def test_bad_bodies_are_400(body: Any, named: str) -> None:
    daemon = Daemon()
    with pytest.raises(HttpError) as err:
        filters.post_filters(daemon, _req("POST", [], body))
    assert err.value.code == 400 and named in err.value.explain
    assert daemon.calls == []
