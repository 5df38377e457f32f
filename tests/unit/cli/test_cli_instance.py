"""gnt-instance: options -> opcodes, submission, confirmations, info output."""

from __future__ import annotations

from pathlib import Path

import pytest
from gntcli_fakes import FakeClient, rstripped, run_cli

from gnt.cli import instance
from gnt.core.errors import JobQueueDrainError

ADD = ["add", "-o", "tinylinux", "-t", "file", "--disk", "0:size=1G", "-B", "memory=256M",
       "-n", "node1", "inst1"]


def test_add_builds_instance_create(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ADD) == 0
    (op,) = fake.submitted_ops()
    assert op["OP_ID"] == "OP_INSTANCE_CREATE"
    expected = {
        "instance_name": "inst1", "mode": "create", "os_type": "tinylinux",
        "disk_template": "file", "disks": [{"size": 1024, "mode": "rw"}], "nics": [{}],
        "pnode": "node1", "snode": None, "iallocator": None, "start": True,
        "no_install": False, "wait_for_sync": True, "hypervisor": None, "hvparams": {},
        "beparams": {"maxmem": 256, "minmem": 256}, "osparams": {}, "tags": [],
        "file_storage_dir": None, "file_driver": None, "dry_run": False, "priority": 0,
        "_summary": "inst1", "opportunistic_locking": False,
    }
    for key, value in expected.items():
        assert op[key] == value, key
    method, args = fake.calls[0]
    assert method == "submit_job" and args["priority"] == 0
    assert "wait_for_job_change" in fake.methods()
    assert "query_jobs" in fake.methods()


def test_add_options(fake: FakeClient) -> None:
    argv = ["add", "-o", "tinylinux", "-t", "sharedfile", "--disk", "0:size=512",
            "--disk", "1:size=2g,mode=ro", "-H", "kvm:accel=tcg,serial_console=false",
            "-n", "node1:node2", "--net", "0:ip=198.18.0.50,link=br1", "--no-start",
            "--no-install", "--no-name-check", "--tags", "a,b", "-O", "k=v",
            "--priority", "high", "--dry-run", "--opportunistic-locking", "inst2"]
    assert run_cli(instance, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["disks"] == [{"size": 512, "mode": "rw"}, {"size": 2048, "mode": "ro"}]
    assert op["hypervisor"] == "kvm"
    assert op["hvparams"] == {"accel": "tcg", "serial_console": False}
    assert (op["pnode"], op["snode"]) == ("node1", "node2")
    assert op["nics"] == [{"ip": "198.18.0.50", "link": "br1"}]
    assert op["start"] is False and op["no_install"] is True
    assert op["name_check"] is False and op["ip_check"] is False
    assert op["tags"] == ["a", "b"] and op["osparams"] == {"k": "v"}
    assert op["priority"] == -10 and op["dry_run"] is True
    assert op["opportunistic_locking"] is True
    assert fake.calls[0][1]["priority"] == -10


def test_add_os_size_and_no_nics(fake: FakeClient) -> None:
    assert run_cli(instance, ["add", "-o", "x", "-t", "file", "-s", "1.5G", "--no-nics",
                              "-n", "n1", "i"]) == 0
    (op,) = fake.submitted_ops()
    assert op["disks"] == [{"size": 1536, "mode": "rw"}] and op["nics"] == []


def test_add_default_template_from_cluster(fake: FakeClient) -> None:
    fake.handlers["cluster_info"] = {"enabled_disk_templates": ["sharedfile", "file"]}
    assert run_cli(instance, ["add", "-o", "x", "-s", "1G", "-n", "n1", "i"]) == 0
    assert fake.submitted_ops()[0]["disk_template"] == "sharedfile"


def test_add_submit_prints_job_id(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ADD + ["--submit"]) == 0
    assert capsys.readouterr().out == "JobID: 1\n"
    assert fake.methods() == ["submit_job"]


@pytest.mark.parametrize("argv,needle", [
    (["--disk", "0:size=12Q"], "'12Q'"),
    (["-s", "12Q"], "'12Q'"),
    (["-s", "1G", "-B", "memory=lots"], "lots"),
    (["--disk", "0:mode=rw"], "Missing size"),
    (["--disk", "0:size=1G,speed=9"], "speed"),
    (["--disk", "0:size=1G", "-s", "1G"], "either"),
])
def test_add_bad_input_fails_before_submitting(fake: FakeClient, capsys: pytest.CaptureFixture,
                                               argv: list[str], needle: str) -> None:
    code = run_cli(instance, ["add", "-o", "x", "-t", "file", "-n", "n1", *argv, "i"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Failure: prerequisites not met for this operation:\n"
                          "error type: wrong_input, error details:\n")
    assert needle in err
    assert fake.calls == []


def test_add_diskless_rejects_disks(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["add", "-t", "diskless", "-s", "1G", "-n", "n", "i"]) == 1
    assert "Diskless instance but disk information passed" in capsys.readouterr().err


def test_drained_queue(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    def drained(**_: object) -> None:
        raise JobQueueDrainError("Job queue is drained, refusing job")

    fake.handlers["submit_job"] = drained
    fake.handlers["query"] = {"data": [["inst1"]]}
    assert run_cli(instance, ADD) == 1
    assert capsys.readouterr().err == ("Failed to submit job for inst1: Job queue is drained,"
                                       " refusing job\n")
    assert run_cli(instance, ["shutdown", "inst1"]) == 1
    assert capsys.readouterr().err == ("Failed to submit job for inst1: Job queue is drained,"
                                       " refusing job\n")


def test_job_failure_prereq(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("error", {"type": "OpPrereqError", "message": "Instance 'inst1' exists",
                              "args": ["Instance 'inst1' exists", "already_exists"]})
    assert run_cli(instance, ADD) == 1
    assert capsys.readouterr().err == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: already_exists, error details:\nInstance 'inst1' exists\n")


def test_job_failure_exec_and_log(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.log = ["* creating instance disks...", " - INFO: done"]
    fake.outcome = ("error", {"type": "OpExecError", "message": "disk creation failed",
                              "args": ["disk creation failed"]})
    assert run_cli(instance, ADD) == 1
    out, err = capsys.readouterr()
    assert out == ("Mon Oct 26 00:22:48 2009 * creating instance disks...\n"
                   "Mon Oct 26 00:22:48 2009  - INFO: done\n")
    assert err == "Failure: command execution error:\ndisk creation failed\n"


def test_startup_shutdown_reboot(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = lambda what, fields, names: {"data": [[n] for n in names]}
    assert run_cli(instance, ["startup", "inst1", "-B", "maxmem=512"]) == 0
    assert capsys.readouterr().out == "Waiting for job 1 for inst1 ...\n"
    assert run_cli(instance, ["shutdown", "--timeout", "30", "--no-remember", "inst1"]) == 0
    assert run_cli(instance, ["reboot", "--type", "soft", "inst1"]) == 0
    start, stop, reboot = fake.submitted_ops()
    assert start["OP_ID"] == "OP_INSTANCE_STARTUP" and start["beparams"] == {"maxmem": 512}
    assert stop["OP_ID"] == "OP_INSTANCE_SHUTDOWN"
    assert (stop["timeout"], stop["no_remember"]) == (30, True)
    assert reboot["reboot_type"] == "soft"


def test_shutdown_all_one_job_per_instance(fake: FakeClient,
                                           capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"data": [["a"], ["b"]]}
    assert run_cli(instance, ["shutdown", "--all", "--force-multiple"]) == 0
    assert fake.methods()[:2] == ["query", "submit_jobs"]
    jobs = fake.calls[1][1]["jobs"]
    assert [job[0]["instance_name"] for job in jobs] == ["a", "b"]
    out = capsys.readouterr().out
    assert out.startswith("Submitted jobs 1, 2\nWaiting for job 1 for a ...\n")


def test_multi_without_terminal_refuses(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"data": [["a"], ["b"]]}
    assert run_cli(instance, ["shutdown", "--all"]) == 1
    assert "--force-multiple" in capsys.readouterr().err
    assert fake.submitted_ops() == []


def test_shutdown_submit_single_and_multi(fake: FakeClient,
                                          capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = lambda what, fields, names: {"data": [[n] for n in names]}
    assert run_cli(instance, ["shutdown", "--submit", "a"]) == 0
    assert capsys.readouterr().out == "JobID: 1\n"
    assert run_cli(instance, ["shutdown", "--submit", "--force-multiple", "a", "b"]) == 0
    assert capsys.readouterr().out == "2: a\n3: b\n"


def test_remove_needs_force_without_terminal(fake: FakeClient,
                                             capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"data": [["inst1"]]}
    assert run_cli(instance, ["remove", "inst1"]) == 1
    err = capsys.readouterr().err
    assert "This will remove the volumes of the instance inst1" in err and "--force" in err
    assert fake.submitted_ops() == []
    assert run_cli(instance, ["remove", "-f", "--shutdown-timeout", "5", "inst1"]) == 0
    (op,) = fake.submitted_ops()
    assert (op["OP_ID"], op["shutdown_timeout"]) == ("OP_INSTANCE_REMOVE", 5)


def test_remove_asks_on_terminal(fake: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.handlers["query"] = {"data": [["inst1"]]}
    monkeypatch.setattr(instance.common, "ask_user", lambda question: True)
    assert run_cli(instance, ["remove", "inst1"]) == 0
    assert fake.submitted_ops()[0]["instance_name"] == "inst1"


def test_modify(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["be/maxmem", 512]])
    assert run_cli(instance, ["modify", "-B", "maxmem=512M,vcpus=default", "-H",
                              "accel=tcg", "--offline", "-m", "256", "inst1"]) == 0
    (op,) = fake.submitted_ops()
    assert op["OP_ID"] == "OP_INSTANCE_SET_PARAMS"
    assert op["beparams"] == {"maxmem": 512, "vcpus": None}
    assert op["hvparams"] == {"accel": "tcg"}
    assert (op["offline"], op["runtime_mem"]) == (True, 256)
    assert capsys.readouterr().out.startswith("Modified instance inst1\n - be/maxmem -> 512\n")
    assert run_cli(instance, ["modify", "inst1"]) == 1
    assert "at least one of the parameters" in capsys.readouterr().err


def test_modify_net_forms_as_ganeti(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["nic.1", "add:mac=aa:00:00:01:02:03,ip=198.18.5.2"]])
    argv = ["modify", "--net", "add:ip=pool,network=net1", "--net", "-1:add,name=eth9",
            "--net", "eth9:modify,mac=generate", "--net", "0:ip=none", "--net", "remove",
            "--net", "2:remove", "--no-conflicts-check", "inst1"]
    assert run_cli(instance, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["nics"] == [["add", -1, {"ip": "pool", "network": "net1"}],
                          ["add", -1, {"name": "eth9"}],
                          ["modify", "eth9", {"mac": "generate"}],
                          ["modify", 0, {"ip": "none"}],
                          ["remove", -1, {}], ["remove", 2, {}]]
    assert op["conflicts_check"] is False and op["hotplug_if_possible"] is True
    assert " - nic.1 -> add:mac=aa:00:00:01:02:03" in capsys.readouterr().out
    assert run_cli(instance, ["modify", "--net", "0:add,remove", "inst1"]) == 1
    assert "Cannot add and remove at the same time" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--net", "0:remove,ip=none", "inst1"]) == 1
    assert "Not accepting parameters on removal" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--net", "0:colour=red", "inst1"]) == 1
    assert "colour" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--net", "add", "--no-hotplug", "inst1"]) == 0
    assert fake.submitted_ops()[-1]["hotplug_if_possible"] is False


def test_modify_disk_forms_as_ganeti(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["disk/1", "add:size=1024,mode=rw"], ["disk/0", "remove"]])
    argv = ["modify", "--disk", "add:size=1G,mode=ro,name=data", "--disk", "1:add,size=512",
            "--disk", "-1:add,size=64,provider=pvd,pool=fast", "--disk", "0:mode=ro",
            "--disk", "data:modify,name=none", "--disk", "remove", "--disk", "2:remove",
            "--no-wait-for-sync", "inst1"]
    assert run_cli(instance, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["disks"] == [["add", -1, {"size": 1024, "mode": "ro", "name": "data"}],
                           ["add", 1, {"size": 512}],
                           ["add", -1, {"size": 64, "provider": "pvd", "pool": "fast"}],
                           ["modify", 0, {"mode": "ro"}],
                           ["modify", "data", {"name": "none"}],
                           ["remove", -1, {}], ["remove", 2, {}]]
    assert op["wait_for_sync"] is False and op["hotplug_if_possible"] is True
    assert op.get("nics") in (None, [])
    assert " - disk/1 -> add:size=1024,mode=rw\n - disk/0 -> remove" in capsys.readouterr().out
    assert run_cli(instance, ["modify", "--disk", "0:add,remove", "inst1"]) == 1
    assert "Cannot add and remove at the same time" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--disk", "0:remove,size=1", "inst1"]) == 1
    assert "Not accepting parameters on removal" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--disk", "add:size=lots", "inst1"]) == 1
    assert "Invalid disk size" in capsys.readouterr().err
    assert run_cli(instance, ["modify", "--disk", "1:attach,name=d1", "inst1"]) == 1
    assert "Disk modification 'attach' is not supported" in capsys.readouterr().err


def test_rename_checks_the_ip_as_ganeti_3_0(fake: FakeClient) -> None:
    fake.outcome = ("success", "new2.example.com")
    assert run_cli(instance, ["rename", "old1", "new2"]) == 0
    (op,) = fake.submitted_ops()
    assert (op["name_check"], op["ip_check"]) == (True, True)


def test_rename_and_tags(fake: FakeClient, capsys: pytest.CaptureFixture,
                         tmp_path: Path) -> None:
    fake.outcome = ("success", "new1")
    assert run_cli(instance, ["rename", "--no-name-check", "old1", "new1"]) == 0
    assert capsys.readouterr().out == "Instance 'old1' renamed to 'new1'\n"
    tagfile = tmp_path / "tags"
    tagfile.write_text("x\n\ny\n")
    fake.outcome = ("success", None)
    assert run_cli(instance, ["add-tags", "inst1", "a", "--from", str(tagfile)]) == 0
    fake.outcome = ("success", ["b", "a"])
    assert run_cli(instance, ["list-tags", "inst1"]) == 0
    assert capsys.readouterr().out == "a\nb\n"
    rename, add, get = fake.submitted_ops()
    assert (rename["new_name"], rename["name_check"], rename["ip_check"]) == ("new1", False, False)
    assert (add["OP_ID"], add["kind"], add["name"], add["tags"]) == (
        "OP_TAGS_SET", "instance", "inst1", ["a", "x", "y"])
    assert (get["OP_ID"], get["name"]) == ("OP_TAGS_GET", "inst1")


def test_bad_tag_rejected_locally(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["add-tags", "inst1", "bad tag"]) == 1
    assert "Invalid characters in tag 'bad tag'" in capsys.readouterr().err
    assert fake.calls == []


INFO = {
    "inst1": {
        "name": "inst1", "uuid": "u-1", "config_state": "up", "run_state": "running",
        "pnode": "node1", "snodes": [], "os": "tinylinux", "hypervisor": "kvm",
        "hvparams": {"accel": "tcg"}, "hv_actual": {"accel": "tcg", "boot_order": "disk"},
        "beparams": {}, "be_actual": {"maxmem": 256, "minmem": 256, "vcpus": 1},
        "osparams": {}, "os_actual": {}, "disk_template": "file",
        "disks": [{"iv_name": "disk/0", "size": 1024, "mode": "rw", "dev_type": "file",
                   "logical_id": ["loop", "/srv/gnt/file-storage/inst1/disk0"]}],
        "nics": [{"mac": "aa:00:00:11:22:33", "ip": None, "mode": "bridged",
                  "link": "gnt-br0"}],
        "tags": [], "ctime": 1256516568, "mtime": 1256516568.5, "serial_no": 3,
    },
}


def test_info(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", INFO)
    assert run_cli(instance, ["info", "inst1"]) == 0
    (op,) = fake.submitted_ops()
    assert (op["OP_ID"], op["instances"], op["static"]) == (
        "OP_INSTANCE_QUERY_DATA", ["inst1"], False)
    # Keys of nested blocks end in ": " as in Ganeti; compared without trailing blanks here.
    assert rstripped(capsys.readouterr().out) == """\
- Instance name: inst1
  UUID: u-1
  Serial number: 3
  Creation time: 2009-10-26 00:22:48
  Modification time: 2009-10-26 00:22:48
  State: configured to be up, actual state is running
  Nodes:
    - primary: node1
    - secondaries:
  Operating system: tinylinux
  Operating system parameters:
  Hypervisor: kvm
  Hypervisor parameters:
    accel: tcg
    boot_order: default (disk)
  Back-end parameters:
    maxmem: default (256)
    memory: default (256)
    minmem: default (256)
    vcpus: default (1)
  NICs:
    - nic/0:
      MAC: aa:00:00:11:22:33
      IP: None
      mode: bridged
      link: gnt-br0
  Disk template: file
  Disks:
    - disk/0: file, size 1.0G
      access mode: rw
      logical_id: ['loop', '/srv/gnt/file-storage/inst1/disk0']
      on primary: /srv/gnt/file-storage/inst1/disk0
"""


def test_info_needs_names_or_all(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["info"]) == 1
    assert "--all" in capsys.readouterr().err


def test_list(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fields = [{"name": "name", "title": "Instance", "kind": "text"},
              {"name": "hypervisor", "title": "Hypervisor", "kind": "text"},
              {"name": "os", "title": "OS", "kind": "text"},
              {"name": "pnode", "title": "Primary_node", "kind": "text"},
              {"name": "status", "title": "Status", "kind": "text"},
              {"name": "oper_ram", "title": "Memory", "kind": "unit"}]
    fake.handlers["query"] = {"fields": fields, "data": [
        ["inst1", "kvm", "tinylinux", "node1", "running", 256],
        ["instance2", "kvm", "tinylinux", "node1", "ADMIN_down", None]]}
    assert run_cli(instance, ["list"]) == 0
    assert capsys.readouterr().out == (
        "Instance  Hypervisor OS        Primary_node Status     Memory\n"
        "inst1     kvm        tinylinux node1        running      256M\n"
        "instance2 kvm        tinylinux node1        ADMIN_down      -\n")
    assert fake.calls[0] == ("query", {"what": "instance", "fields": [
        "name", "hypervisor", "os", "pnode", "status", "oper_ram"], "names": []})


def test_console(fake: FakeClient, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    log = tmp_path / "inst1.log"
    log.write_text("Linux version 6.1\nlogin: ")
    console = {"log": str(log), "uri": "qemu+tcp://198.18.0.1/system", "name": "inst1"}
    fake.handlers["query"] = {"data": [[console, True, None]]}
    assert run_cli(instance, ["console", "inst1"]) == 0
    assert capsys.readouterr().out == "Linux version 6.1\nlogin: "
    assert run_cli(instance, ["console", "--show-cmd", "inst1"]) == 0
    assert capsys.readouterr().out == "virsh -c qemu+tcp://198.18.0.1/system console inst1\n"
    fake.handlers["query"] = {"data": [[None, False, "node1"]]}
    assert run_cli(instance, ["console", "inst1"]) == 1
    assert "Instance inst1 is not running, can't get console" in capsys.readouterr().err
