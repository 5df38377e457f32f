"""move-instance driven through the RAPI resources of a real in-process master (recording
executor for the node side; the cluster shares its domain secret with itself, so it is both
source and destination): prepare-export, remote-import creation announcing the disks,
remote export, the source removed only after the destination's job succeeded; a failed
export leaves the source running."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gnt.cli import move_instance as mi
from gnt.cli._rapi_http import Rapi, RapiError
from gnt.core.errors import GntError
from gnt.core.jobstate import SUCCESS
from gnt.rapi import resources, routes
from gnt.rapi.resources import HttpError, Request
from gnt.rapi.server import http_error_of

SRC, DEST = "web-1.example2", "inst1.example.com"


def _parse(*argv: str):
    parser = mi.build_parser()
    args = parser.parse_args(list(argv))
    mi.check_options(parser, args)
    return args


@pytest.fixture(autouse=True)
def _own_field_cache(monkeypatch):
    """The RAPI resources cache the daemon's query field names per process: these tests fill
    it from a real master, so they use a cache of their own (other tests fake the daemon)."""
    monkeypatch.setattr(resources, "_FIELD_NAMES", {})


class InProcessRapi(Rapi):
    """The RAPI resources of the test cluster's master, called in-process (JSON both ways)."""

    def __init__(self, cluster: Any, name: str) -> None:
        super().__init__(name)
        self.cluster = cluster
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, **args: Any) -> Any:
        return getattr(self.cluster.api, method)(**args)

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        self.calls.append((method, path))
        route, items = routes.match(path)
        resource = route.methods[method].resource
        req = Request(method, items, {k: [str(v)] for k, v in (query or {}).items()},
                      None if body is None else json.loads(json.dumps(body)), route.name)
        try:
            try:
                return json.loads(json.dumps(resource(self, req)))
            except GntError as err:     # as the RAPI server answers the daemon's errors
                raise http_error_of(err) from err
        except HttpError as err:
            raise RapiError(f"{method} {path}: {err.explain}", err.code) from err


def test_one_move_through_the_rapi(cluster, capsys):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=SRC, disk_template="file",
                      disks=[{"size": 64}], no_install=True, start=True, tags=["web"])
    assert job.status == SUCCESS, job.ops[0].log
    cluster.executor.facts["instance_remote_receive"] = {"gnt_remote_receive": {
        "disks": [{"index": 0, "port": 41000}]}}
    cluster.executor.facts["instance_remote_send"] = {"gnt_export_result": {
        "msg": "", "disks": [{"index": 0, "ok": True, "method": "raw", "duration_s": 0.1,
                              "msg": ""}]}}
    src, dest = InProcessRapi(cluster, "src"), InProcessRapi(cluster, "dest")
    # one cluster plays both: the moved NIC needs another MAC than the source's
    args = _parse("--dest-instance-name", DEST, "--compress", "gzip", "--net", "0:mac=generate",
                  "src", "dest", SRC)
    assert mi.run_moves(args, src, dest) == 0
    assert f"{SRC}: success" in capsys.readouterr().out
    names = {inst["name"]: inst for inst in cluster.master.config.all("instances")}
    assert list(names) == [DEST]
    assert names[DEST]["tags"] == ["web"] and names[DEST]["admin_state"] == "up"
    assert ("PUT", f"/2/instances/{SRC}/prepare-export") in src.calls
    assert ("POST", "/2/instances") in dest.calls
    assert ("DELETE", f"/2/instances/{SRC}") in src.calls
    roles = cluster.executor.roles()
    assert roles.index("instance_stop") < roles.index("instance_remote_send")


def test_failed_export_keeps_the_source_running(cluster, capsys):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=SRC, disk_template="file",
                      disks=[{"size": 64}], no_install=True, start=True)
    assert job.status == SUCCESS
    cluster.executor.facts["instance_remote_receive"] = {"gnt_remote_receive": {
        "disks": [{"index": 0, "port": 41000}]}}
    cluster.executor.facts["instance_remote_send"] = {"gnt_export_result": {
        "msg": "", "disks": [{"index": 0, "ok": False, "method": "raw", "duration_s": 0.1,
                              "msg": "disk 0: refused"}]}}
    src, dest = InProcessRapi(cluster, "src"), InProcessRapi(cluster, "dest")
    args = _parse("--dest-instance-name", DEST, "--net", "0:mac=generate", "src", "dest", SRC)
    assert mi.run_moves(args, src, dest) == 1
    assert f"{SRC}: failed" in capsys.readouterr().out
    source = cluster.master.config.lookup("instances", SRC)
    assert source["admin_state"] == "up"
    assert cluster.executor.roles()[-1] == "instance_start"


def test_unknown_instance_fails_the_move(cluster, capsys):
    src, dest = InProcessRapi(cluster, "src"), InProcessRapi(cluster, "dest")
    assert mi.run_moves(_parse("src", "dest", "nosuch.example"), src, dest) == 1
    assert "Instance nosuch.example not found" in capsys.readouterr().out
