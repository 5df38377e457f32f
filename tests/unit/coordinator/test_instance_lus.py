"""Instance logical units with the recording executor and a fake hypervisor."""

import pytest

from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes.executor import _EventCollector, play_group, play_index

NAME = "inst1.example.com"
NODE1 = "node1.example.com"


def _create(cluster, **kw):
    params = {"instance_name": NAME, "disk_template": "file", "disks": [{"size": "1G"}],
              "os_type": "tinylinux", "pnode": "node1", "beparams": {"memory": "256M"}}
    params.update(kw)
    return cluster.run("OP_INSTANCE_CREATE", **params)


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"][0]


def test_create_start_and_roles(cluster):
    job = _create(cluster)
    assert job.status == SUCCESS, job.ops[0].result
    inst = cluster.master.config.lookup("instances", "inst1")
    assert inst["admin_state"] == "up"
    disk = cluster.master.config.instance_disks(inst)[0]
    assert disk["size"] == 1024
    assert disk["logical_id"][1].endswith(f"file-storage/{NAME}/disk0")
    assert cluster.executor.roles()[-2:] == ["instance_create", "instance_start"]
    spec = cluster.executor.calls[-1][0].hosts["node1.example.com"]["gnt_instance"]
    assert spec["beparams"]["maxmem"] == 256 and spec["memory"] == 256
    assert spec["nics"][0]["mac"].startswith("aa:00:00:")
    assert spec["nics"][0]["link"] == "gnt-br0"


def test_startup_uses_free_memory_between_min_and_max(cluster):
    assert _create(cluster, start=False, beparams={"maxmem": "1G", "minmem": "256M"}).status \
        == SUCCESS
    cluster.hv.free_mib = 600
    assert cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME).status == SUCCESS
    spec = cluster.executor.calls[-1][0].hosts["node1.example.com"]["gnt_instance"]
    assert spec["memory"] == 600
    cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME)
    cluster.hv.free_mib = 100
    msg = _error(cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME))
    assert "Not enough memory" in msg and "256" in msg


def test_shutdown_startup_reboot_rename_modify_remove(cluster):
    store = cluster.master.config
    assert _create(cluster).status == SUCCESS
    assert cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME, timeout=5).status == SUCCESS
    assert store.lookup("instances", NAME)["admin_state"] == "down"
    assert cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME).status == SUCCESS
    assert cluster.run("OP_INSTANCE_REBOOT", instance_name=NAME,
                       reboot_type="soft").status == SUCCESS
    assert cluster.executor.roles()[-1] == "instance_reboot"
    # rename needs the instance stopped
    assert "running" in _error(cluster.run("OP_INSTANCE_RENAME", instance_name=NAME,
                                           new_name="inst2.example.com"))
    cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME)
    assert cluster.run("OP_INSTANCE_RENAME", instance_name=NAME,
                       new_name="inst2.example.com").status == SUCCESS
    inst = store.lookup("instances", "inst2.example.com")
    assert store.instance_disks(inst)[0]["logical_id"][1].endswith("inst2.example.com/disk0")
    assert store.find("instances", NAME) is None
    job = cluster.run("OP_INSTANCE_SET_PARAMS", instance_name="inst2", beparams={"vcpus": "2"})
    assert job.status == SUCCESS
    assert store.lookup("instances", "inst2")["beparams"]["vcpus"] == 2
    assert cluster.run("OP_INSTANCE_REMOVE", instance_name="inst2").status == SUCCESS
    assert store.all("instances") == [] and store.data["disks"] == {}


def test_offline_instance_cannot_start(cluster):
    assert _create(cluster, start=False).status == SUCCESS
    assert cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                       offline=True).status == SUCCESS
    before = cluster.config_bytes()
    msg = _error(cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME))
    assert "offline" in msg and "--online" in msg
    assert cluster.config_bytes() == before
    assert cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                       offline=False).status == SUCCESS
    assert cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME).status == SUCCESS


@pytest.mark.parametrize("params, needle", [
    ({"os_type": "nosuchos"}, "nosuchos"),
    ({"disks": [{"size": "12Q"}]}, "12Q"),
    ({"pnode": "node9"}, "node9"),
    ({"disk_template": "plain"}, "plain"),
    ({"disk_template": "drbd"}, "drbd"),
    ({"beparams": {"vcpus": "many"}}, "vcpus"),
    ({"hvparams": {"accel": "warp"}}, "accel"),
    ({"instance_name": "bad_name!"}, "bad_name!"),
])
def test_bad_create_input_leaves_config_unchanged(cluster, params, needle):
    before = cluster.config_bytes()
    try:
        job = _create(cluster, **params)
    except Exception as err:  # refused at submission (opcode validation)
        assert needle in str(err)
    else:
        assert needle in _error(job)
    assert cluster.config_bytes() == before
    assert cluster.master.config.all("instances") == []


def test_duplicate_name_refused(cluster):
    assert _create(cluster).status == SUCCESS
    before = cluster.config_bytes()
    assert "already in the cluster" in _error(_create(cluster))
    assert cluster.config_bytes() == before


def test_failed_os_install_removes_half_created_instance(cluster):
    cluster.executor.fail_roles = {"instance_create": "create script exited with 1"}
    before_instances = cluster.master.config.all("instances")
    job = _create(cluster)
    assert "create script exited with 1" in _error(job)
    assert cluster.master.config.all("instances") == before_instances
    assert cluster.master.config.data["disks"] == {}
    assert cluster.executor.roles()[-1] == "instance_remove"


def test_runtime_memory_bounds(cluster):
    assert _create(cluster, beparams={"maxmem": "512M", "minmem": "256M"}).status == SUCCESS
    assert "outside" in _error(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                                           runtime_mem=128))
    assert cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME,
                       runtime_mem=300).status == SUCCESS
    assert cluster.executor.roles()[-1] == "instance_runtime_memory"


def test_tags_rules(cluster):
    assert _create(cluster, start=False).status == SUCCESS
    ok = cluster.run("OP_TAGS_SET", kind="instance", name=NAME, tags=["owner:user2", "a.b"])
    assert ok.status == SUCCESS
    assert cluster.run("OP_TAGS_GET", kind="instance", name="inst1").ops[0].result == \
        ["a.b", "owner:user2"]
    before = cluster.config_bytes()
    for bad in ["has space", "x" * 129, "semi;colon", ""]:
        with pytest.raises(Exception) as err:
            cluster.submit("OP_TAGS_SET", kind="instance", name=NAME, tags=[bad])
        assert "tag" in str(err.value).lower()
    assert cluster.config_bytes() == before
    assert "not found" in _error(cluster.run("OP_TAGS_DEL", kind="instance", name=NAME,
                                             tags=["nope"]))


@pytest.mark.parametrize("extra, text", [
    ({"file_storage_dir": "web"}, "--file-storage-dir web is not supported"),
    ({"file_driver": "blktap"}, "File driver 'blktap' is not supported"),
])
def test_unsupported_file_storage_options_are_refused(cluster, extra, text):
    before, plays = cluster.config_bytes(), len(cluster.executor.calls)
    assert text in _error(_create(cluster, **extra))
    assert cluster.config_bytes() == before and len(cluster.executor.calls) == plays


def test_file_driver_loop_is_what_file_disks_are(cluster):
    assert _create(cluster, file_driver="loop").status == SUCCESS


# --- add in one Ansible run (issue 11): the failed play decides what is undone --------------

def _runs(cluster, since):
    return [[play.role for play in plays] for plays in cluster.executor.calls[since:]]


def test_add_and_start_is_one_run(cluster):
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == SUCCESS, job.ops[0].result
    assert _runs(cluster, since) == [["instance_create", "instance_start"]]
    assert cluster.master.config.lookup("instances", NAME)["admin_state"] == "up"


def test_failed_start_keeps_the_created_instance(cluster):
    cluster.executor.fail_roles["instance_start"] = "domain did not start"
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == ERROR
    msg = job.ops[0].result["args"][0]
    assert "created but did not start" in msg and f"gnt-instance startup {NAME}" in msg
    assert "domain did not start" in msg
    assert _runs(cluster, since) == [["instance_create", "instance_start"]]   # no cleanup run
    assert cluster.master.config.lookup("instances", NAME)["admin_state"] == "down"


def test_failed_install_removes_the_instance(cluster):
    cluster.executor.fail_roles["instance_create"] = "OS create script failed"
    since = len(cluster.executor.calls)
    job = _create(cluster)
    assert job.status == ERROR and "OS create script failed" in job.ops[0].result["args"][0]
    assert _runs(cluster, since) == [["instance_create", "instance_start"], ["instance_remove"]]
    assert cluster.master.config.find("instances", NAME) is None


def test_diskless_without_start_runs_nothing(cluster):
    since = len(cluster.executor.calls)
    job = _create(cluster, disk_template="diskless", disks=[], start=False)
    assert job.status == SUCCESS and _runs(cluster, since) == []


def test_events_say_which_play_failed():
    lines: list[str] = []
    collector = _EventCollector(lines.append)
    ok = {"event": "runner_on_ok",
          "event_data": {"host": NODE1, "task": "create", "play_pattern": play_group(0),
                         "res": {}}}
    failed = {"event": "runner_on_failed",
              "event_data": {"host": NODE1, "task": "start", "play_pattern": play_group(1),
                             "res": {"msg": "boom"}}}
    collector(ok)
    collector(failed)
    result = collector.hosts[NODE1]
    assert (result.ok, result.failed_play, result.message) == (False, 1, "boom")
    assert play_index("all") is None and play_index(play_group(12)) == 12


def test_startup_and_reboot_ask_the_node_once(cluster, monkeypatch):
    """Whether the instance runs and the node's free memory come from one node call (one SSH
    round trip on a node other than the master); a node that cannot be asked is named, with
    Ganeti's environment error code, and nothing changes."""
    from gnt.core.errors import ECODE_ENVIRON
    from gnt.nodes import live

    assert _create(cluster, start=False).status == SUCCESS
    asked: list[str] = []
    state = live.node_state
    monkeypatch.setattr(live, "node_state", lambda store, node: (asked.append("state"),
                                                                 state(store, node))[1])
    monkeypatch.setattr(live, "node_domains", lambda store, node: asked.append("domains"))
    for op, extra in (("OP_INSTANCE_STARTUP", {}), ("OP_INSTANCE_REBOOT", {"reboot_type": "hard"}),
                      ("OP_INSTANCE_REBOOT", {"reboot_type": "soft"})):
        asked.clear()
        assert cluster.run(op, instance_name=NAME, **extra).status == SUCCESS
        assert asked == ["state"], op

    def down(store, node):
        raise live.NodeDown(f"{node['name']}: ssh: connect to host: No route to host")

    cluster.run("OP_INSTANCE_SHUTDOWN", instance_name=NAME)
    monkeypatch.setattr(live, "node_state", down)
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_STARTUP", instance_name=NAME)
    assert _error(job) == (f"Cannot ask node {NODE1} about instance {NAME}: {NODE1}: ssh:"
                           " connect to host: No route to host")
    assert job.ops[0].result["args"][1] == ECODE_ENVIRON
    assert cluster.config_bytes() == before
