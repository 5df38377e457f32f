"""Ganeti's generic query over RAPI: field definitions, [status, value] rows and the filter
language, against a fake master daemon."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.rapi import query
from gnt.rapi.resources import HttpError, Request

ROWS = [{"name": "web1", "admin_state": "up", "oper_ram": 128, "tags": ["a"]},
        {"name": "web2", "admin_state": "down", "oper_ram": None, "tags": []},
        {"name": "db1", "admin_state": "up", "oper_ram": 512, "tags": ["a", "b"]}]


class Daemon:
    def call(self, method: str, **args: Any) -> Any:
        assert args["what"] == "instance"
        if method == "query_fields":
            return [{"name": n, "title": n.title(), "kind": "text"} for n in ROWS[0]]
        assert method == "query" and args["names"] == []
        return {"data": [[row[f] for f in args["fields"]] for row in ROWS]}


def _put(body: dict[str, Any], resource: str = "instance") -> Any:
    return query.put_query(Daemon(), Request("PUT", [resource], {}, body, "query"))


@pytest.mark.parametrize("qfilter, names", [
    (None, ["web1", "web2", "db1"]),
    (["=", "admin_state", "up"], ["web1", "db1"]),
    (["!", ["=", "admin_state", "up"]], ["web2"]),
    (["|", ["=", "name", "web2"], [">", "oper_ram", 256]], ["web2", "db1"]),
    (["&", ["?", "oper_ram"], ["=~", "name", "^web"]], ["web1"]),
    (["=[]", "tags", "b"], ["db1"]),
    (["<=", "oper_ram", 128], ["web1"]),              # None never compares
])
def test_filters(qfilter: Any, names: list[str]) -> None:
    answer = _put({"fields": ["name"], "qfilter": qfilter})
    assert [row[0][1] for row in answer["data"]] == names


def test_rows_carry_status_and_unknown_fields() -> None:
    answer = _put({"fields": ["name", "oper_ram", "nosuch"], "filter": ["=", "name", "web2"]})
    assert answer["data"] == [[[0, "web2"], [2, None], [1, None]]]
    assert [f["kind"] for f in answer["fields"]] == ["text", "text", "unknown"]


@pytest.mark.parametrize("qfilter", [
    "name", [], ["~~", "name", 1], ["=", "name"], ["!", ["=", "a", 1], ["=", "b", 2]],
    ["=~", "name", "("], ["=", "nosuch", 1], ["?", 3],
])
def test_bad_filters_are_400(qfilter: Any) -> None:
    with pytest.raises(HttpError) as err:
        _put({"fields": ["name"], "qfilter": qfilter})
    assert err.value.code == 400


def test_get_needs_fields_and_unsupported_resources_are_501() -> None:
    answer = query.get_query(Daemon(), Request("GET", ["instance"], {"fields": ["name,tags"]}))
    assert answer["data"][2] == [[0, "db1"], [0, ["a", "b"]]]
    with pytest.raises(HttpError) as err:
        query.get_query(Daemon(), Request("GET", ["instance"], {}))
    assert err.value.code == 400 and "fields" in err.value.explain
    with pytest.raises(HttpError) as err:
        _put({"fields": ["name"]}, resource="cluster")
    assert err.value.code == 501
    fields = query.get_query_fields(Daemon(), Request("GET", ["instance"], {}))["fields"]
    assert [f["name"] for f in fields] == list(ROWS[0])


class JobDaemon:
    """A job query answer with an unavailable field (a job id that was not found)."""

    def call(self, method: str, **args: Any) -> Any:
        assert args["what"] == "job"
        if method == "query_fields":
            return [{"name": "id", "title": "ID", "kind": "number"},
                    {"name": "status", "title": "Status", "kind": "text", "unavail": True}]
        rows = [{"id": 1, "status": "success"}, {"id": 7, "status": None}]
        return {"data": [[row[f] for f in args["fields"]] for row in rows]}


def test_unavailable_values_are_status_3() -> None:
    answer = query.put_query(JobDaemon(), Request("PUT", ["job"], {},
                                                  {"fields": ["id", "status"]}, "query"))
    assert answer["data"] == [[[0, 1], [0, "success"]], [[0, 7], [3, None]]]
    assert "unavail" not in answer["fields"][1]
