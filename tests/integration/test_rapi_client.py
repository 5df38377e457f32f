"""gnt-rapi on a real one-node cluster, driven by Debian's unmodified Ganeti RAPI client
(``python3-ganeti-rapi``: ``ganeti.rapi.client.GanetiRapiClient``) over HTTPS with the
cluster's certificate as CA: reads, an instance's start/reboot/shutdown and tags, jobs
(list, status, cancel), and authentication (issue 12).

The client runs in Debian's own python3 (where the package installs it), one script per step.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster
from gnt_rapienv import start_rapi, wait_listening

pytestmark = pytest.mark.integration

SYSTEM_PYTHON = "/usr/bin/python3"
INSTANCE = "web1.rapi.example"
USERS = ("admin {cleartext}adminpw write\n"
         "reader readpw\n"
         "hauser {HA1}" + hashlib.md5(b"hauser:Ganeti Remote API:hapw").hexdigest()
         + " read,write\n")


def client_skip_reason() -> str | None:
    proc = subprocess.run([SYSTEM_PYTHON, "-c", "import ganeti.rapi.client"],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        return ("Debian's python3-ganeti-rapi is not installed (scripts/setup.sh --test"
                " installs it)")
    return None


class Rapi:
    """Runs GanetiRapiClient calls in Debian's python3 against our gnt-rapi."""

    def __init__(self, port: int, cafile: Path) -> None:
        self.port, self.cafile = port, cafile

    def __call__(self, code: str, user: str | None = "admin", password: str = "adminpw"
                 ) -> Any:
        """Run ``code`` with ``c`` bound to a client; it sets ``result`` (printed as JSON).
        A GanetiApiError becomes ``{"error": code, "message": ...}``."""
        creds = f"username={user!r}, password={password!r}" if user else ""
        script = (
            "import json\nfrom ganeti.rapi import client\n"
            f"cf = client.GenericCurlConfig(cafile={str(self.cafile)!r})\n"
            f"c = client.GanetiRapiClient('127.0.0.1', port={self.port}, curl_config_fn=cf,"
            f" {creds})\n"
            "try:\n"
            + "".join(f"    {line}\n" for line in code.strip().splitlines())
            + "except client.GanetiApiError as err:\n"
            "    result = {'error': err.code, 'message': str(err)}\n"
            "print(json.dumps(result))\n")
        proc = subprocess.run([SYSTEM_PYTHON, "-c", script], capture_output=True, text=True,
                              timeout=180, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    reason = client_skip_reason()
    if reason:
        pytest.skip(reason)
    gnt = make_cluster(tmp_path_factory.mktemp("rapi"), "cluster.rapi.example")
    users = gnt.root / "var/lib/gnt/rapi/users"
    # the master daemon starts gnt-rapi (and restarts it) on the port it is given
    port, cert = start_rapi(gnt, USERS)
    gnt.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "-o", "tinylinux",
            "-B", "memory=128M", "--no-start", INSTANCE)
    yield gnt, Rapi(port, cert), users
    destroy_cluster(gnt)
    assert rapi_pids(port) == [], "gnt-rapi outlived its master daemon"


def rapi_pids(port: int) -> list[int]:
    """PIDs of the gnt-rapi serving ``port`` (this test's own: the port is unique)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gnt.rapi.server" in argv and str(port).encode() in argv:
            found.append(int(proc.name))
    return found


def _jobs(gnt) -> int:
    return len(gnt.run("gnt-job", "list", "--no-headers").stdout.splitlines())


def test_certificate_is_private(env) -> None:
    gnt, _rapi, _users = env
    assert (gnt.root / "var/lib/gnt/rapi.pem").stat().st_mode & 0o777 == 0o600


def test_read_resources(env) -> None:
    gnt, rapi, _users = env
    got = rapi("result = [c.GetVersion(), c.GetInfo()['name'], c.GetOperatingSystems(),"
               " c.GetNodes(), c.GetGroups(), c.GetInstances(), c.GetFeatures()]", user=None)
    version, name, oses, nodes, groups, instances, features = got
    assert version == 2 and name == "cluster.rapi.example"
    assert "tinylinux+default" in oses
    assert nodes == [gnt.config()["nodes"][gnt.config()["cluster"]["master_node"]]["name"]]
    assert groups == ["default"] and instances == [INSTANCE]
    assert set(features) == {"instance-create-reqv1", "instance-reinstall-reqv1",
                             "node-migrate-reqv1", "node-evac-res1"}
    inst = rapi(f"result = c.GetInstance({INSTANCE!r})", user=None)
    assert inst["admin_state"] == "down" and inst["disk.sizes"] == [64]
    assert inst["disk_template"] == "file" and inst["oper_state"] is False
    bulk = rapi("result = c.GetInstances(bulk=True)", user=None)
    assert [row["name"] for row in bulk] == [INSTANCE]
    missing = rapi("result = c.GetInstance('ghost.rapi.example')", user=None)
    assert missing["error"] == 404
    # the generic query, with Ganeti's filter language (needs a user with read or write)
    answer = rapi(f"result = c.Query('instance', ['name', 'disk.sizes', 'nic.bridges'],"
                  f" qfilter=['=', 'name', {INSTANCE!r}])", user="reader", password="readpw")
    assert answer == {"error": 403, "message": answer.get("message")}
    answer = rapi(f"result = c.Query('instance', ['name', 'disk.sizes'],"
                  f" qfilter=['=', 'name', {INSTANCE!r}])")
    assert answer["data"] == [[[0, INSTANCE], [0, [64]]]]
    assert [f["name"] for f in answer["fields"]] == ["name", "disk.sizes"]


def test_instance_start_reboot_shutdown_and_tags(env) -> None:
    gnt, rapi, _users = env
    result = rapi(f"""
j = c.StartupInstance({INSTANCE!r})
ok = c.WaitForJobCompletion(j, period=0.1)
result = [j, ok, c.GetInstance({INSTANCE!r})['status'], c.GetJobStatus(j)['status']]
""")
    job, ok, status, job_status = result
    assert ok is True and status == "running" and job_status == "success"
    console = rapi(f"result = c.GetInstanceConsole({INSTANCE!r})")
    assert console["kind"] == "ssh" and console["user"] == "root"
    assert console["command"][-2:] == ["console", INSTANCE]
    assert gnt.field(INSTANCE, "status") == "running"
    reason = gnt.run("gnt-job", "info", str(job)).stdout
    assert "gnt:library:rlib2:instances_name_startup" in reason
    result = rapi(f"""
j = c.RebootInstance({INSTANCE!r}, reboot_type='hard')
ok1 = c.WaitForJobCompletion(j, period=0.1)
j = c.AddInstanceTags({INSTANCE!r}, ['owner:rapi', 'env:test'])
ok2 = c.WaitForJobCompletion(j, period=0.1)
j = c.ShutdownInstance({INSTANCE!r}, timeout=0)
ok3 = c.WaitForJobCompletion(j, period=0.1)
result = [ok1, ok2, ok3, c.GetInstanceTags({INSTANCE!r}), c.GetInstance({INSTANCE!r})['status']]
""")
    assert result == [True, True, True, ["env:test", "owner:rapi"], "ADMIN_down"]
    assert rapi(f"result = c.GetInstanceConsole({INSTANCE!r})")["error"] == 503
    master = rapi("result = c.GetNodes()")[0]
    done = rapi(f"""
j = c.ExportInstance({INSTANCE!r}, 'local', {master!r}, shutdown=True)
result = c.WaitForJobCompletion(j, period=0.1)
""")
    assert done is True and INSTANCE in gnt.run("gnt-backup", "list").stdout
    assert set(gnt.instances()[INSTANCE]["tags"]) == {"owner:rapi", "env:test"}
    jobs = rapi("result = c.GetJobs(bulk=True)")
    assert {"id", "status", "summary", "ops", "opstatus"} <= set(jobs[-1])


def test_cancel_a_waiting_job(env) -> None:
    gnt, rapi, _users = env
    first = gnt.run("gnt-debug", "delay", "--submit", "4").stdout.split()[-1]
    second = gnt.run("gnt-debug", "delay", "--submit", "0").stdout.split()[-1]
    deadline = time.monotonic() + 20
    while rapi(f"result = c.GetJobStatus({second})['status']") != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    ok, _message = rapi(f"result = c.CancelJob({second})")
    assert ok is True
    assert rapi(f"result = c.GetJobStatus({second})['status']") == "canceled"
    assert rapi(f"result = c.WaitForJobCompletion({first}, period=0.1)") is True


def test_authentication(env) -> None:
    gnt, rapi, users = env
    before, jobs = gnt.config()["cluster"]["tags"], _jobs(gnt)
    add = "result = c.AddClusterTags(['x:y'])"
    assert rapi(add, user=None)["error"] == 401
    assert rapi(add, password="wrong")["error"] == 401
    assert rapi(add, user="nobody", password="adminpw")["error"] == 401
    assert rapi(add, user="reader", password="readpw")["error"] == 403
    assert gnt.config()["cluster"]["tags"] == before and _jobs(gnt) == jobs
    job = rapi(add, user="hauser", password="hapw")
    assert isinstance(job, int)
    assert rapi(f"result = c.WaitForJobCompletion({job}, period=0.1)") is True
    assert "x:y" in gnt.config()["cluster"]["tags"]
    # the users file changed while the daemon runs: the new user works at once
    users.write_text(USERS + "late latepw write\n")
    job = rapi("result = c.DeleteClusterTags(['x:y'])", user="late", password="latepw")
    assert isinstance(job, int)


def test_bad_bodies_queue_nothing(env) -> None:
    gnt, rapi, _users = env
    jobs = _jobs(gnt)
    bad = rapi(f"result = c.ShutdownInstance({INSTANCE!r}, timeout='soon')")
    assert bad["error"] == 400 and "timeout" in bad["message"]
    marker = "{{ lookup('pipe', 'id') }}"
    refused = rapi(f"result = c.AddInstanceTags({INSTANCE!r}, [{marker!r}])")
    assert refused["error"] == 400
    unimplemented = "result = c._SendRequest('PUT', '/2/networks/n1/rename', None, {'new_name': 'n2'})"
    assert rapi(unimplemented)["error"] == 501
    assert _jobs(gnt) == jobs


def test_powercycle_of_the_master_needs_force_and_a_machine_of_its_own(env) -> None:
    """Ganeti's PowercycleNode: refused for the master without force; with force this test
    cluster's master (its root is not /: it shares this machine) refuses to reboot."""
    gnt, rapi, _users = env
    master = gnt.run("gnt-cluster", "getmaster").stdout.strip()
    for force in (False, True):
        job = rapi(f"result = c.PowercycleNode({master!r}, force={force})")
        assert rapi(f"result = c.WaitForJobCompletion({job}, period=0.1)") is False
        status = rapi(f"result = c.GetJobStatus({job})")
        message = str(status["opresult"])
        assert ("force parameter was not set" in message) if not force else \
            ("not /" in message and "Failed to schedule the reboot" in message), message


def test_create_modify_rename_remove(env) -> None:
    gnt, rapi, _users = env
    name, new = "web2.rapi.example", "web3.rapi.example"
    result = rapi(f"""
j = c.CreateInstance('create', {name!r}, 'file', [{{'size': 32}}], [{{}}], os='tinylinux',
                     beparams={{'memory': 128}}, start=False, name_check=False,
                     ip_check=False)
ok1 = c.WaitForJobCompletion(j, period=0.1)
j = c.ModifyInstance({name!r}, beparams={{'vcpus': 2}})
ok2 = c.WaitForJobCompletion(j, period=0.1)
j = c.RenameInstance({name!r}, {new!r}, name_check=False, ip_check=False)
ok3 = c.WaitForJobCompletion(j, period=0.1)
vcpus = c.GetInstance({new!r})['beparams']['vcpus']
result = [ok1, ok2, ok3, vcpus]
""")
    assert result == [True, True, True, 2]
    inst = gnt.instances()[new]
    assert inst["os"] == "tinylinux" and inst["admin_state"] == "down"
    [disk] = [d for d in gnt.config()["disks"].values() if d["uuid"] in inst["disks"]]
    assert disk["size"] == 32 and Path(disk["logical_id"][1]).exists()
    result = rapi(f"""
j = c.DeleteInstance({new!r})
result = [c.WaitForJobCompletion(j, period=0.1), c.GetInstances()]
""")
    assert result == [True, [INSTANCE]]
    assert not Path(disk["logical_id"][1]).exists()


def test_bad_create_queues_nothing(env) -> None:
    gnt, rapi, _users = env
    jobs, before = _jobs(gnt), gnt.config_file.read_bytes()
    bad = rapi("result = c.CreateInstance('create', 'x.rapi.example', 'file',"
               " [{'size': 32}], [{}], os='tinylinux', bogus_field=1)")
    assert bad["error"] == 400 and "bogus_field" in bad["message"]
    bad = rapi("result = c.CreateInstance('create', 'x.rapi.example', 'file',"
               " [{'size': 32}], [{}], os='tinylinux', start='maybe')")
    assert bad["error"] == 400 and "start" in bad["message"]
    assert _jobs(gnt) == jobs and gnt.config_file.read_bytes() == before


def test_groups_and_node_role(env) -> None:
    gnt, rapi, _users = env
    master = rapi("result = c.GetNodes()")[0]
    result = rapi(f"""
j = c.CreateGroup('rack2', alloc_policy='last_resort')
ok1 = c.WaitForJobCompletion(j, period=0.1)
groups = c.GetGroups()
j = c.RenameGroup('rack2', 'rack3')
ok2 = c.WaitForJobCompletion(j, period=0.1)
policy = c.GetGroup('rack3')['alloc_policy']
j = c.DeleteGroup('rack3')
ok3 = c.WaitForJobCompletion(j, period=0.1)
result = [ok1, groups, ok2, policy, ok3, c.GetGroups(), c.GetNodeRole({master!r})]
""")
    assert result == [True, ["default", "rack2"], True, "last_resort", True, ["default"],
                      "master"]
    refused = rapi(f"result = c.SetNodeRole({master!r}, 'master')")
    assert refused["error"] == 400


def test_the_master_daemon_restarts_a_dead_rapi(env) -> None:
    gnt, rapi, _users = env
    [pid] = rapi_pids(rapi.port)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while rapi_pids(rapi.port) in ([], [pid]):
        assert time.monotonic() < deadline, "gnt-rapi was not started again"
        time.sleep(0.2)
    wait_listening(rapi.port)
    assert rapi("result = c.GetVersion()", user=None) == 2


def test_renew_crypto_replaces_the_certificate(env, tmp_path) -> None:
    gnt, rapi, _users = env
    cert = gnt.root / "var/lib/gnt/rapi.pem"
    old = cert.read_bytes()
    old_ca = tmp_path / "old-ca.pem"
    old_ca.write_bytes(old)
    # bad requests change nothing and exit 1
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for argv in (["--rapi-certificate", str(tmp_path / "missing.pem")],
                 ["--rapi-certificate", str(garbage)],
                 ["--new-rapi-certificate", "--rapi-certificate", str(garbage)],
                 ["--new-rapi-certificate"],                 # no terminal to confirm on
                 ["--new-cluster-certificate", "-f"], []):
        proc = gnt.run("gnt-cluster", "renew-crypto", *argv, check=False)
        assert proc.returncode == 1, (argv, proc.stdout, proc.stderr)
        assert cert.read_bytes() == old
    assert "Unable to load X509 certificate" in gnt.run(
        "gnt-cluster", "renew-crypto", "-f", "--rapi-certificate", str(garbage),
        check=False).stderr
    gnt.run("gnt-cluster", "renew-crypto", "--new-rapi-certificate", "-f")
    new = cert.read_bytes()
    assert new != old and cert.stat().st_mode & 0o777 == 0o600
    # the running gnt-rapi serves the new certificate within seconds, no restart
    stale = Rapi(rapi.port, old_ca)
    deadline = time.monotonic() + 20
    while not isinstance(stale("result = c.GetVersion()", user=None), dict):
        assert time.monotonic() < deadline, "gnt-rapi kept the old certificate"
        time.sleep(0.5)
    assert rapi("result = c.GetVersion()", user=None) == 2
    # the operator's own key and certificate
    own = tmp_path / "own.pem"
    proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", str(own), "-out", str(tmp_path / "own.crt"), "-days",
                           "2", "-subj", "/CN=127.0.0.1", "-addext",
                           "subjectAltName=IP:127.0.0.1"], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    own.write_bytes(own.read_bytes() + (tmp_path / "own.crt").read_bytes())
    gnt.run("gnt-cluster", "renew-crypto", "--rapi-certificate", str(own), "-f")
    assert cert.read_bytes() == own.read_bytes()
    deadline = time.monotonic() + 20
    while rapi("result = c.GetVersion()", user=None) != 2:
        assert time.monotonic() < deadline, "gnt-rapi did not take the operator's certificate"
        time.sleep(0.5)


def test_renew_crypto_cluster_domain_secret(env, tmp_path) -> None:
    gnt, _rapi, _users = env
    path = gnt.root / "var/lib/gnt/cluster-domain-secret"
    made_by_init = path.read_text()
    assert len(made_by_init.strip()) == 40 and path.stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other-cluster-secret"
    other.write_text("0123456789abcdef0123456789abcdef01234567\n")
    for argv, needle in (
            (["--cluster-domain-secret", str(tmp_path / "missing")],
             "Can't load new cluster domain secret from"),
            (["--new-cluster-domain-secret", "--cluster-domain-secret", str(other)],
             "Only one of the --new-cluster-domain-secret and --cluster-domain-secret"),
            (["--new-cluster-domain-secret"], "")):              # no terminal to confirm on
        proc = gnt.run("gnt-cluster", "renew-crypto", *argv, check=False)
        assert proc.returncode == 1 and needle in proc.stderr, (argv, proc.stderr)
        assert path.read_text() == made_by_init
    gnt.run("gnt-cluster", "renew-crypto", "-f", "--cluster-domain-secret", str(other))
    assert path.read_text().strip() == "0123456789abcdef0123456789abcdef01234567"
    gnt.run("gnt-cluster", "renew-crypto", "-f", "--new-cluster-domain-secret")
    fresh = path.read_text().strip()
    assert len(fresh) == 40 and fresh not in (made_by_init.strip(), other.read_text().strip())
    assert path.stat().st_mode & 0o777 == 0o600


def test_authentication_can_be_required_for_reads(env) -> None:
    gnt, rapi, _users = env
    gnt.env["GNT_RAPI_ARGS"] = "--require-authentication"
    try:
        gnt.run("gnt-masterd", "restart")
        wait_listening(rapi.port)
        assert rapi("result = c.GetInfo()['name']", user=None)["error"] == 401
        assert rapi("result = c.GetInfo()['name']", user="reader", password="readpw") \
            == "cluster.rapi.example"
    finally:
        gnt.env.pop("GNT_RAPI_ARGS")
        gnt.run("gnt-masterd", "restart")
        wait_listening(rapi.port)
    assert rapi("result = c.GetVersion()", user=None) == 2


def test_multi_allocation(env) -> None:
    gnt, rapi, _users = env
    names = ["ma1.rapi.example", "ma2.rapi.example"]
    result = rapi(f"""
allocs = [c.InstanceAllocation('create', name, 'diskless', [], [{{}}], os='blank',
                               beparams={{'memory': 64}}, start=False, no_install=True,
                               name_check=False, ip_check=False) for name in {names!r}]
j = c.InstancesMultiAlloc(allocs)
ok = c.WaitForJobCompletion(j, period=0.1)
outcome = c.GetJobStatus(j)['opresult'][0]
children = [c.WaitForJobCompletion(jid, period=0.1) for _ok, jid in outcome['jobs']]
result = [ok, outcome['allocatable'], outcome['failed'], children]
""")
    assert result == [True, names, [], [True, True]]
    assert set(names) <= set(gnt.instances())
    for name in names:
        gnt.run("gnt-instance", "remove", "-f", name)


def test_queries_of_jobs_locks_exports_and_job_filters(env) -> None:
    """Ganeti's client: /2/query/job|lock|export|filter and /2/filters (issue 12)."""
    gnt, rapi, _users = env
    assert "archived" in rapi("result = [f['name'] for f in c.QueryFields('job')['fields']]")
    done = rapi("result = c.Query('job', ['id', 'status'], qfilter=['=', 'status', 'success'])")
    assert done["data"] and all(row[1] == [0, "success"] for row in done["data"])
    locks = rapi("result = c.Query('lock', ['name', 'mode', 'owner', 'pending'])")
    assert [f["name"] for f in locks["fields"]] == ["name", "mode", "owner", "pending"]
    # the exports the earlier tests left, as gnt-backup list shows them
    exports = rapi("result = c.Query('export', ['node', 'export'])")["data"]
    listed = gnt.run("gnt-backup", "list").stdout
    assert all(status == 0 and name in listed
               for (_nstatus, _node), (status, name) in exports)
    assert gnt.run("gnt-debug", "locks").stdout.split() == ["Name", "Mode", "Owner", "Pending"]
    # a rule keeping every new job queued; replacing it moves its watermark past the job
    soft_drain = [["jobid", [">", "id", "watermark"]]]
    uuid = rapi(f"result = c.AddFilter(0, {soft_drain!r}, 'PAUSE', [['gnt:user', 'test', 1]])")
    assert rapi("result = c.GetFilters()") == [uuid]
    rule = rapi("result = c.GetFilters(bulk=True)")[0]
    assert rule["action"] == "PAUSE" and rule["reason_trail"][0] == ["gnt:user", "test", 1]
    try:
        paused = rapi("result = c.AddClusterTags(['filter:paused'])")
        time.sleep(1)
        assert rapi(f"result = c.GetJobStatus({paused})['status']") == "queued"
        assert rapi(f"result = c.ReplaceFilter({uuid!r}, 0, {soft_drain!r}, 'REJECT')") == uuid
        assert rapi(f"result = c.WaitForJobCompletion({paused}, period=0.1)") is True
        rejected = rapi("result = c.AddClusterTags(['filter:rejected'])")
        assert rapi(f"result = c.WaitForJobCompletion({rejected}, period=0.1)") is False
        assert rapi(f"result = c.GetJobStatus({rejected})['status']") == "canceled"
        rows = rapi("result = c.Query('filter', ['uuid', 'action'])")["data"]
        assert rows == [[[0, uuid], [0, "REJECT"]]]
        before = gnt.config_file.read_bytes()
        bad = rapi("result = c.AddFilter(0, [], 'DROP')")
        assert bad["error"] == 400 and "DROP" in bad["message"]
        assert gnt.config_file.read_bytes() == before
        assert rapi(f"result = c.DeleteFilter({uuid!r})") is None
        assert rapi("result = c.GetFilters()") == []
        assert rapi(f"result = c.GetFilter({uuid!r})")["error"] == 404
    finally:   # never leave a rule pausing the module's later jobs
        rapi(f"result = c.DeleteFilter({uuid!r})")
    tags = gnt.config()["cluster"]["tags"]
    assert "filter:paused" in tags and "filter:rejected" not in tags
