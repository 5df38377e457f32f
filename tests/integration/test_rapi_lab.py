"""gnt-rapi on a real 3-node lab cluster, driven from the host by Debian's unmodified Ganeti
RAPI client over HTTPS (issue 12): node and group calls, a node role change, and a master
failover after which the remote API answers on the master IP from the new master (and the
old master's gnt-rapi is gone).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_marks,
    running_cluster,
)
from test_rapi_client import client_skip_reason

pytestmark = lab_marks(pytest.mark.timeout(900))

SYSTEM_PYTHON = "/usr/bin/python3"
USERS = "admin {cleartext}adminpw write\n"


@pytest.fixture(scope="module")
def lc(tmp_path_factory) -> LabCluster:
    reason = client_skip_reason()
    if reason:
        pytest.skip(reason)
    with running_cluster("rapi", 3) as cluster:
        # the users file on every master candidate (as an operator would copy it)
        cluster.run("node1", "umask 077 && mkdir -p $GNT_ROOT/var/lib/gnt/rapi && printf"
                             f" '{USERS}' > $GNT_ROOT/var/lib/gnt/rapi/users")
        cluster.gnt("gnt-cluster copyfile $GNT_ROOT/var/lib/gnt/rapi/users")
        yield cluster


def rapi(lc: LabCluster, code: str, node: str) -> object:
    """Run GanetiRapiClient code on the host against the master IP, trusting the
    certificate of ``node``'s gnt-rapi; ``result`` is returned (errors as a dict)."""
    address = lc.ssconf("node1", "master_ip").strip()
    cert = lc.root_on_host(node) / "var/lib/gnt/rapi.pem"
    deadline = time.monotonic() + 60
    while not cert.exists():
        assert time.monotonic() < deadline, f"no rapi.pem on {node}"
        time.sleep(0.5)
    script = (
        "import json\nfrom ganeti.rapi import client\n"
        f"cf = client.GenericCurlConfig(cafile={str(cert)!r}, verify_hostname=False)\n"
        f"c = client.GanetiRapiClient({address!r}, username='admin', password='adminpw',"
        " curl_config_fn=cf)\n"
        "try:\n" + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except client.GanetiApiError as err:\n"
        "    result = {'error': err.code, 'message': str(err)}\n"
        "print(json.dumps(result))\n")
    proc = subprocess.run([SYSTEM_PYTHON, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_answering(lc: LabCluster, node: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        answer = rapi(lc, "result = c.GetInfo()['master']", node)
        if isinstance(answer, str):
            return
        assert time.monotonic() < deadline, answer
        time.sleep(1)


def test_nodes_groups_and_a_role_change(lc: LabCluster) -> None:
    wait_answering(lc, "node1")
    nodes = rapi(lc, "result = c.GetNodes()", "node1")
    assert sorted(n.split(".")[0] for n in nodes) == ["node1", "node2", "node3"]
    assert rapi(lc, "result = c.GetGroups()", "node1") == ["default"]
    node3 = lc.fqdn("node3")
    result = rapi(lc, f"""
j = c.SetNodeRole({node3!r}, 'drained')
ok = c.WaitForJobCompletion(j, period=0.1)
role = c.GetNodeRole({node3!r})
j = c.SetNodeRole({node3!r}, 'regular')
result = [ok, role, c.WaitForJobCompletion(j, period=0.1), c.GetNodeRole({node3!r})]
""", "node1")
    assert result == [True, "drained", True, "regular"]
    bulk = rapi(lc, "result = c.GetNodes(bulk=True)", "node1")
    assert {n["name"].split(".")[0]: n["role"] for n in bulk}["node1"] == "master"


def test_rapi_follows_master_failover(lc: LabCluster) -> None:
    lc.gnt("gnt-cluster master-failover", node="node2")
    try:
        wait_answering(lc, "node2")
        assert rapi(lc, "result = c.GetInfo()['master']", "node2") == lc.fqdn("node2")
        procs = lc.run("node1", "pgrep -f '[g]nt[.]rapi[.]server' || true").stdout.split()
        assert procs == [], "the old master still runs gnt-rapi"
    finally:
        lc.gnt("gnt-cluster master-failover", node="node1")
    wait_answering(lc, "node1")
    assert rapi(lc, "result = c.GetInfo()['master']", "node1") == lc.fqdn("node1")


def test_cert_is_private_on_the_master(lc: LabCluster) -> None:
    cert = Path(lc.root_on_host("node1")) / "var/lib/gnt/rapi.pem"
    assert cert.stat().st_mode & 0o777 == 0o600
