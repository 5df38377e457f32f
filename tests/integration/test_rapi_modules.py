"""The controller-side modules (gnt.cluster.instance, instance_info, cluster_info, job)
through Ansible against a real one-node cluster's remote API over HTTPS (issue 13): each
change made once (the second run reports no change), check mode changes nothing, diff mode
shows before/after, bad parameters fail naming them and change nothing, and the action group
gnt.cluster.rapi carries the connection options in module_defaults.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gnt_ansible import PLAYBOOK, ansible_env, run_module
from gnt_clusterenv import destroy_cluster, make_cluster
from gnt_rapienv import start_rapi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

NAME = "vm1.modules.example"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("rapimod")
    ansible = ansible_env(base)
    gnt = make_cluster(base / "cluster", "cluster.modules.example")
    port, cert = start_rapi(gnt, "ansible {cleartext}ansiblepw write\n")
    conn = {"host": "127.0.0.1", "port": port, "user": "ansible", "password": "ansiblepw",
            "ca_path": str(cert)}
    yield gnt, ansible, conn, base
    destroy_cluster(gnt)


def _module(env, module: str, check: bool = False, **args) -> tuple[bool, dict]:
    _gnt, ansible, conn, _base = env
    return run_module(ansible, module, {**conn, **args}, check=check)


def _ok(env, module: str, check: bool = False, **args) -> dict:
    ok, result = _module(env, module, check=check, **args)
    assert ok, result
    return result


VM = {"name": NAME, "os": "tinylinux", "disks": [{"size": "32M"}],
      "beparams": {"memory": "128M"}, "name_check": False, "ip_check": False}


def test_cluster_info(env) -> None:
    result = _ok(env, "cluster_info")
    assert result["changed"] is False and result["version"] == 2
    assert result["info"]["name"] == "cluster.modules.example"
    assert [n["role"] for n in result["nodes"]] == ["master"]
    assert "instance-create-reqv1" in result["features"]


def test_create_in_check_mode_changes_nothing(env) -> None:
    gnt = env[0]
    result = _ok(env, "instance", check=True, state="stopped", **VM)
    assert result["changed"] is True and NAME not in gnt.instances()


def test_create_once(env) -> None:
    gnt = env[0]
    first = _ok(env, "instance", state="stopped", **VM)
    assert first["changed"] is True and len(first["jobs"]) == 1
    assert first["instance"]["admin_state"] == "down"
    assert first["instance"]["disk.sizes"] == [32]
    assert gnt.instances()[NAME]["os"] == "tinylinux"
    again = _ok(env, "instance", state="stopped", **VM)
    assert again["changed"] is False and again["jobs"] == []


def test_modify_and_tags_once_with_diff(env) -> None:
    gnt = env[0]
    args = {**VM, "state": "stopped", "beparams": {"memory": "128M", "vcpus": 2},
            "tags": ["role:web"]}
    planned = _ok(env, "instance", check=True, **args)
    assert planned["changed"] is True and gnt.instances()[NAME]["tags"] == []
    done = _ok(env, "instance", **args)
    assert done["changed"] is True and len(done["jobs"]) == 2
    assert done["instance"]["beparams"]["vcpus"] == 2 and done["instance"]["tags"] == ["role:web"]
    again = _ok(env, "instance", **args)
    assert again["changed"] is False


def test_start_stop_once(env) -> None:
    gnt = env[0]
    started = _ok(env, "instance", state="started", name=NAME)
    assert started["changed"] is True and started["instance"]["status"] == "running"
    assert gnt.field(NAME, "status") == "running"
    assert _ok(env, "instance", state="started", name=NAME)["changed"] is False
    stopped = _ok(env, "instance", state="stopped", name=NAME, shutdown_timeout=0)
    assert stopped["changed"] is True and stopped["instance"]["status"] == "ADMIN_down"
    assert _ok(env, "instance", state="stopped", name=NAME)["changed"] is False


def test_bad_parameters_fail_and_change_nothing(env) -> None:
    gnt = env[0]
    before = gnt.config_file.read_bytes()
    ok, result = _module(env, "instance", state="present", name="vm2.modules.example",
                         os="tinylinux", disks=[{"size": "12Q"}])
    assert not ok and "disks[0].size" in result["msg"] and "12Q" in result["msg"]
    ok, result = _module(env, "instance", state="present", name="vm2.modules.example",
                         os="nosuchos", disks=[{"size": "8M"}], name_check=False,
                         ip_check=False)
    assert not ok and "nosuchos" in result["msg"]
    ok, result = _module(env, "instance", name=NAME, state="sideways")
    assert not ok and "state" in result["msg"]
    # reads need no user; the change does, and a wrong password is refused
    ok, result = _module(env, "instance", name=NAME, password="wrong", tags=["x:y"])
    assert not ok and "401" in result["msg"]
    assert sorted(gnt.instances()) == [NAME]
    after = json.loads(gnt.config_file.read_text())
    assert after["instances"] == json.loads(before)["instances"]


def test_job_module_waits(env) -> None:
    gnt = env[0]
    job = gnt.run("gnt-cluster", "add-tags", "--submit", "from:cli").stdout.split()[-1]
    result = _ok(env, "job", id=int(job))
    assert result["job"]["status"] == "success" and result["changed"] is False
    ok, failed = _module(env, "job", id=999999)
    assert not ok and "404" in failed["msg"]


def test_tag_group_and_node_modules(env) -> None:
    gnt = env[0]
    tag = {"kind": "cluster", "tags": ["env:test"]}
    assert _ok(env, "tag", check=True, **tag)["changed"] is True
    assert "env:test" not in gnt.config()["cluster"]["tags"]
    assert "env:test" in _ok(env, "tag", **tag)["tags"]
    assert _ok(env, "tag", **tag)["changed"] is False
    assert _ok(env, "tag", state="absent", **tag)["changed"] is True
    assert "env:test" not in gnt.config()["cluster"]["tags"]
    ok, result = _module(env, "tag", kind="instance", tags=["a"])
    assert not ok and "name" in result["msg"]

    group = {"name": "rack2", "alloc_policy": "last_resort"}
    assert _ok(env, "group", **group)["changed"] is True
    assert _ok(env, "group", **group)["changed"] is False
    changed = _ok(env, "group", name="rack2", alloc_policy="preferred")
    assert changed["changed"] is True and changed["group"]["alloc_policy"] == "preferred"
    assert _ok(env, "group", name="rack2", state="absent")["changed"] is True
    assert _ok(env, "group", name="rack2", state="absent")["changed"] is False

    master = gnt.run("gnt-cluster", "getmaster").stdout.strip()
    assert _ok(env, "node", name=master, vm_capable=True)["changed"] is False
    ok, result = _module(env, "node", name=master, role="regular")
    assert not ok and "master-failover" in result["msg"]
    ok, result = _module(env, "node", name="ghost.modules.example", role="drained")
    assert not ok and "ghost.modules.example" in result["msg"]


def test_inventory_plugin_hosts_and_groups(env) -> None:
    gnt, ansible, conn, base = env
    source = base / "cluster.gnt_rapi.yml"
    source.write_text(json.dumps({
        "plugin": "gnt.cluster.rapi", "host": conn["host"], "port": conn["port"],
        "ca_path": conn["ca_path"],
        "keyed_groups": [{"key": "gnt.beparams.vcpus | string", "prefix": "vcpus"}],
        "compose": {"memory_mib": "gnt.beparams.maxmem"}}))
    inventory = Path(sys.executable).with_name("ansible-inventory")
    proc = subprocess.run([str(inventory), "-i", str(source), "--list"], env=ansible,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert "gnt_nodes" in data, proc.stdout + proc.stderr
    nodes = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()
    instances = gnt.run("gnt-instance", "list", "--no-headers", "-o", "name").stdout.split()
    assert sorted(data["gnt_nodes"]["hosts"]) == sorted(nodes)
    assert sorted(data["gnt_instances"]["hosts"]) == sorted(instances) == [NAME]
    assert data["gnt_tag_role_web"]["hosts"] == [NAME]
    assert data["gnt_status_ADMIN_down"]["hosts"] == [NAME]
    assert data["gnt_template_file"]["hosts"] == [NAME]
    assert data["gnt_node_" + nodes[0].replace(".", "_").replace("-", "_")]["hosts"] == [NAME]
    assert sorted(data["gnt_group_default"]["hosts"]) == sorted(nodes + [NAME])
    assert data["vcpus_2"]["hosts"] == [NAME]
    hostvars = data["_meta"]["hostvars"][NAME]
    # the cluster's strings are data, never templates: Ansible marks them unsafe
    assert hostvars["gnt"]["os"] == {"__ansible_unsafe": "tinylinux"}
    assert hostvars["memory_mib"] == 128
    assert hostvars["gnt_kind"] in ("instance", {"__ansible_unsafe": "instance"})


def test_action_group_defaults_and_absent_once(env) -> None:
    gnt, ansible, conn, base = env
    play = base / "absent.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/gnt.cluster.rapi: {json.dumps(conn)}
  tasks:
    - name: Info through the group's defaults
      gnt.cluster.instance_info:
        name: {NAME}
      register: info
    - name: The instance is known
      ansible.builtin.assert:
        that: info.instances | length == 1
    - name: Remove it
      gnt.cluster.instance:
        name: {NAME}
        state: absent
      diff: true
    - name: Remove it again
      gnt.cluster.instance:
        name: {NAME}
        state: absent
      register: again
    - name: Nothing left to do
      ansible.builtin.assert:
        that: not again.changed
""")
    proc = subprocess.run([str(PLAYBOOK), "-i", "localhost,", str(play), "-e",
                           f"ansible_python_interpreter={sys.executable}"], env=ansible,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed=1" in proc.stdout and '"state": "absent"' not in proc.stderr
    assert NAME not in gnt.instances()
    assert not any(Path(gnt.root / "srv/gnt/file-storage").glob(f"{NAME}*"))


def test_export_and_import_back(env) -> None:
    gnt = env[0]
    name = "vm3.modules.example"
    master = gnt.run("gnt-cluster", "getmaster").stdout.strip()
    _ok(env, "instance", state="stopped", **{**VM, "name": name})
    exported = _ok(env, "export", name=name, node=master)
    assert exported["changed"] is True and len(exported["jobs"]) == 1
    assert name in gnt.run("gnt-backup", "list").stdout
    assert _ok(env, "instance", name=name, state="absent")["changed"] is True
    checks = {"name_check": False, "ip_check": False}
    planned = _ok(env, "export", check=True, name=name, node=master, state="imported",
                  **checks)
    assert planned["changed"] is True and name not in gnt.instances()
    imported = _ok(env, "export", name=name, node=master, state="imported", **checks)
    assert imported["changed"] is True and imported["instance"]["disk.sizes"] == [32]
    again = _ok(env, "export", name=name, node=master, state="imported", **checks)
    assert again["changed"] is False
    assert _ok(env, "instance", name=name, state="absent")["changed"] is True
