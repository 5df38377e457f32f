"""Ganeti's ``ipolicy`` RAPI body field (PUT /2/modify, POST /2/groups, PUT
/2/groups/NAME/modify): bounds and standard values pass through to the opcodes, bad ones are
refused by the opcode's parameter check before anything is queued."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.core.errors import OpPrereqError
from gnt.rapi import routes
from gnt.rapi.resources import HttpError, Request


def _send(method: str, path: str, body: Any = None) -> list[dict[str, Any]]:
    route, items = routes.match(path)
    resource = route.methods[method].resource
    jobs: list[list[dict[str, Any]]] = []

    class Backend:
        def call(self, method: str, **args: Any) -> Any:
            assert method == "submit_job"
            jobs.append(args["ops"])
            return len(jobs)

    assert resource(Backend(), Request(method, items, {}, body, route.name)) == 1
    [ops] = jobs
    return ops


def test_cluster_and_group_ipolicy_checked_before_queueing() -> None:
    """Ganeti's ``ipolicy`` body field (ratios, templates, ``minmax`` bounds, cluster ``std``)
    on PUT /2/modify, POST /2/groups, PUT /2/groups/NAME/modify; bad bounds are refused
    before anything is queued."""
    spec = {"memory-size": 128, "cpu-count": 1, "disk-count": 1, "disk-size": 1024,
            "nic-count": 1, "spindle-use": 1}
    policy = {"minmax": [{"min": spec, "max": dict(spec, **{"cpu-count": 4})}],
              "std": {"cpu-count": 2}}
    [op] = _send("PUT", "/2/modify", {"ipolicy": policy})
    assert (op["OP_ID"], op["ipolicy"]) == ("OP_CLUSTER_SET_PARAMS", policy)
    [op] = _send("PUT", "/2/groups/g1/modify", {"ipolicy": {"minmax": "default"}})
    assert op["ipolicy"] == {"minmax": "default"}
    for method, path, bad in (
            ("PUT", "/2/modify", {"minmax": [{"min": spec}]}),
            ("PUT", "/2/modify", {"minmax": [{"min": dict(spec, **{"cpu-count": 8}),
                                              "max": spec}]}),
            ("POST", "/2/groups", {"std": {"cpu-count": 2}}),
            ("PUT", "/2/groups/g1/modify", {"minmax": [{"min": spec, "max": spec,
                                                        "avg": spec}]})):
        body = {"ipolicy": bad, **({"name": "g2"} if method == "POST" else {})}
        with pytest.raises((HttpError, OpPrereqError)):
            _send(method, path, body)
