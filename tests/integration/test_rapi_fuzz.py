"""Fuzzing gnt-rapi with schemathesis from its own OpenAPI description (issue 12): every
operation gets generated paths, query arguments and bodies over HTTPS on loopback, a bounded
number of cases each. No answer may be a server error except the documented ones (501 for
what is not implemented yet, 503 for the drained queue), the daemon must keep answering, and
the cluster must be unchanged and verify clean afterwards.

The job queue is drained for the run, so every well-formed change is refused with 503 after
its body was validated: the fuzzer exercises parsing and validation, never a real change. Job
filter rules are the exception (daemon calls, as Ganeti's, not jobs): the rules the fuzzer
adds are deleted before the comparison (an empty rule table counts as none).
"""

from __future__ import annotations

import json

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster
from gnt_rapienv import start_rapi

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (scripts/setup.sh --test installs it)")
from hypothesis import HealthCheck, settings  # noqa: E402  (after the import check)

from gnt.rapi import openapi  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

DOCUMENTED_5XX = {501, 503}
USER, PASSWORD = "fuzz", "fuzzpw"
schema = schemathesis.openapi.from_dict(openapi.build_spec())


@pytest.fixture(scope="module")
def rapi(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("fuzz"), "cluster.fuzz.example")
    gnt.run("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-start", "-o",
            "blank", "fz1.fuzz.example")
    port, cert = start_rapi(gnt, f"{USER} {PASSWORD} read,write\n")
    gnt.run("gnt-cluster", "queue", "drain")
    before = _config_without_serials(gnt)
    yield {"url": f"https://127.0.0.1:{port}", "ca": str(cert),
           "gnt": gnt}
    try:
        # Job filter rules change through daemon calls, not jobs, so the drained queue does not
        # stop them: those the fuzzer added go before anything runs again (a PAUSE or REJECT
        # rule would hold or cancel verify's job).
        for uuid in gnt.run("gnt-filter", "list", "--no-headers", "-o", "uuid").stdout.split():
            gnt.run("gnt-filter", "delete", uuid)
        # the daemon still answers, nothing changed, and the cluster verifies clean
        gnt.run("gnt-cluster", "queue", "undrain")
        assert _config_without_serials(gnt) == before
        verify = gnt.run("gnt-cluster", "verify", check=False)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        destroy_cluster(gnt)   # also when a check above failed


def _config_without_serials(gnt) -> str:
    data = gnt.config()
    data.pop("serial_no", None)
    data.pop("mtime", None)
    if not data.get("filters"):
        data.pop("filters", None)
    data["cluster"].pop("serial_no", None)
    data["cluster"].pop("mtime", None)
    return json.dumps(data, sort_keys=True)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_undocumented_server_error(case, rapi) -> None:
    response = case.call(base_url=rapi["url"], verify=rapi["ca"], auth=(USER, PASSWORD),
                         timeout=30)
    assert response.status_code < 500 or response.status_code in DOCUMENTED_5XX, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}:"
        f" {response.status_code} {response.text[:500]}")
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "explain"} and body["code"] == \
            response.status_code
