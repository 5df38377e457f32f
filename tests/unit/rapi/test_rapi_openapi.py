"""The OpenAPI description: generated from the route and opcode tables, current in docs/,
and a valid OpenAPI 3.1 document (schemathesis loads it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnt.rapi import openapi, routes

DOC = Path(__file__).resolve().parents[3] / "docs" / "rapi-openapi.json"


def test_docs_copy_is_current() -> None:
    assert json.loads(DOC.read_text()) == json.loads(json.dumps(openapi.build_spec())), \
        "run: .venv/bin/python -m gnt.rapi.openapi > docs/rapi-openapi.json"


def test_every_route_and_method_is_described() -> None:
    spec = openapi.build_spec()
    described = {(path, method) for path, item in spec["paths"].items()
                 for method in item if method != "parameters"}
    assert len(described) == sum(len(r.methods) for r in routes.ROUTES)
    assert ("/2/instances/{instance_name}/disk/{disk_index}/grow", "post") in described
    served = spec["paths"]["/2/instances/{instance_name}/rename"]["put"]
    assert "200" in served["responses"] and served["security"] == [{"basic": []}]
    body = served["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["new_name"] and "instance_name" not in body["properties"]
    todo = spec["paths"]["/2/networks/{network_name}/rename"]["put"]["responses"]
    assert "501" in todo and not any(code.startswith("2") for code in todo)


def test_create_body_uses_ganeti_names() -> None:
    spec = openapi.build_spec()
    body = spec["paths"]["/2/instances"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert {"name", "os", "__version__"} <= set(body["properties"])
    assert "instance_name" not in body["properties"]
    assert body["properties"]["mode"] == {"enum": ["create", "import", "remote-import"]}
    assert set(body["required"]) == {"name", "__version__"}


def test_it_is_a_valid_openapi_document() -> None:
    schemathesis = pytest.importorskip(
        "schemathesis", reason="schemathesis is not installed (scripts/setup.sh --test)")
    schema = schemathesis.openapi.from_dict(openapi.build_spec())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(r.methods) for r in routes.ROUTES)
