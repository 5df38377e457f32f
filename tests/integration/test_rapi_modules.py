"""The controller-side modules (gnt.cluster.instance, instance_info, cluster_info, job, tag,
group, node, export) through Ansible against a real one-node cluster's remote API over HTTPS
(issue 13). Every module: run twice (the second run reports no change; export's V(exported)
is an action, a fresh export each run, like instance's V(restarted)), in check mode (nothing
changes - asserted on the cluster itself, not on the module's answer) and in diff mode (the
registered diff shows the instance/node/group/tags/job before and after; in check mode the
would-be after). Bad parameters fail naming them and change nothing, and the action group
gnt.cluster.rapi carries the connection options in module_defaults. One cluster for the
module; the tests run in order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gnt_ansible import PLAYBOOK, ansible_env, run_module, run_module_play
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


def _diff(env, module: str, check: bool = False, **args) -> dict:
    """Run the module as a playbook task in diff mode (and check mode if asked); its result
    with the diff it returned."""
    _gnt, ansible, conn, base = env
    ok, result = run_module_play(ansible, base / "plays", module, {**conn, **args},
                                 check=check, diff=True)
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


def test_info_modules_twice_check_and_diff_mode(env) -> None:
    gnt = env[0]
    serial = gnt.config()["serial_no"]
    for module in ("cluster_info", "instance_info"):
        assert _ok(env, module)["changed"] is False
        checked = _diff(env, module, check=True)
        assert checked["changed"] is False and not checked.get("diff")
    assert gnt.config()["serial_no"] == serial


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
    planned = _diff(env, "instance", check=True, **args)
    assert planned["changed"] is True
    assert gnt.instances()[NAME]["tags"] == [] and gnt.field(NAME, "be/vcpus") == "1"
    assert planned["diff"]["before"]["beparams"].get("vcpus") in (None, 1)
    assert planned["diff"]["after"]["beparams"]["vcpus"] == 2
    assert (planned["diff"]["before"]["tags"], planned["diff"]["after"]["tags"]) == \
        ([], ["role:web"])
    done = _diff(env, "instance", **args)
    assert done["changed"] is True and len(done["jobs"]) == 2
    assert done["instance"]["beparams"]["vcpus"] == 2 and done["instance"]["tags"] == ["role:web"]
    assert done["diff"]["after"]["beparams"]["vcpus"] == 2
    assert done["diff"]["after"]["tags"] == ["role:web"]
    assert gnt.field(NAME, "be/vcpus") == "2"
    again = _ok(env, "instance", **args)
    assert again["changed"] is False


def test_start_stop_once(env) -> None:
    gnt = env[0]
    planned = _diff(env, "instance", check=True, state="started", name=NAME)
    assert planned["changed"] is True and gnt.field(NAME, "status") == "ADMIN_down"
    assert (planned["diff"]["before"]["state"], planned["diff"]["after"]["state"]) == \
        ("stopped", "running")
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


def _job_status(gnt, job: str) -> str:
    return gnt.run("gnt-job", "list", "--no-headers", "-o", "status", job).stdout.strip()


def test_job_module_waits_and_cancels(env) -> None:
    gnt = env[0]
    job = gnt.run("gnt-cluster", "add-tags", "--submit", "from:cli").stdout.split()[-1]
    result = _ok(env, "job", id=int(job))
    assert result["job"]["status"] == "success" and result["changed"] is False
    ok, failed = _module(env, "job", id=999999)
    assert not ok and "404" in failed["msg"]
    # a delay job holds the master's lock: a second one waits for it and can be canceled
    # (30 s: long enough for the three Ansible runs below on a busy machine)
    busy = gnt.run("gnt-debug", "delay", "--submit", "30").stdout.split()[-1]
    waiting = gnt.run("gnt-debug", "delay", "--submit", "30").stdout.split()[-1]
    assert _job_status(gnt, waiting) in ("queued", "waiting")
    planned = _diff(env, "job", check=True, id=int(waiting), state="canceled")
    assert planned["changed"] is True and _job_status(gnt, waiting) in ("queued", "waiting")
    assert planned["diff"]["after"] == {"id": int(waiting), "status": "canceled"}
    done = _diff(env, "job", id=int(waiting), state="canceled")
    assert done["changed"] is True and done["diff"]["before"]["status"] in ("queued", "waiting")
    assert _job_status(gnt, waiting) == "canceled"
    assert _ok(env, "job", id=int(waiting), state="canceled")["changed"] is False
    for attempt in (1, 2):      # waiting for a job changes nothing, however often
        result = _diff(env, "job", id=int(busy))
        assert result["changed"] is False and not result.get("diff"), attempt
        assert result["job"]["status"] == "success"


def _node_group(gnt, node: str) -> str:
    return gnt.run("gnt-node", "list", "--no-headers", "-o", "group", node).stdout.strip()


def test_tag_module_twice_check_and_diff(env) -> None:
    gnt = env[0]
    tag = {"kind": "cluster", "tags": ["env:test"]}
    planned = _diff(env, "tag", check=True, **tag)
    assert planned["changed"] is True and "env:test" in planned["diff"]["after"]["tags"]
    assert "env:test" not in planned["diff"]["before"]["tags"]
    assert "env:test" not in gnt.config()["cluster"]["tags"]
    done = _diff(env, "tag", **tag)
    assert "env:test" in done["tags"] and "env:test" in done["diff"]["after"]["tags"]
    assert "env:test" in gnt.config()["cluster"]["tags"]
    assert _ok(env, "tag", **tag)["changed"] is False
    assert _ok(env, "tag", state="absent", check=True, **tag)["changed"] is True
    assert "env:test" in gnt.config()["cluster"]["tags"]
    assert _ok(env, "tag", state="absent", **tag)["changed"] is True
    assert _ok(env, "tag", state="absent", **tag)["changed"] is False
    assert "env:test" not in gnt.config()["cluster"]["tags"]
    ok, result = _module(env, "tag", kind="instance", tags=["a"])
    assert not ok and "name" in result["msg"]


def test_group_module_twice_check_and_diff(env) -> None:
    gnt = env[0]

    def groups() -> dict[str, str]:
        out = gnt.run("gnt-group", "list", "--no-headers", "-o", "name,alloc_policy").stdout
        return dict(line.split() for line in out.splitlines())

    group = {"name": "rack2", "alloc_policy": "last_resort"}
    planned = _diff(env, "group", check=True, **group)
    assert planned["changed"] is True and "rack2" not in groups()
    assert planned["diff"]["before"] == {"state": "absent"}
    assert planned["diff"]["after"]["alloc_policy"] == "last_resort"
    done = _diff(env, "group", **group)
    assert done["changed"] is True and groups()["rack2"] == "last_resort"
    assert done["diff"]["after"]["state"] == "present"
    assert _ok(env, "group", **group)["changed"] is False
    planned = _diff(env, "group", check=True, name="rack2", alloc_policy="preferred")
    assert planned["changed"] is True and groups()["rack2"] == "last_resort"
    assert (planned["diff"]["before"]["alloc_policy"], planned["diff"]["after"]["alloc_policy"]) \
        == ("last_resort", "preferred")
    changed = _ok(env, "group", name="rack2", alloc_policy="preferred")
    assert changed["changed"] is True and changed["group"]["alloc_policy"] == "preferred"
    assert groups()["rack2"] == "preferred"


def test_node_module_twice_check_and_diff(env) -> None:
    gnt = env[0]
    master = gnt.run("gnt-cluster", "getmaster").stdout.strip()
    assert _ok(env, "node", name=master, vm_capable=True)["changed"] is False
    planned = _diff(env, "node", check=True, name=master, group="rack2")
    assert planned["changed"] is True and _node_group(gnt, master) == "default"
    assert (planned["diff"]["before"]["group"], planned["diff"]["after"]["group"]) == \
        ("default", "rack2")
    assert planned["diff"]["after"]["primary_instances"] == [NAME]
    done = _diff(env, "node", name=master, group="rack2")
    assert done["changed"] is True and _node_group(gnt, master) == "rack2"
    assert done["diff"]["after"]["group"] == "rack2"
    assert _ok(env, "node", name=master, group="rack2")["changed"] is False
    # nothing runs there: a migrate is no change, in check mode neither
    assert _diff(env, "node", check=True, name=master, state="migrated")["changed"] is False
    assert _ok(env, "node", name=master, group="default")["changed"] is True
    assert _node_group(gnt, master) == "default"
    assert _ok(env, "group", name="rack2", state="absent", check=True)["changed"] is True
    assert "rack2" in gnt.run("gnt-group", "list", "--no-headers", "-o", "name").stdout
    assert _ok(env, "group", name="rack2", state="absent")["changed"] is True
    assert _ok(env, "group", name="rack2", state="absent")["changed"] is False
    ok, result = _module(env, "node", name=master, role="regular")
    assert not ok and "master-failover" in result["msg"]
    ok, result = _module(env, "node", name="ghost.modules.example", role="drained")
    assert not ok and "ghost.modules.example" in result["msg"]


def test_network_module_twice_check_and_diff_and_instance_nics(env) -> None:
    gnt = env[0]
    net = {"name": "svc", "network": "198.18.5.0/29", "gateway": "198.18.5.1",
           "reserved_ips": ["198.18.5.2"],
           "groups": [{"name": "default", "mode": "bridged", "link": "gnt-br9"}]}

    def networks() -> dict:
        return {n["name"]: n for n in gnt.config()["networks"].values()}

    planned = _diff(env, "network", check=True, **net)
    assert planned["changed"] is True and "svc" not in networks()
    assert planned["diff"]["before"] == {"state": "absent"}
    assert planned["diff"]["after"]["groups"] == {
        "default": {"mode": "bridged", "link": "gnt-br9", "vlan": ""}}
    done = _diff(env, "network", **net)
    assert done["changed"] is True and networks()["svc"]["network"] == "198.18.5.0/29"
    assert "198.18.5.2" in done["diff"]["after"]["reserved_ips"]
    assert done["diff"]["after"]["groups"]["default"]["link"] == "gnt-br9"
    assert _ok(env, "network", **net)["changed"] is False
    changed = _ok(env, "network", name="svc", mac_prefix="aa:00:05")
    assert changed["changed"] is True and networks()["svc"]["mac_prefix"] == "aa:00:05"
    ok, result = _module(env, "network", name="svc", network="198.18.6.0/29")
    assert not ok and "cannot change" in result["msg"]
    # an instance NIC in the network: the pool's first free address, the group's link
    gnt.run("gnt-instance", "modify", "--net", "-1:add,ip=pool,network=svc", NAME)
    nic = gnt.config()["instances"]
    nic = [n for i in nic.values() for n in i["nics"] if n.get("network")][0]
    assert nic["ip"] == "198.18.5.3" and nic["nicparams"]["link"] == "gnt-br9"
    assert nic["mac"].startswith("aa:00:05:")
    ok, result = _module(env, "network", name="svc", state="absent")
    assert not ok and "svc" in networks()
    gnt.run("gnt-instance", "modify", "--net", "-1:remove", NAME)
    assert _ok(env, "network", name="svc", state="absent", check=True)["changed"] is True
    assert "svc" in networks()
    assert _ok(env, "network", name="svc", state="absent")["changed"] is True
    assert _ok(env, "network", name="svc", state="absent")["changed"] is False
    assert "svc" not in networks()


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
    planned = _diff(env, "export", check=True, name=name, node=master)
    assert planned["changed"] is True and name not in gnt.run("gnt-backup", "list").stdout
    assert not (gnt.root / "srv/gnt/export" / name).exists()
    assert planned["diff"]["before"] == planned["diff"]["after"]
    exported = _ok(env, "export", name=name, node=master)
    assert exported["changed"] is True and len(exported["jobs"]) == 1
    assert name in gnt.run("gnt-backup", "list").stdout
    assert _ok(env, "instance", name=name, state="absent")["changed"] is True
    checks = {"name_check": False, "ip_check": False}
    planned = _diff(env, "export", check=True, name=name, node=master, state="imported",
                    **checks)
    assert planned["changed"] is True and name not in gnt.instances()
    assert planned["diff"]["before"] == {"state": "absent"}
    assert planned["diff"]["after"]["state"] == "stopped"
    imported = _diff(env, "export", name=name, node=master, state="imported", **checks)
    assert imported["changed"] is True and imported["instance"]["disk.sizes"] == [32]
    assert imported["diff"]["before"] == {"state": "absent"}
    assert imported["diff"]["after"]["disk_sizes"] == [32] and name in gnt.instances()
    again = _ok(env, "export", name=name, node=master, state="imported", **checks)
    assert again["changed"] is False
    assert _ok(env, "instance", name=name, state="absent")["changed"] is True
