"""The remote API's resources: what each (path, method) does, as Ganeti's RAPI v2.

A resource is a function ``(backend, request) -> JSON value``. The backend is the master
daemon's socket API (``call(method, **args)``), the same the gnt-* commands use; mutating
resources build an opcode, have it validated by the opcode table (the one place parameters are
checked) and answer the id of the job they submitted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gnt.client import jobwait
from gnt.core.errors import (
    ECODE_NOENT,
    GntError,
    JobQueueDrainError,
    JobQueueFull,
    MasterNotRunning,
    OpPrereqError,
    ProtocolError,
)
from gnt.core.jobstate import FINALIZED, REASON_SRC_USER
from gnt.opcodes.registry import validate

API_VERSION = 2
REASON_SRC_RLIB2 = "gnt:library:rlib2"
# Optional features this server has (GET /2/features); a feature is listed once it works.
FEATURES = ["instance-create-reqv1", "instance-reinstall-reqv1", "node-migrate-reqv1",
            "node-evac-res1"]

# Fields of the bulk answers, as Ganeti 3.0's (fields the query layer lacks read as null).
_COMMON_FIELDS = ["ctime", "mtime", "uuid", "serial_no", "tags"]
INSTANCE_FIELDS = ["name", "admin_state", "os", "pnode", "snodes", "disk_template",
                   "nic.ips", "nic.macs", "nic.modes", "nic.uuids", "nic.names", "nic.links",
                   "nic.networks", "nic.networks.names", "nic.bridges", "network_port",
                   "disk.sizes", "disk.spindles", "disk_usage", "disk.uuids", "disk.names",
                   "beparams", "hvparams", "oper_state", "oper_ram", "oper_vcpus", "status",
                   "custom_hvparams", "custom_beparams", "custom_nicparams",
                   "custom_osparams", *_COMMON_FIELDS]
NODE_FIELDS = ["name", "offline", "master_candidate", "drained", "dtotal", "dfree",
               "sptotal", "spfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt",
               "ctotal", "cnos", "cnodes", "csockets", "pip", "sip", "role", "pinst_list",
               "sinst_list", "master_capable", "vm_capable", "ndparams", "group.uuid",
               *_COMMON_FIELDS]
GROUP_FIELDS = ["alloc_policy", "name", "node_cnt", "node_list", "ipolicy", "custom_ipolicy",
                "diskparams", "custom_diskparams", "ndparams", "custom_ndparams",
                *_COMMON_FIELDS]
NET_FIELDS = ["name", "network", "gateway", "network6", "gateway6", "mac_prefix", "free_count",
              "reserved_count", "map", "group_list", "inst_list", "external_reservations",
              *_COMMON_FIELDS]
JOB_FIELDS_BULK = ["id", "ops", "status", "summary", "opstatus", "received_ts", "start_ts",
                   "end_ts"]
JOB_FIELDS = [*JOB_FIELDS_BULK, "oplog", "opresult"]
# Node roles as RAPI names them (Ganeti's query role letters).
NODE_ROLES = {"M": "master", "C": "master-candidate", "D": "drained", "O": "offline",
              "R": "regular"}


class Backend(Protocol):
    """The master daemon's API as the resources use it."""

    def call(self, method: str, **args: Any) -> Any: ...


class HttpError(Exception):
    """An HTTP error answer: ``code``, and ``explain`` for the JSON body."""

    def __init__(self, code: int, explain: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(explain)
        self.code = code
        self.explain = explain
        self.headers = headers or {}


@dataclass
class Request:
    """What a resource sees of an HTTP request."""

    method: str
    items: list[str]                      # the path's variable parts, in order
    query: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None
    name: str = ""                        # the resource's name (reason trail)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query argument (``?bulk=1``; Ganeti takes 0/1)."""
        values = self.query.get(name)
        if not values:
            return default
        value = values[-1].strip().lower()
        if value in ("1", "true"):
            return True
        if value in ("0", "false", ""):
            return False
        raise HttpError(400, f"Invalid value '{values[-1]}' for query argument '{name}'"
                             " (use 0 or 1)")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def body_dict(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        return self.body

    def reason_trail(self) -> list[list[Any]]:
        """As Ganeti's RAPI: the user's ``reason`` argument, then this resource."""
        trail: list[list[Any]] = []
        reason = self.arg("reason")
        if reason:
            trail.append([REASON_SRC_USER, reason, time.time_ns()])
        trail.append([f"{REASON_SRC_RLIB2}:{self.name}", "", time.time_ns()])
        return trail


Resource = Callable[[Backend, Request], Any]


# -- errors --------------------------------------------------------------------------------

def http_error_of(err: GntError) -> HttpError:
    """The HTTP answer for an error of the master daemon, as Ganeti's RAPI maps them."""
    if isinstance(err, JobQueueDrainError):
        return HttpError(503, "Job queue is drained, cannot submit")
    if isinstance(err, JobQueueFull):
        return HttpError(503, "Job queue is full, needs archiving")
    if isinstance(err, (MasterNotRunning, ProtocolError)):
        return HttpError(502, f"Cannot communicate with the master daemon: {err}")
    if isinstance(err, OpPrereqError):
        code = 404 if err.ecode == ECODE_NOENT else 400
        return HttpError(code, str(err))
    return HttpError(500, str(err))


# -- helpers -------------------------------------------------------------------------------

def submit(backend: Backend, req: Request, op: dict[str, Any]) -> int:
    """Validate ``op`` (with the request's dry-run and reason) and submit it; the job id."""
    op = {key: value for key, value in op.items() if value is not None}
    if req.flag("dry-run"):
        op["dry_run"] = True
    op["reason"] = req.reason_trail()
    return int(backend.call("submit_job", ops=[validate(op)]))


# The query fields of each kind, asked once: gnt-rapi runs as a child of the master daemon,
# so both change only together.
_FIELD_NAMES: dict[str, frozenset[str]] = {}


def known_fields(backend: Backend, what: str) -> frozenset[str]:
    """The field names the master daemon's query of ``what`` has."""
    if what not in _FIELD_NAMES:
        fields = backend.call("query_fields", what=what)
        _FIELD_NAMES[what] = frozenset(f["name"] for f in fields)
    return _FIELD_NAMES[what]


def _rows(backend: Backend, what: str, fields: list[str], names: list[str]
          ) -> list[dict[str, Any]]:
    """Query ``what``; every Ganeti field is in the answer (null where we have none)."""
    known = known_fields(backend, what)
    asked = [name for name in fields if name in known]
    result = backend.call("query", what=what, fields=asked, names=names)
    rows = []
    for data in result["data"]:
        row = dict.fromkeys(fields)
        row.update(zip(asked, data, strict=True))
        rows.append(row)
    return rows


def _listing(backend: Backend, req: Request, what: str, fields: list[str],
             base: str, key: str = "id") -> list[dict[str, Any]]:
    """``GET /2/<things>``: ``[{id, uri}]`` (groups: ``name`` for ``id``, as Ganeti), or
    with ``bulk=1`` every field of each."""
    if req.flag("bulk"):
        return _rows(backend, what, fields, [])
    rows = backend.call("query", what=what, fields=["name"], names=[])["data"]
    return [{key: row[0], "uri": f"{base}/{row[0]}"} for row in rows]


def _one(backend: Backend, what: str, fields: list[str], name: str) -> dict[str, Any]:
    rows = _rows(backend, what, fields, [name])
    if not rows:
        raise HttpError(404, f"{what.capitalize()} '{name}' not found")
    return rows[0]


def _node_row(row: dict[str, Any]) -> dict[str, Any]:
    row["role"] = NODE_ROLES.get(str(row.get("role")), row.get("role"))
    return row


# -- cluster -------------------------------------------------------------------------------

def get_root(_backend: Backend, _req: Request) -> Any:
    """``GET /`` and ``GET /2``: null, kept for old clients (as Ganeti)."""
    return None


def get_version(_backend: Backend, _req: Request) -> Any:
    return API_VERSION


def get_features(_backend: Backend, _req: Request) -> Any:
    return list(FEATURES)


def get_info(backend: Backend, _req: Request) -> Any:
    return backend.call("cluster_info")


def get_os(backend: Backend, req: Request) -> Any:
    """The OS names (``name+variant``) valid on every node, from an OS diagnose job."""
    job_id = submit(backend, req, {"OP_ID": "OP_OS_DIAGNOSE", "output_fields": [],
                                   "names": []})
    entries = _job_result(backend, job_id)
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries or []:
        first.setdefault((entry["name"], str(entry.get("node"))), entry)
    invalid = {name for (name, _node), entry in first.items() if not entry.get("valid")}
    names: set[str] = set()
    for (name, _node), entry in first.items():
        if name not in invalid:
            variants = entry.get("variants") or []
            names.update([f"{name}+{v}" for v in variants] if variants else [name])
    return sorted(names)


def _job_result(backend: Backend, job_id: int, timeout: float = 300) -> Any:
    """Wait for a job the server itself submitted; its first opcode's result (or its error,
    raised)."""
    deadline = time.monotonic() + timeout
    status, serial = None, 0
    while status not in FINALIZED:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HttpError(504, f"Job {job_id} did not finish within {timeout:.0f} s")
        change = backend.call("wait_for_job_change", job_id=job_id, prev_status=status,
                              prev_log_serial=serial, timeout=min(10.0, left))
        status = change.get("status")
        if change.get("log"):
            serial = max(int(entry[0]) for entry in change["log"])
    results = jobwait.job_results(backend, job_id)
    return results[0] if results else None


def _tags_resource(kind: str) -> tuple[Resource, Resource, Resource]:
    """GET (list), PUT (add ``?tag=``) and DELETE (remove) of a tags resource."""

    def name_of(req: Request) -> str | None:
        return req.items[0] if kind != "cluster" else None

    def get(backend: Backend, req: Request) -> Any:
        # A query, not a job (as Ganeti's RAPI): reading tags leaves no trace in the queue.
        if kind == "cluster":
            return sorted(backend.call("cluster_info")["tags"])
        what = {"instance": "instance", "node": "node", "nodegroup": "group",
                "network": "network"}[kind]
        return sorted(_one(backend, what, ["tags"], req.items[0])["tags"] or [])

    def change(op_id: str) -> Resource:
        def handler(backend: Backend, req: Request) -> Any:
            tags = req.query.get("tag") or []
            if not tags:
                raise HttpError(400, "No tags given: pass them as ?tag=TAG (repeatable)")
            return submit(backend, req, {"OP_ID": op_id, "kind": kind, "name": name_of(req),
                                         "tags": tags})
        return handler

    return get, change("OP_TAGS_SET"), change("OP_TAGS_DEL")


get_cluster_tags, put_cluster_tags, delete_cluster_tags = _tags_resource("cluster")
get_instance_tags, put_instance_tags, delete_instance_tags = _tags_resource("instance")
get_node_tags, put_node_tags, delete_node_tags = _tags_resource("node")
get_group_tags, put_group_tags, delete_group_tags = _tags_resource("nodegroup")
get_network_tags, put_network_tags, delete_network_tags = _tags_resource("network")


# -- instances -----------------------------------------------------------------------------

def get_instances(backend: Backend, req: Request) -> Any:
    return _listing(backend, req, "instance", INSTANCE_FIELDS, "/2/instances")


def get_instance(backend: Backend, req: Request) -> Any:
    return _one(backend, "instance", INSTANCE_FIELDS, req.items[0])


def get_instance_info(backend: Backend, req: Request) -> Any:
    return submit(backend, req, {"OP_ID": "OP_INSTANCE_QUERY_DATA",
                                 "instances": [req.items[0]], "static": req.flag("static")})


def get_instance_console(backend: Backend, req: Request) -> Any:
    """How to reach a running instance's serial console, as Ganeti's InstanceConsole
    (kind ``ssh``: run ``command`` as ``user`` on ``host``); 503 when it is not running."""
    row = _one(backend, "instance", ["console", "oper_state"], req.items[0])
    console = row.get("console")
    if not row.get("oper_state") or not isinstance(console, dict):
        raise HttpError(503, "Instance console unavailable")
    return {"instance": console["name"], "kind": "ssh", "host": console["node"],
            "user": "root", "command": ["virsh", "-c", console["uri"], "console",
                                        console["name"]]}


# -- nodes, groups and networks--------------------------------------------------------------------

def get_nodes(backend: Backend, req: Request) -> Any:
    rows = _listing(backend, req, "node", NODE_FIELDS, "/2/nodes")
    return [_node_row(row) for row in rows] if req.flag("bulk") else rows


def get_node(backend: Backend, req: Request) -> Any:
    return _node_row(_one(backend, "node", NODE_FIELDS, req.items[0]))


def get_node_role(backend: Backend, req: Request) -> Any:
    return _node_row(_one(backend, "node", ["role"], req.items[0]))["role"]


def get_groups(backend: Backend, req: Request) -> Any:
    return _listing(backend, req, "group", GROUP_FIELDS, "/2/groups", key="name")


def get_group(backend: Backend, req: Request) -> Any:
    return _one(backend, "group", GROUP_FIELDS, req.items[0])


def get_networks(backend: Backend, req: Request) -> Any:
    return _listing(backend, req, "network", NET_FIELDS, "/2/networks", key="name")


def get_network(backend: Backend, req: Request) -> Any:
    return _one(backend, "network", NET_FIELDS, req.items[0])


# -- jobs ------------------------------------------------------------------------------------

def _job_id(req: Request) -> int:
    try:
        return int(req.items[0])
    except ValueError:
        raise HttpError(400, f"Invalid job id '{req.items[0]}'") from None


def get_jobs(backend: Backend, req: Request) -> Any:
    if req.flag("bulk"):
        rows = backend.call("query_jobs", ids=None, fields=JOB_FIELDS_BULK)
        return [dict(zip(JOB_FIELDS_BULK, row, strict=True)) for row in rows if row]
    rows = backend.call("query_jobs", ids=None, fields=["id"])
    return [{"id": row[0], "uri": f"/2/jobs/{row[0]}"} for row in rows if row]


def get_job(backend: Backend, req: Request) -> Any:
    job_id = _job_id(req)
    [row] = backend.call("query_jobs", ids=[job_id], fields=JOB_FIELDS)
    if row is None:
        raise HttpError(404, f"Job {job_id} not found")
    return dict(zip(JOB_FIELDS, row, strict=True))


def delete_job(backend: Backend, req: Request) -> Any:
    job_id = _job_id(req)
    [row] = backend.call("query_jobs", ids=[job_id], fields=["id"])
    if row is None:
        raise HttpError(404, f"Job {job_id} not found")
    return backend.call("cancel_job", job_id=job_id)


def get_job_wait(backend: Backend, req: Request) -> Any:
    """Wait (at most 10 s, as Ganeti) until the job's status or log changed; the asked
    ``fields`` and the new log entries, or null when nothing changed."""
    job_id = _job_id(req)
    body = req.body_dict()
    fields = body.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise HttpError(400, "'fields' must be a list of job field names")
    unknown = [f for f in fields if f not in JOB_FIELDS]
    if unknown:
        raise HttpError(400, f"Unknown job field(s): {', '.join(unknown)}")
    previous = body.get("previous_job_info")
    serial = body.get("previous_log_serial") or 0
    if not isinstance(serial, int) or isinstance(serial, bool):
        raise HttpError(400, "'previous_log_serial' must be an integer")
    [row] = backend.call("query_jobs", ids=[job_id], fields=["status"])
    if row is None:
        raise HttpError(404, f"Job {job_id} not found")
    prev_status = None
    if isinstance(previous, list) and "status" in fields and len(previous) == len(fields):
        prev_status = previous[fields.index("status")]
    change = backend.call("wait_for_job_change", job_id=job_id, prev_status=prev_status,
                          prev_log_serial=serial, timeout=10)
    if not change.get("changed"):
        return None
    [info] = backend.call("query_jobs", ids=[job_id], fields=fields)
    if previous is not None and info == previous and not change.get("log"):
        return None
    return {"job_info": info, "log_entries": change.get("log") or []}
