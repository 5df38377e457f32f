"""Remote API resources that submit one job built from the request, as Ganeti's
``OpcodeResource``: the body's fields are the opcode's parameters (some renamed as Ganeti's
RAPI names them), the path's names fill the object parameters, a few query arguments map to
flags. The opcode table validates the result before anything is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnt.opcodes.registry import validate
from gnt.rapi.resources import Backend, HttpError, Request, submit

# Body fields a client may never set: the opcode id and our internal ones.
_FORBIDDEN = frozenset({"OP_ID", "_summary"})
REQ_DATA_VERSION = "__version__"


def _opcode_from(req: Request, op_id: str, items: tuple[str, ...],
                 rename: Mapping[str, str], flags: Mapping[str, str],
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The opcode dict of a request: body fields (renamed), the path's names, query flags."""
    params = dict(req.body_dict() if body is None else body)
    bad = sorted(_FORBIDDEN & set(params))
    if bad:
        raise HttpError(400, f"Parameter(s) {', '.join(bad)} may not be given")
    for old, new in rename.items():
        if old in params:
            if new in params:
                raise HttpError(400, f"Parameter '{old}' is an alias of '{new}': give one")
            params[new] = params.pop(old)
    clash = sorted(set(items) & set(params))
    if clash:
        raise HttpError(400, f"Parameter(s) {', '.join(clash)} must not be specified in the"
                             " body: they come from the URL")
    params.update(zip(items, req.items, strict=False))
    for arg, param in flags.items():
        if arg in req.query:
            params[param] = req.flag(arg)
    return {**params, "OP_ID": op_id}


class BodyOp:
    """A resource submitting ``op_id`` made from the request; answers the job id. With
    ``version``, the body must carry ``__version__`` with that value (Ganeti's versioned
    request bodies). Its attributes also describe the body for the OpenAPI description."""

    def __init__(self, op_id: str, items: tuple[str, ...] = (),
                 rename: Mapping[str, str] | None = None,
                 flags: Mapping[str, str] | None = None, version: int | None = None) -> None:
        self.op_id, self.items, self.version = op_id, items, version
        self.rename, self.flags = dict(rename or {}), dict(flags or {})
        self.__name__ = f"submit_{op_id.lower()}"

    def __call__(self, backend: Backend, req: Request) -> Any:
        body = None
        if self.version is not None:
            body = dict(req.body_dict())
            given = body.pop(REQ_DATA_VERSION, None)
            if given != self.version:
                raise HttpError(400, f"Unsupported request data version {given!r}: send"
                                     f" '{REQ_DATA_VERSION}': {self.version} with the"
                                     " parameters in the body")
        return submit(backend, req, _opcode_from(req, self.op_id, self.items, self.rename,
                                                 self.flags, body))


body_op = BodyOp
# POST /2/instances: body version 1 with OpInstanceCreate's parameters, ``name`` and ``os``
# as Ganeti's RAPI names them.
create_instance = BodyOp("OP_INSTANCE_CREATE", rename={"name": "instance_name",
                                                       "os": "os_type"}, version=1)


def reinstall_instance(backend: Backend, req: Request) -> Any:
    """``POST /2/instances/N/reinstall``: shut down, reinstall, start again (unless
    ``start`` is false), one job; the body (``os``, ``osparams``, ``start``) or, as Ganeti's
    legacy form, query arguments ``os`` and ``nostartup``."""
    name = req.items[0]
    if req.body is not None:
        if any(key not in ("dry-run", "reason") for key in req.query):
            raise HttpError(400, "Can't combine query and body parameters")
        body = req.body_dict()
        unknown = sorted(set(body) - {"os", "osparams", "start"})
        if unknown:
            raise HttpError(400, f"Unknown reinstall parameter(s): {', '.join(unknown)}")
        os_name, osparams, start = body.get("os"), body.get("osparams"), body.get("start", True)
    else:
        os_name, osparams = req.arg("os"), None
        start = not req.flag("nostartup")
    if not isinstance(start, bool):
        raise HttpError(400, f"'start' must be true or false, not {start!r}")
    ops: list[dict[str, Any]] = [
        {"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": name},
        {"OP_ID": "OP_INSTANCE_REINSTALL", "instance_name": name, "os_type": os_name,
         "osparams": osparams}]
    if start:
        ops.append({"OP_ID": "OP_INSTANCE_STARTUP", "instance_name": name, "force": False})
    return submit_many(backend, req, ops)


def submit_many(backend: Backend, req: Request, ops: list[dict[str, Any]]) -> int:
    """One job of several opcodes, each validated (with dry run and reason) first."""
    checked = []
    for op in ops:
        op = {key: value for key, value in op.items() if value is not None}
        if req.flag("dry-run"):
            op["dry_run"] = True
        op["reason"] = req.reason_trail()
        checked.append(validate(op))
    return int(backend.call("submit_job", ops=checked))


# Ganeti's node role names and the flags each sets (None: left as is).
ROLE_FLAGS = {
    "regular": {"master_candidate": False, "offline": False, "drained": False},
    "master-candidate": {"master_candidate": True},
    "drained": {"drained": True},
    "offline": {"offline": True},
}


def set_node_role(backend: Backend, req: Request) -> Any:
    """``PUT /2/nodes/N/role``: the body is the role's name (a JSON string)."""
    role = req.body
    if role not in ROLE_FLAGS:
        raise HttpError(400, f"Can't set '{role}' role (valid: {', '.join(ROLE_FLAGS)})")
    return submit(backend, req, {"OP_ID": "OP_NODE_SET_PARAMS", "node_name": req.items[0],
                                 **ROLE_FLAGS[str(role)], "force": req.flag("force"),
                                 "auto_promote": req.flag("auto-promote")})


def migrate_node(backend: Backend, req: Request) -> Any:
    """``POST /2/nodes/N/migrate``: body parameters (node-migrate-reqv1) or the query
    arguments ``mode``/``live`` of the old form."""
    if req.body is not None:
        op = _opcode_from(req, "OP_NODE_MIGRATE", ("node_name",), {}, {})
    else:
        op = {"OP_ID": "OP_NODE_MIGRATE", "node_name": req.items[0], "mode": req.arg("mode")}
        if "live" in req.query:
            op["live"] = req.flag("live")
    return submit(backend, req, op)


def reboot_instance(backend: Backend, req: Request) -> Any:
    """``POST /2/instances/N/reboot``: ``type`` (default hard, as Ganeti's RAPI) and
    ``ignore_secondaries`` from the query, other parameters from the body."""
    op = _opcode_from(req, "OP_INSTANCE_REBOOT", ("instance_name",), {},
                      {"ignore_secondaries": "ignore_secondaries"})
    op["reboot_type"] = req.arg("type") or "hard"
    return submit(backend, req, op)


def multi_alloc(backend: Backend, req: Request) -> Any:
    """``POST /2/instances-multi-alloc``: ``instances`` (creation bodies with Ganeti's RAPI
    names) placed in one allocator run; one job whose result lists ``allocatable`` and
    ``failed`` instances and the creation jobs."""
    body = dict(req.body_dict())
    instances = body.pop("instances", None)
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise HttpError(400, "Request is missing required 'instances' field in body (a list"
                             " of instance creation objects)")
    renamed = []
    for index, inst in enumerate(instances):
        inst = dict(inst)
        inst.pop(REQ_DATA_VERSION, None)
        for old, new in (("name", "instance_name"), ("os", "os_type")):
            if old in inst:
                if new in inst:
                    raise HttpError(400, f"instances[{index}]: '{old}' is an alias of '{new}'")
                inst[new] = inst.pop(old)
        bad = sorted(_FORBIDDEN & set(inst))
        if bad:
            raise HttpError(400, f"instances[{index}]: {', '.join(bad)} may not be given")
        validate({**inst, "OP_ID": "OP_INSTANCE_CREATE"})   # each checked before queueing
        renamed.append(inst)
    op = _opcode_from(req, "OP_INSTANCE_MULTI_ALLOC", (), {}, {}, body)
    op["instances"] = renamed
    return submit(backend, req, op)


def prepare_export(backend: Backend, req: Request) -> Any:
    """``PUT /2/instances/N/prepare-export?mode=local|remote``: Ganeti's OpBackupPrepare."""
    mode = req.arg("mode")
    if not mode:
        raise HttpError(400, "Missing 'mode' parameter (local or remote)")
    return submit(backend, req, {"OP_ID": "OP_BACKUP_PREPARE", "instance_name": req.items[0],
                                 "mode": mode})


def grow_disk(backend: Backend, req: Request) -> Any:
    """``POST /2/instances/N/disk/D/grow``: body ``amount`` (MiB), ``wait_for_sync``,
    ``absolute`` (Ganeti's OpInstanceGrowDisk); the disk index from the URL."""
    op = _opcode_from(req, "OP_INSTANCE_GROW_DISK", ("instance_name",), {}, {})
    if "disk" in op:
        raise HttpError(400, "Parameter(s) disk must not be specified in the body: they come"
                             " from the URL")
    op["disk"] = int(req.items[1])
    return submit(backend, req, op)


def replace_disks(backend: Backend, req: Request) -> Any:
    """``POST /2/instances/N/replace-disks``: ``mode``, ``disks`` (a list, or Ganeti's
    comma-separated string), ``remote_node``, ``iallocator``, ``early_release`` from the body
    or (older clients) the query."""
    op = _opcode_from(req, "OP_INSTANCE_REPLACE_DISKS", ("instance_name",), {}, {})
    for name in ("mode", "remote_node", "iallocator", "disks"):
        if name not in op and req.arg(name):
            op[name] = req.arg(name)
    if isinstance(op.get("disks"), str):
        try:
            op["disks"] = [int(index) for index in op["disks"].split(",") if index]
        except ValueError as err:
            raise HttpError(400, f"Invalid disk index passed: {op['disks']}") from err
    return submit(backend, req, op)


def node_storage(backend: Backend, req: Request) -> Any:
    """``GET /2/nodes/N/storage?storage_type=T&output_fields=F,...``: a job listing the node's
    storage units (Ganeti's: both arguments required; the answer is the job id)."""
    storage_type = req.arg("storage_type")
    if not storage_type:
        raise HttpError(400, "Missing the required 'storage_type' parameter")
    fields = req.arg("output_fields")
    if not fields:
        raise HttpError(400, "Missing the required 'output_fields' parameter")
    return submit(backend, req, {"OP_ID": "OP_NODE_QUERY_STORAGE", "nodes": [req.items[0]],
                                 "storage_type": storage_type,
                                 "output_fields": [f for f in fields.split(",") if f]})


def _storage_unit(req: Request) -> dict[str, Any]:
    """The node, storage type and unit name of a storage modify/repair request."""
    unit = {"node_name": req.items[0]}
    for arg, param in (("storage_type", "storage_type"), ("name", "name")):
        value = req.arg(arg)
        if not value:
            raise HttpError(400, f"Missing the required '{arg}' parameter")
        unit[param] = value
    return unit


def modify_node_storage(backend: Backend, req: Request) -> Any:
    """``PUT /2/nodes/N/storage/modify?storage_type=T&name=U[&allocatable=0|1]``."""
    changes = {"allocatable": req.flag("allocatable", True)} if "allocatable" in req.query \
        else {}
    return submit(backend, req, {"OP_ID": "OP_NODE_MODIFY_STORAGE", **_storage_unit(req),
                                 "changes": changes})


def repair_node_storage(backend: Backend, req: Request) -> Any:
    """``PUT /2/nodes/N/storage/repair?storage_type=T&name=U``."""
    return submit(backend, req, {"OP_ID": "OP_REPAIR_NODE_STORAGE", **_storage_unit(req)})
