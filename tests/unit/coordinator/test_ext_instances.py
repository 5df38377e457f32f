"""The ext disk template through the coordinator (issue 14): add with a provider and
ExtStorage parameters, the config's volumes, and the plays of start, shutdown, activate and
deactivate disks, grow-disk, failover and migration to any node, and remove; Ganeti's
refusals (missing provider, template not enabled) with the config unchanged.

Plays from the recording executor (vars checked against the roles' argument specs); the
provider's scripts run for real in tests/integration/test_ext_instances_lab.py.
"""

from __future__ import annotations

import re

import pytest
from multinode import add_node, install

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import nodevars, rpc

N2, N3 = "node2.example.com", "node3.example.com"
NAME = "ext1.example.com"


@pytest.fixture
def mn(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2 = hv
    monkeypatch.setattr(rpc, "ext_diagnose", lambda store, node, path: [
        {"name": "filevol", "path": f"{path[0]}/filevol", "valid": True, "error": "",
         "parameters": [["dir", "Directory holding the volume files"]]},
        {"name": "broken", "path": f"{path[0]}/broken", "valid": False,
         "error": "script 'attach' missing", "parameters": []}])
    job = cluster.run("OP_CLUSTER_SET_PARAMS",
                      enabled_disk_templates=["file", "sharedfile", "ext", "diskless"])
    assert job.status == SUCCESS, job.ops[0].log
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    add_node(cluster, N3, "198.18.0.13")
    return cluster


def _ok(job):
    assert job.status == SUCCESS, job.ops[0].result
    return job.ops[0].result


def _error(job) -> str:
    assert job.status == ERROR, job.ops[0].log
    return str(job.ops[0].result)


def _create(cluster, start=True, **disk):
    spec = {"size": "1G", "provider": "filevol", "dir": "/srv/vols", **disk}
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="ext",
                    disks=[spec], pnode=N2, no_install=True, start=start, name_check=False,
                    ip_check=False, beparams={"memory": "256M"}))
    return cluster.master.config.lookup("instances", NAME)


def _plays(cluster, since=0):
    return [(play.role, host) for plays in cluster.executor.calls[since:] for play in plays
            for host in play.hosts]


def test_add_records_provider_volume_and_params(mn):
    inst = _create(mn)
    [disk] = mn.master.config.instance_disks(inst)
    assert disk["dev_type"] == "ext"
    provider, volume = disk["logical_id"]
    assert provider == "filevol"
    assert re.fullmatch(r"[0-9a-f-]{36}\.ext\.disk0", volume)
    assert disk["params"] == {"provider": "filevol", "dir": "/srv/vols"}
    create = next(p for plays in mn.executor.calls for p in plays if p.role == "instance_create")
    spec = create.hosts[N2]["gnt_instance"]["disks"][0]
    assert spec["path"] == nodevars.disk_link(NAME, 0)
    assert spec["ext"] == {"index": 0, "name": volume, "provider": "filevol",
                           "params": {"dir": "/srv/vols"}, "size_mib": 1024,
                           "uuid": disk["uuid"], "cname": "", "link": spec["path"]}
    assert create.hosts[N2]["gnt_node"]["ext_search_path"][0].endswith("srv/gnt/extstorage")


def test_shutdown_detaches_and_activate_disks_attaches(mn):
    inst = _create(mn)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME))
    assert _plays(mn, since) == [("instance_stop", N2), ("instance_volumes", N2)]
    detach = mn.executor.calls[-1][-1].hosts[N2]
    assert detach["gnt_volumes_active"] is False
    assert [v["provider"] for v in detach["gnt_ext_volumes"]] == ["filevol"]
    since = len(mn.executor.calls)
    result = _ok(mn.run("OP_INSTANCE_ACTIVATE_DISKS", instance_name=NAME))
    assert result == [[N2, "disk/0", nodevars.disk_link(inst["name"], 0)]]
    assert _plays(mn, since) == [("instance_volumes", N2)]
    assert mn.executor.calls[-1][0].hosts[N2]["gnt_volumes_active"] is True
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_DEACTIVATE_DISKS", instance_name=NAME))
    assert _plays(mn, since) == [("instance_volumes", N2)]


def test_grow_disk_runs_the_grow_and_records_the_size(mn):
    inst = _create(mn)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_GROW_DISK", instance_name=NAME, disk=0, amount=512,
               wait_for_sync=False))
    assert ("instance_disk_grow", N2) in _plays(mn, since)
    [disk] = mn.master.config.instance_disks(inst)
    assert disk["size"] == 1536


def test_failover_to_any_node_detaches_then_starts_there(mn):
    _create(mn)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_FAILOVER", instance_name=NAME, target_node=N3,
               ignore_consistency=False))
    plays = _plays(mn, since)
    assert plays[:2] == [("instance_stop", N2), ("instance_volumes", N2)]
    assert ("instance_start", N3) in plays
    assert mn.master.config.lookup("instances", NAME)["primary_node"] == \
        mn.master.config.lookup("nodes", N3)["uuid"]


def test_migrate_attaches_on_target_first_and_detaches_on_source(mn):
    _create(mn)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_MIGRATE", instance_name=NAME, target_node=N3))
    plays = _plays(mn, since)
    assert plays == [("instance_volumes", N3), ("instance_migrate", N2),
                     ("instance_volumes", N2)]
    attach, _migrate = mn.executor.calls[since]
    assert attach.hosts[N3]["gnt_volumes_active"] is True
    assert mn.executor.calls[-1][0].hosts[N2]["gnt_volumes_active"] is False


def test_remove_runs_the_remove_role_with_the_volumes(mn):
    _create(mn)
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_REMOVE", instance_name=NAME))
    remove = [p for plays in mn.executor.calls[since:] for p in plays
              if p.role == "instance_remove"]
    assert remove and remove[0].hosts[N2]["gnt_instance"]["disks"][0]["ext"]["provider"] \
        == "filevol"
    assert mn.master.config.find("instances", NAME) is None


@pytest.mark.parametrize(("disk", "template", "message"), [
    ({"size": "1G"}, "ext", "Missing provider for template 'ext'"),
    ({"size": "1G", "provider": "filevol"}, "file",
     "The 'provider' option is only valid for the ext disk template, not file"),
    ({"size": "1G", "provider": "../x"}, "ext", "Invalid ExtStorage provider name '../x'"),
    ({"size": "1G", "provider": "filevol", "bad-name": "1"}, "ext",
     "Invalid ExtStorage parameter name 'bad-name'"),
    ({"size": "1G", "provider": "nosuch"}, "ext",
     "ExtStorage provider 'nosuch' (disk 0) not found on node node2.example.com"),
    ({"size": "1G", "provider": "broken"}, "ext",
     "ExtStorage provider 'broken' on node node2.example.com is not valid: script 'attach'"),
    ({"size": "1G", "provider": "filevol", "pool": "x"}, "ext",
     "ExtStorage parameter(s) pool (disk 0) not supported by provider 'filevol'"),
])
def test_bad_disks_refused_config_unchanged(mn, disk, template, message):
    before = mn.config_bytes()
    job = mn.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template=template,
                 disks=[disk], pnode=N2, no_install=True, start=False, name_check=False,
                 ip_check=False)
    assert message in _error(job)
    assert mn.config_bytes() == before


def test_ext_not_enabled_refused(mn):
    _ok(mn.run("OP_CLUSTER_SET_PARAMS", enabled_disk_templates=["file", "diskless"]))
    before = mn.config_bytes()
    job = mn.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="ext",
                 disks=[{"size": "1G", "provider": "filevol"}], pnode=N2, no_install=True,
                 start=False, name_check=False, ip_check=False)
    assert "Disk template 'ext' is not enabled in the cluster" in _error(job)
    assert mn.config_bytes() == before


def test_param_value_with_template_syntax_arrives_literally(mn):
    value = "{{ lookup('pipe', 'id') }}"
    inst = _create(mn, start=False, dir=value)
    [disk] = mn.master.config.instance_disks(inst)
    assert disk["params"]["dir"] == value
    create = next(p for plays in mn.executor.calls for p in plays if p.role == "instance_create")
    assert create.hosts[N2]["gnt_instance"]["disks"][0]["ext"]["params"]["dir"] == value


def test_cli_parse_disks_ext_params():
    from gnt.cli._params import parse_disks
    from gnt.core.errors import OpPrereqError

    [disk] = parse_disks(["0:size=1G,provider=filevol,dir=/srv/v"], None, "ext")
    assert disk["provider"] == "filevol" and disk["dir"] == "/srv/v"
    with pytest.raises(OpPrereqError, match="Missing provider for disk 0"):
        parse_disks(["0:size=1G,dir=/srv/v"], None, "ext")
    with pytest.raises(OpPrereqError, match="Unknown disk parameter"):
        parse_disks(["0:size=1G,dir=/srv/v"], None, "plain")


def test_ext_storage_diagnose_rows(mn):
    rows = _ok(mn.run("OP_EXT_STORAGE_DIAGNOSE", output_fields=["name", "node_status",
                                                                "nodegroup_status",
                                                                "parameters"], names=[]))
    by_name = {row[0]: row for row in rows}
    assert sorted(by_name) == ["broken", "filevol"]
    _name, nodes, groups, parameters = by_name["filevol"]
    assert nodes[N2][0][1] is True and nodes[N2][0][3] == parameters
    assert parameters == [["dir", "Directory holding the volume files"]]
    assert list(groups.values()) == [True]
    assert list(by_name["broken"][2].values()) == [False]
    job = mn.run("OP_EXT_STORAGE_DIAGNOSE", output_fields=["bogus"], names=[])
    assert "Unknown output fields selected: bogus" in _error(job)


def test_reinstall_attaches_then_detaches(mn):
    _create(mn, start=False)
    _ok(mn.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME))
    since = len(mn.executor.calls)
    _ok(mn.run("OP_INSTANCE_REINSTALL", instance_name=NAME, os_type="tinylinux"))
    assert _plays(mn, since) == [("instance_volumes", N2), ("instance_reinstall", N2),
                                 ("instance_volumes", N2)]


def _export(cluster, **over):
    since = len(cluster.executor.calls)
    cluster.executor.facts["instance_export"] = {"gnt_export_result": {"msg": "", "disks": [
        {"index": 0, "ok": True, "method": "raw", "bytes": 1 << 30, "duration_s": 1.0}]}}
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=NAME, target_node=N3, **over)
    return job, since


def _volumes_active(cluster, since):
    return [play.hosts[N2]["gnt_volumes_active"] for plays in cluster.executor.calls[since:]
            for play in plays if play.role == "instance_volumes"]


def test_export_of_a_stopped_instance_attaches_then_detaches(mn):
    inst = _create(mn, start=False)
    job, since = _export(mn)
    assert _ok(job) == [True, [True]]
    roles = [role for role, _host in _plays(mn, since)]
    assert roles[:3] == ["instance_volumes", "instance_export", "instance_volumes"], roles
    assert _volumes_active(mn, since) == [True, False]      # as it was: detached
    export = next(play for plays in mn.executor.calls[since:] for play in plays
                  if play.role == "instance_export")
    # read through the attached volume's link, as the domain would
    assert export.hosts[N2]["gnt_instance"]["disks"][0]["path"] == \
        nodevars.disk_link(inst["name"], 0)


def test_export_of_a_running_instance_stops_copies_and_restarts(mn):
    _create(mn, start=True)
    job, since = _export(mn)
    assert _ok(job) == [True, [True]]
    roles = [role for role, _host in _plays(mn, since)]
    assert roles[:4] == ["instance_stop", "instance_volumes", "instance_export",
                         "instance_start"], roles
    assert _volumes_active(mn, since) == [True]              # the start keeps them attached


def test_export_without_shutdown_refused_for_ext(mn):
    _create(mn, start=True)
    serial = mn.master.config.data["serial_no"]
    job, since = _export(mn, shutdown=False)
    message = _error(job)
    assert "ExtStorage disks" in message and "drop --noshutdown" in message, message
    assert _plays(mn, since) == [] and mn.master.config.data["serial_no"] == serial
