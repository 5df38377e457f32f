"""An OpenAPI 3.1 description of the remote API, generated from the route table and, for
bodies that become opcodes, from the opcode table: what is served is what is described.

``python -m gnt.rapi.openapi`` prints it (``docs/rapi-openapi.json`` is that output; a test
checks it is current).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gnt.opcodes import base as op
from gnt.opcodes.registry import OPCODES
from gnt.rapi import routes
from gnt.rapi.opresources import BodyOp

# The path segment before a variable part -> the parameter's name.
_PARAM_NAMES = {"instances": "instance_name", "nodes": "node_name", "groups": "group_name",
                "networks": "network_name", "jobs": "job_id", "disk": "disk_index",
                "query": "resource", "filters": "filter_uuid"}
_NULLABLE = {op.t_maybe_str: "string", op.t_maybe_bool: "boolean", op.t_maybe_int: "integer"}
_PLAIN: dict[Any, dict[str, Any]] = {
    op.t_bool: {"type": "boolean"}, op.t_int: {"type": "integer"},
    op.t_nonneg: {"type": "number", "minimum": 0}, op.t_dict: {"type": "object"},
    op.t_list: {"type": "array"}, op.t_name: {"type": "string", "minLength": 1},
    op.t_hostname: {"type": "string", "minLength": 1},
    op.t_list_of_str: {"type": "array", "items": {"type": "string"}},
    op.t_list_of_dicts: {"type": "array", "items": {"type": "object"}},
    op.t_maybe_list_of_dicts: {"type": ["array", "null"], "items": {"type": "object"}},
}
_ERROR = {"$ref": "#/components/schemas/Error"}
_QUERY_FLAGS = {"bulk": ("GET", "Every field of each item (1) or ids and URIs (0)"),
                "dry-run": ("*", "Check only: the job changes nothing (1)")}


def value_schema(check: Any) -> dict[str, Any]:
    """The JSON schema of an opcode parameter's type check ({} when it has none)."""
    if check in _PLAIN:
        return dict(_PLAIN[check])
    if check in _NULLABLE:
        return {"type": [_NULLABLE[check], "null"]}
    choices = getattr(check, "choices", None)
    if choices is not None:
        return {"enum": list(choices)}
    if "dict" in getattr(check, "__name__", ""):
        return {"type": "object"}
    return {}


def body_schema(resource: BodyOp) -> dict[str, Any]:
    """The request body of an opcode resource: the opcode's parameters under their RAPI
    names, less those the URL gives."""
    opdef = OPCODES[resource.op_id]
    back = {new: old for old, new in resource.rename.items()}
    properties: dict[str, Any] = {}
    required = []
    for param in opdef.params:
        if param.name in resource.items or param.name == "reason":
            continue
        name = back.get(param.name, param.name)
        properties[name] = value_schema(param.check)
        if param.required:
            required.append(name)
    if resource.version is not None:
        properties["__version__"] = {"enum": [resource.version]}
        required.append("__version__")
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _path(route: routes.Route) -> tuple[str, list[dict[str, Any]]]:
    segments = route.template.split("/")
    names, parts, params = [], iter(route.parts), []
    for index, segment in enumerate(segments):
        if segment == "{}":
            name = _PARAM_NAMES.get(segments[index - 1], f"p{index}")
            names.append("{" + name + "}")
            params.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": "string", "pattern": f"^{next(parts)}$"}})
        else:
            names.append(segment)
    return "/".join(names) or "/", params


def _operation(route: routes.Route, method: str, spec: routes.Method) -> dict[str, Any]:
    resource = spec.resource
    access = spec.needs(method)
    params = [{"name": "reason", "in": "query", "required": False,
               "schema": {"type": "string"}}]
    for flag, (where, doc) in _QUERY_FLAGS.items():
        if where in ("*", method) and (flag != "bulk" or route.template in (
                "/2/instances", "/2/nodes", "/2/groups", "/2/jobs", "/2/filters")):
            params.append({"name": flag, "in": "query", "required": False, "description": doc,
                           "schema": {"type": "integer", "enum": [0, 1]}})
    error_body = {"application/json": {"schema": _ERROR}}
    responses: dict[str, Any] = {
        "400": {"description": "Bad request", "content": error_body},
        "404": {"description": "No such object", "content": error_body}}
    if resource is None:
        responses = {"501": {"description": "Not implemented in gnt.cluster yet",
                             "content": {"application/json": {"schema": _ERROR}}}}
    else:
        responses["200"] = {"description": "The answer (a job id for changes)",
                            "content": {"application/json": {"schema": {}}}}
        if method != "GET":
            responses["503"] = {"description": "The job queue is drained or full",
                                "content": {"application/json": {"schema": _ERROR}}}
    if access:
        responses["401"] = {"description": "Authentication required"}
        responses["403"] = {"description": f"Needs the {' or '.join(access)} option"}
    operation: dict[str, Any] = {"operationId": f"{method.lower()}_{route.name}",
                                 "parameters": params, "responses": responses}
    if access:
        operation["security"] = [{"basic": []}]
    if isinstance(resource, BodyOp):
        for arg in resource.flags:
            params.append({"name": arg, "in": "query", "required": False,
                           "schema": {"type": "integer", "enum": [0, 1]}})
        operation["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": body_schema(resource)}}}
    return operation


def build_spec() -> dict[str, Any]:
    """The OpenAPI document of every route and method."""
    paths: dict[str, Any] = {}
    for route in routes.ROUTES:
        path, path_params = _path(route)
        item: dict[str, Any] = {}
        if path_params:
            item["parameters"] = path_params
        for method, spec in route.methods.items():
            item[method.lower()] = _operation(route, method, spec)
        paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "gnt.cluster remote API (Ganeti RAPI v2)", "version": "2"},
        "servers": [{"url": "https://localhost:5080"}],
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message", "explain"],
                                  "properties": {"code": {"type": "integer"},
                                                 "message": {"type": "string"},
                                                 "explain": {"type": "string"}}}}},
        "paths": paths,
    }


def main() -> int:
    """Print the description as JSON."""
    json.dump(build_spec(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
