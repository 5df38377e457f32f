"""The ready playbooks of playbooks/ end to end with ansible-playbook against a real one-node
cluster's remote API (issue 13): instance lifecycle (each step once: the second run changes
nothing), the cluster health report, the backup of tagged instances and the rolling
maintenance's sparing of the master. node_maintenance.yml and rolling_maintenance.yml with
nodes to empty run on a 3-node lab cluster: test_playbooks_lab.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gnt_ansible import PLAYBOOK, ansible_env
from gnt_clusterenv import destroy_cluster, make_cluster
from gnt_rapienv import start_rapi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
NAME = "pb1.playbooks.example"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("playbooks")
    ansible = ansible_env(base)
    gnt = make_cluster(base / "cluster", "cluster.playbooks.example")
    port, cert = start_rapi(gnt, "awx awxpw write\n")
    extra = base / "connection.json"
    extra.write_text(json.dumps({
        "gnt_rapi_host": "127.0.0.1", "gnt_rapi_port": port, "gnt_rapi_user": "awx",
        "gnt_rapi_password": "awxpw", "gnt_rapi_ca_path": str(cert),
        "ansible_python_interpreter": sys.executable}))
    yield gnt, ansible, extra, base
    destroy_cluster(gnt)


def play(env, name: str, **variables) -> tuple[int, int, str]:
    """Run playbooks/<name>; (return code, changed count, output)."""
    _gnt, ansible, extra, base = env
    varfile = base / f"vars-{name}-{time.monotonic_ns()}.json"
    varfile.write_text(json.dumps(variables))
    proc = subprocess.run([str(PLAYBOOK), "-i", "localhost,", str(REPO / "playbooks" / name),
                           "-e", f"@{extra}", "-e", f"@{varfile}"], env=ansible,
                          capture_output=True, text=True, timeout=600, check=False)
    recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", proc.stdout)
    assert recap, proc.stdout + proc.stderr
    return proc.returncode, int(recap.group(1)), proc.stdout + proc.stderr


VM = {"gnt_instance_name": NAME, "gnt_instance_os": "tinylinux",
      "gnt_instance_disk_size": "32M", "gnt_instance_memory": "128M",
      "gnt_instance_name_check": False, "gnt_instance_ip_check": False,
      "gnt_instance_tags": ["owner:awx"]}


def test_instance_lifecycle_create_once(env) -> None:
    gnt = env[0]
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="stopped", **VM)
    assert rc == 0 and changed == 1, out
    assert gnt.instances()[NAME]["tags"] == ["owner:awx"]
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="stopped", **VM)
    assert rc == 0 and changed == 0, out


def test_resize_applies_once(env) -> None:
    gnt = env[0]
    vm = dict(VM, gnt_instance_vcpus=2)
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="stopped", **vm)
    assert rc == 0 and changed == 1, out
    assert gnt.instances()[NAME]["beparams"]["vcpus"] == 2
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="stopped", **vm)
    assert rc == 0 and changed == 0, out


def test_health_report(env) -> None:
    _gnt, _ansible, _extra, base = env
    report = base / "report.json"
    rc, changed, out = play(env, "cluster_health_report.yml", gnt_report_path=str(report))
    assert rc == 0, out
    data = json.loads(report.read_text())
    assert data["cluster"] == "cluster.playbooks.example" and data["instances"] == [NAME]
    assert data["unhealthy_instances"] == [] and report.stat().st_mode & 0o777 == 0o600


def test_backup_of_tagged_instances(env) -> None:
    gnt = env[0]
    master = gnt.run("gnt-cluster", "getmaster").stdout.strip()
    rc, changed, out = play(env, "backup_tagged.yml", gnt_backup_node=master,
                            gnt_backup_tag="owner:awx", gnt_backup_compress="none")
    assert rc == 0 and changed == 1, out
    assert NAME in gnt.run("gnt-backup", "list").stdout
    rc, changed, out = play(env, "backup_tagged.yml", gnt_backup_node=master,
                            gnt_backup_tag="nobody:has-this")
    assert rc == 0 and changed == 0, out


def test_rolling_maintenance_spares_the_master(env) -> None:
    # one node, the master: nothing to drain, the run succeeds and changes nothing
    gnt = env[0]
    rc, changed, out = play(env, "rolling_maintenance.yml")
    assert rc == 0 and changed == 0, out
    assert gnt.run("gnt-node", "list", "--no-headers", "-o", "role").stdout.split() == ["M"]


def test_instance_removed_once(env) -> None:
    gnt = env[0]
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="absent", **VM)
    assert rc == 0 and changed == 1, out
    assert NAME not in gnt.instances()
    rc, changed, out = play(env, "instance_lifecycle.yml", gnt_instance_state="absent", **VM)
    assert rc == 0 and changed == 0, out
