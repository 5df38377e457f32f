"""The RAPI server over real HTTP (aiohttp on loopback) with a fake master daemon: the URL
table, access rules, error bodies, body parsing and the opcodes resources submit."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gnt.core.errors import ECODE_NOENT, JobQueueDrainError, OpPrereqError
from gnt.rapi import routes
from gnt.rapi.auth import UsersFile
from gnt.rapi.server import make_app

# Every path of Ganeti 3.0's RAPI (lib/rapi/connector.py), with sample names.
GANETI_PATHS = [
    "/", "/2", "/version", "/2/info", "/2/features", "/2/os", "/2/modify",
    "/2/redistribute-config", "/2/tags", "/2/jobs", "/2/jobs/12", "/2/jobs/12/wait",
    "/2/nodes", "/2/nodes/n1.example", "/2/nodes/n1/powercycle", "/2/nodes/n1/tags",
    "/2/nodes/n1/role", "/2/nodes/n1/evacuate", "/2/nodes/n1/migrate", "/2/nodes/n1/modify",
    "/2/nodes/n1/storage", "/2/nodes/n1/storage/modify", "/2/nodes/n1/storage/repair",
    "/2/instances", "/2/instances-multi-alloc", "/2/instances/i1", "/2/instances/i1/info",
    "/2/instances/i1/tags", "/2/instances/i1/reboot", "/2/instances/i1/reinstall",
    "/2/instances/i1/replace-disks", "/2/instances/i1/shutdown", "/2/instances/i1/startup",
    "/2/instances/i1/activate-disks", "/2/instances/i1/deactivate-disks",
    "/2/instances/i1/recreate-disks", "/2/instances/i1/prepare-export",
    "/2/instances/i1/export", "/2/instances/i1/migrate", "/2/instances/i1/failover",
    "/2/instances/i1/rename", "/2/instances/i1/modify", "/2/instances/i1/disk/0/grow",
    "/2/instances/i1/console", "/2/networks", "/2/networks/net1",
    "/2/networks/net1/connect", "/2/networks/net1/disconnect", "/2/networks/net1/rename",
    "/2/networks/net1/modify", "/2/networks/net1/tags", "/2/groups", "/2/groups/g1",
    "/2/groups/g1/modify", "/2/groups/g1/rename", "/2/groups/g1/assign-nodes",
    "/2/groups/g1/tags", "/2/query/instance", "/2/query/instance/fields", "/2/filters",
    "/2/filters/abc-123",
]


def test_every_ganeti_path_has_a_route_and_others_none() -> None:
    for path in GANETI_PATHS:
        assert routes.match(path) is not None, path
    for path in ("/3", "/2/instance", "/2/jobs/abc", "/2/instances/i1/disk/x/grow",
                 "/2/instances/a/b", "/2/nodes/n 1"):
        assert routes.match(path) is None, path
    route, items = routes.match("/2/instances/web.example/disk/3/grow")
    assert route.name == "instances_name_disk_grow" and items == ["web.example", "3"]


class FakeDaemon:
    """The master daemon's socket API as far as the resources use it."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def call(self, method: str, **args: Any) -> Any:
        if self.error is not None:
            raise self.error
        if method == "submit_job":
            self.submitted.extend(args["ops"])
            return 41 + len(self.submitted)
        if method == "query_fields":
            return [{"name": n} for n in ("name", "admin_state", "tags", "role", "status")]
        if method == "query":
            if args["names"] and args["names"] != ["inst1"] and args["names"] != ["node1"]:
                raise OpPrereqError(f"Unknown {args['what']}(s): {args['names'][0]}",
                                    ECODE_NOENT)
            rows = {"name": "inst1" if args["what"] == "instance" else "node1",
                    "admin_state": "up", "tags": ["b", "a"], "role": "M", "status": "running"}
            return {"data": [[rows[f] for f in args["fields"]]]}
        if method == "cluster_info":
            return {"name": "cluster.example", "tags": ["z", "y"]}
        if method == "query_jobs":
            return [[1, "success"][:len(args["fields"])]]
        raise AssertionError(f"unexpected call {method}")


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _run(daemon: FakeDaemon, users_text: str, require_auth: bool,
         scenario: Callable[[ClientSession, str], Any], tmp_path: Path) -> Any:
    users = tmp_path / "users"
    users.write_text(users_text)

    async def main() -> Any:
        app = make_app(UsersFile(users), require_auth, backend_factory=lambda: daemon)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as session:
                return await scenario(session, str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()

    return asyncio.run(main())


async def _fetch(session: ClientSession, method: str, url: str, **kw: Any
                 ) -> tuple[int, Any, dict[str, str]]:
    async with session.request(method, url, **kw) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None), dict(resp.headers)


USERS = "admin adminpw write\nreader readpw read\n"


@pytest.fixture
def daemon() -> FakeDaemon:
    return FakeDaemon()


def test_reads_are_open_and_answer_ganeti_shapes(daemon: FakeDaemon, tmp_path: Path) -> None:
    async def scenario(s: ClientSession, base: str) -> Any:
        return [await _fetch(s, "GET", base + path) for path in (
            "/", "/version", "/2/info", "/2/instances", "/2/instances?bulk=1",
            "/2/instances/inst1", "/2/tags", "/2/nodes/node1/role", "/2/instances/inst1/tags")]

    answers = _run(daemon, USERS, False, scenario, tmp_path)
    assert [a[0] for a in answers] == [200] * 9
    bodies = [a[1] for a in answers]
    assert bodies[0] is None and bodies[1] == 2 and bodies[2]["name"] == "cluster.example"
    assert bodies[3] == [{"id": "inst1", "uri": "/2/instances/inst1"}]
    assert bodies[4][0]["name"] == "inst1" and bodies[4][0]["disk.spindles"] is None
    assert bodies[5]["admin_state"] == "up" and "custom_osparams" in bodies[5]
    assert bodies[6] == ["y", "z"] and bodies[7] == "master" and bodies[8] == ["a", "b"]
    assert daemon.submitted == []                       # reads queue no job


def test_write_access_rules(daemon: FakeDaemon, tmp_path: Path) -> None:
    url = "/2/instances/inst1/startup"

    async def scenario(s: ClientSession, base: str) -> Any:
        return [await _fetch(s, "PUT", base + url, headers=headers) for headers in (
            {}, _basic("admin", "wrong"), _basic("nobody", "x"), _basic("reader", "readpw"),
            _basic("admin", "adminpw"))]

    answers = _run(daemon, USERS, False, scenario, tmp_path)
    assert [a[0] for a in answers] == [401, 401, 401, 403, 200]
    status, body, headers = answers[0]
    assert headers["WWW-Authenticate"] == 'Basic realm="Ganeti Remote API"'
    assert body["code"] == 401 and body["message"] == "Unauthorized" and body["explain"]
    assert answers[3][1]["code"] == 403 and "reader" in answers[3][1]["explain"]
    assert answers[4][1] == 42
    [op] = daemon.submitted                             # only the authorised call queued
    assert op["OP_ID"] == "OP_INSTANCE_STARTUP" and op["instance_name"] == "inst1"
    assert op["reason"][-1][0] == "gnt:library:rlib2:instances_name_startup"


def test_required_authentication_closes_reads(daemon: FakeDaemon, tmp_path: Path) -> None:
    async def scenario(s: ClientSession, base: str) -> Any:
        return [(await _fetch(s, "GET", base + "/2/info", headers=h))[0]
                for h in ({}, _basic("reader", "readpw"))]

    assert _run(daemon, USERS, True, scenario, tmp_path) == [401, 200]


def test_bad_requests_queue_nothing(daemon: FakeDaemon, tmp_path: Path) -> None:
    auth = _basic("admin", "adminpw")
    base_url = "/2/instances/inst1/shutdown"

    async def scenario(s: ClientSession, base: str) -> Any:
        return [
            await _fetch(s, "PUT", base + base_url, headers={**auth, "Content-Type":
                                                             "application/json"},
                         data="{not json"),
            await _fetch(s, "PUT", base + base_url, headers={**auth, "Content-Type":
                                                             "text/plain"}, data="{}"),
            await _fetch(s, "PUT", base + base_url, headers=auth, json={"timeout": "soon"}),
            await _fetch(s, "PUT", base + base_url, headers=auth, json=["a"]),
            await _fetch(s, "PUT", base + base_url + "?dry-run=maybe", headers=auth),
            await _fetch(s, "PUT", base + base_url, headers=auth, data=b"x" * (2 << 20)),
            await _fetch(s, "GET", base + "/2/nosuch"),
            await _fetch(s, "PATCH", base + "/2/info", headers=auth),
            await _fetch(s, "PUT", base + "/2/networks/net1/rename", headers=auth,
                         json={"new_name": "net2"}),
            await _fetch(s, "GET", base + "/2/instances/ghost"),
        ]

    answers = _run(daemon, USERS, False, scenario, tmp_path)
    assert [a[0] for a in answers] == [400, 415, 400, 400, 400, 413, 404, 501, 501, 404]
    assert "timeout" in answers[2][1]["explain"]
    assert "not implemented" in answers[8][1]["explain"]
    assert "ghost" in answers[9][1]["explain"]
    assert daemon.submitted == []


def test_template_markers_arrive_as_data(daemon: FakeDaemon, tmp_path: Path) -> None:
    marker = "{{ lookup('pipe', 'touch /tmp/pwned') }}"

    async def scenario(s: ClientSession, base: str) -> Any:
        return await _fetch(s, "PUT", base + "/2/instances/inst1/tags?tag=" + marker,
                            headers=_basic("admin", "adminpw"))

    status, body, _headers = _run(daemon, USERS, False, scenario, tmp_path)
    # refused by the tag rules, or queued as the literal text; never evaluated
    if status == 200:
        assert daemon.submitted[0]["tags"] == [marker]
    else:
        assert status == 400 and daemon.submitted == []


def test_queue_drained_is_503(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.error = JobQueueDrainError("drained")

    async def scenario(s: ClientSession, base: str) -> Any:
        return await _fetch(s, "POST", base + "/2/instances/inst1/reboot",
                            headers=_basic("admin", "adminpw"))

    status, body, _headers = _run(daemon, USERS, False, scenario, tmp_path)
    assert status == 503 and body["explain"] == "Job queue is drained, cannot submit"
