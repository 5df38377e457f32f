"""gnt-cluster, gnt-os, gnt-debug, and things every command shares (help, errors)."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

import gnt.admin
from gnt.cli import cluster, debug, instance, job, node
from gnt.cli import os as gnt_os
from gnt.core.errors import GntError, MasterNotRunning

MODULES = (cluster, node, instance, job, gnt_os, debug)


@pytest.fixture
def bootstrap(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in ``gnt.admin.bootstrap`` recording its calls."""
    module = types.ModuleType("gnt.admin.bootstrap")
    module.calls = []  # type: ignore[attr-defined]

    def init_cluster(**kw: Any) -> None:
        module.calls.append(("init", kw))  # type: ignore[attr-defined]

    def destroy_cluster(**kw: Any) -> None:
        module.calls.append(("destroy", kw))  # type: ignore[attr-defined]

    module.init_cluster = init_cluster  # type: ignore[attr-defined]
    module.destroy_cluster = destroy_cluster  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gnt.admin.bootstrap", module)
    monkeypatch.setattr(gnt.admin, "bootstrap", module, raising=False)
    return module


def test_every_command_has_help(capsys: pytest.CaptureFixture) -> None:
    for module in MODULES:
        parser = module.build_parser()
        subs = next(a for a in parser._actions if a.dest == "command")
        for name in subs.choices:
            with pytest.raises(SystemExit) as exc:
                run_cli(module, [name, "--help"])
            assert exc.value.code == 0, (module.__name__, name)
    capsys.readouterr()


def test_usage_errors_exit_as_ganeti(capsys: pytest.CaptureFixture) -> None:
    # Ganeti checks the argument count itself: message on stderr, exit 1 (not argparse's 2)
    assert run_cli(instance, ["remove"]) == 1
    assert capsys.readouterr().err == "Error: Command remove expects 1 argument(s)\n"
    assert run_cli(instance, []) == 1  # no command: usage, failure
    capsys.readouterr()


def test_init(fake: FakeClient, bootstrap: types.ModuleType) -> None:
    argv = ["init", "--master-netdev", "gnt-br0", "--enabled-hypervisors", "kvm",
            "--enabled-disk-templates", "file,sharedfile", "-H", "kvm:accel=tcg",
            "-B", "memory=256", "-N", "link=br1", "-C", "5", "-m", "aa:00:00",
            "--no-etc-hosts", "--no-ssh-init", "-s", "198.18.0.1", "--vg-name", "xenvg",
            "--file-storage-dir", "/srv/f", "cluster.example"]
    assert run_cli(cluster, argv) == 0
    ((what, kw),) = bootstrap.calls
    assert what == "init"
    assert kw["feedback"] is print
    del kw["feedback"]
    assert kw == {
        "cluster_name": "cluster.example", "master_netdev": "gnt-br0",
        "enabled_hypervisors": ["kvm"], "enabled_disk_templates": ["file", "sharedfile"],
        "file_storage_dir": "/srv/f", "hvparams": {"kvm": {"accel": "tcg"}},
        "beparams": {"maxmem": 256, "minmem": 256}, "nicparams": {"link": "br1"},
        "candidate_pool_size": 5, "mac_prefix": "aa:00:00", "vg_name": "xenvg",
    }
    assert fake.calls == []


def test_init_failure(bootstrap: types.ModuleType, capsys: pytest.CaptureFixture) -> None:
    def fail(**kw: Any) -> None:
        raise GntError("Cluster is already initialised")

    bootstrap.init_cluster = fail  # type: ignore[attr-defined]
    assert run_cli(cluster, ["init", "c1"]) == 1
    assert capsys.readouterr().err == "Failure: Cluster is already initialised\n"


def test_destroy(bootstrap: types.ModuleType, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(cluster, ["destroy"]) == 1
    assert capsys.readouterr().err == (
        "Destroying a cluster is irreversible. If you really want destroy this cluster,"
        " supply the --yes-do-it option.\n")
    assert bootstrap.calls == []
    assert run_cli(cluster, ["destroy", "--yes-do-it"]) == 0
    assert bootstrap.calls == [("destroy", {"feedback": print})]


def test_queue_and_master(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers.update({"set_drain_flag": None, "query_queue_info": {"drained": True},
                          "get_master": "node1"})
    assert run_cli(cluster, ["queue", "drain"]) == 0
    assert run_cli(cluster, ["queue", "info"]) == 0
    assert run_cli(cluster, ["queue", "undrain"]) == 0
    assert run_cli(cluster, ["getmaster"]) == 0
    assert capsys.readouterr().out == "The drain flag is set\nnode1\n"
    assert [a for m, a in fake.calls if m == "set_drain_flag"] == [
        {"drained": True}, {"drained": False}]


def test_verify_modify_tags(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", {"ok": False})
    assert run_cli(cluster, ["verify"]) == 1
    fake.outcome = ("success", True)
    assert run_cli(cluster, ["verify", "--error-codes"]) == 0
    assert run_cli(cluster, ["modify", "-B", "vcpus=2", "-H", "kvm:accel=default",
                             "--enabled-disk-templates", "file", "-I", "hail"]) == 0
    assert run_cli(cluster, ["modify"]) == 1
    fake.outcome = ("success", ["t2", "t1"])
    assert run_cli(cluster, ["list-tags"]) == 0
    assert run_cli(cluster, ["add-tags", "t1", "t2"]) == 0
    assert run_cli(cluster, ["remove-tags"]) == 1
    out, err = capsys.readouterr()
    assert out == "t1\nt2\n"
    assert "Please give at least one of the parameters." in err
    assert "No tags to be removed" in err
    v1, v2, mod, get, add = fake.submitted_ops()
    assert v1["OP_ID"] == "OP_CLUSTER_VERIFY" and v2["error_codes"] is True
    assert mod["OP_ID"] == "OP_CLUSTER_SET_PARAMS"
    assert mod["beparams"] == {"vcpus": 2} and mod["hvparams"] == {"kvm": {"accel": None}}
    assert mod["enabled_disk_templates"] == ["file"] and mod["default_iallocator"] == "hail"
    assert mod["nicparams"] is None
    assert (get["kind"], get["name"]) == ("cluster", None)
    assert (add["OP_ID"], add["tags"]) == ("OP_TAGS_SET", ["t1", "t2"])


def test_cluster_info(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["cluster_info"] = {
        "name": "cluster.example", "uuid": "c-uuid", "ctime": 1256516568, "mtime": 1256516568,
        "master": "node1", "architecture": ["64bit", "x86_64"], "tags": ["foo"],
        "default_hypervisor": "kvm", "enabled_hypervisors": ["kvm"],
        "hvparams": {"kvm": {"accel": "tcg"}}, "beparams": {"maxmem": 128},
        "nicparams": {"mode": "bridged", "link": "gnt-br0"}, "candidate_pool_size": 10,
        "enabled_disk_templates": ["file", "sharedfile"],
        "file_storage_dir": "/srv/gnt/file-storage",
    }
    assert run_cli(cluster, ["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Cluster name: cluster.example\nCluster UUID: c-uuid\n"
        "Creation time: 2009-10-26 00:22:48\nModification time: 2009-10-26 00:22:48\n"
        "Master node: node1\nArchitecture (this node): 64bit (x86_64)\nTags: foo\n"
        "Default hypervisor: kvm\nEnabled hypervisors: kvm\n"
        "Hypervisor parameters: \n  kvm: \n    accel: tcg\n")
    assert "  candidate pool size: 10\n" in out
    assert "  enabled disk templates: file, sharedfile\n" in out
    assert "  file storage path: /srv/gnt/file-storage\n" in out
    assert out.endswith("Default instance parameters: \n  default: \n    maxmem: 128\n"
                        "Default nic parameters: \n  default: \n    link: gnt-br0\n"
                        "    mode: bridged\n")


def test_version(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["cluster_info"] = {"software_version": gnt.__version__, "config_version": 1}
    assert run_cli(cluster, ["version"]) == 0
    assert capsys.readouterr().out.startswith(f"Software version: {gnt.__version__}\n")


def test_master_not_running(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture) -> None:
    class Dead:
        def call(self, method: str, **args: Any) -> Any:
            raise MasterNotRunning("Cannot communicate with the master daemon at /x")

    monkeypatch.setattr(cluster.common, "get_client", Dead)
    assert run_cli(cluster, ["getmaster"]) == 1
    assert capsys.readouterr().err == "Cannot communicate with the master daemon at /x\n"
    assert run_cli(cluster, ["getmaster", "-d"]) == 1
    assert "Traceback" in capsys.readouterr().err


DIAG = [
    {"name": "tinylinux", "node": "node2", "path": "/srv/gnt/os/tinylinux", "valid": True,
     "error": "", "api_versions": [20], "variants": []},
    {"name": "tinylinux", "node": "node1", "path": "/srv/gnt/os/tinylinux", "valid": True,
     "error": "", "api_versions": [20], "variants": []},
    {"name": "tinylinux", "node": "node1", "path": "/usr/share/ganeti/os/tinylinux",
     "valid": False, "error": "missing create script", "api_versions": [], "variants": []},
    {"name": "debootstrap", "node": "node1", "path": "/srv/gnt/os/debootstrap",
     "valid": False, "error": "missing create script", "api_versions": [15],
     "variants": ["default"]},
]


def test_os_diagnose_and_list(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", DIAG)
    assert run_cli(gnt_os, ["diagnose"]) == 1
    assert capsys.readouterr().out == """\
OS: debootstrap [global status: invalid]
  Variants: [default]
  Node: node1, status: invalid - missing create script (path: /srv/gnt/os/debootstrap) \
[API versions: 15] [variants: default]

OS: tinylinux [global status: valid]
  Node: node1, status: valid (path: /srv/gnt/os/tinylinux) [API versions: 20] \
[no variants] [no parameters]
    [hidden] path: /usr/share/ganeti/os/tinylinux, status: invalid - missing create script
  Node: node2, status: valid (path: /srv/gnt/os/tinylinux) [API versions: 20] \
[no variants] [no parameters]

"""
    assert fake.submitted_ops()[0]["OP_ID"] == "OP_OS_DIAGNOSE"
    fake.handlers["query"] = {"data": [["tinylinux"], ["noop"]]}
    assert run_cli(gnt_os, ["list"]) == 0
    assert run_cli(gnt_os, ["list", "--no-headers"]) == 0
    assert capsys.readouterr().out == "Name\nnoop\ntinylinux\nnoop\ntinylinux\n"

    def no_os_query(**_: Any) -> None:
        raise GntError("unknown query resource 'os'")

    fake.handlers["query"] = no_os_query
    assert run_cli(gnt_os, ["list"]) == 0
    assert capsys.readouterr().out == "Name\ntinylinux\n"


def test_debug_delay(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(debug, ["delay", "--no-master", "-n", "node1", "-n", "node2", "-r", "3",
                           "0.5"]) == 0
    assert run_cli(debug, ["delay", "--submit", "--priority", "low", "2"]) == 0
    assert capsys.readouterr().out == "JobID: 2\n"
    d1, d2 = fake.submitted_ops()
    assert (d1["duration"], d1["on_master"], d1["on_nodes"], d1["repeat"]) == (
        0.5, False, ["node1", "node2"], 3)
    assert (d2["duration"], d2["on_master"], d2["priority"]) == (2.0, True, 10)
    # as Ganeti's gnt-debug: locks are taken unless -l/--no-locks
    assert (d1["no_locks"], d2["no_locks"]) == (False, False)
    assert run_cli(debug, ["delay", "-l", "0"]) == 0
    assert fake.submitted_ops()[-1]["no_locks"] is True
    assert run_cli(debug, ["delay", "soon"]) == 1
    assert "Invalid duration 'soon'" in capsys.readouterr().err


def test_modify_ipolicy(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(cluster, ["modify", "--ipolicy-vcpu-ratio", "16",
                             "--ipolicy-disk-templates", "file"]) == 0
    (op,) = fake.submitted_ops()
    assert op["ipolicy"] == {"vcpu-ratio": 16.0, "disk-templates": ["file"]}
    fake.calls.clear()
    assert run_cli(cluster, ["modify", "--ipolicy-vcpu-ratio", "default"]) == 1
    assert "only resets a group's own value" in capsys.readouterr().err
    assert fake.calls == []


def test_disk_parameters_options_and_info(fake: FakeClient,
                                          capsys: pytest.CaptureFixture) -> None:
    """-D template:key=val (repeatable) is checked and sent per template; info prints the
    parameters per template after the nic parameters, as Ganeti."""
    fake.outcome = ("success", None)
    assert run_cli(cluster, ["modify", "-D", "drbd:resync-rate=1000,protocol=B,-metavg",
                             "--disk-parameters", "plain:stripes=2"]) == 0
    (mod,) = fake.submitted_ops()
    assert mod["diskparams"] == {"drbd": {"resync-rate": 1000, "protocol": "B",
                                          "metavg": "default"}, "plain": {"stripes": 2}}
    assert run_cli(cluster, ["modify", "-D", "nosuch:x=1"]) == 1
    assert run_cli(cluster, ["modify", "-D", "drbd:resync-rate=fast"]) == 1
    assert run_cli(cluster, ["modify", "-D", "plain:stripes=1", "-D", "plain:stripes=2"]) == 1
    err = capsys.readouterr().err
    assert "Unknown disk template 'nosuch'" in err
    assert "Invalid value for disk (drbd) parameter 'resync-rate'" in err
    assert "given twice" in err
    assert len(fake.submitted_ops()) == 1
    fake.handlers["cluster_info"] = {
        "name": "c", "enabled_hypervisors": ["kvm"], "hvparams": {}, "beparams": {},
        "nicparams": {}, "diskparams": {"diskless": {}, "plain": {"stripes": 1},
                                        "drbd": {"protocol": "C", "resync-rate": 61440}}}
    assert run_cli(cluster, ["info"]) == 0
    out = capsys.readouterr().out
    assert "Default disk parameters: \n  diskless: \n  drbd: \n    protocol: C\n" \
           "    resync-rate: 61440\n  plain: \n    stripes: 1\n" in out
    assert out.index("Default nic parameters") < out.index("Default disk parameters")


def test_init_disk_parameters(fake: FakeClient, bootstrap: types.ModuleType,
                              capsys: pytest.CaptureFixture) -> None:
    assert run_cli(cluster, ["init", "-D", "drbd:resync-rate=2048", "-D", "plain:stripes=2",
                             "cluster.example"]) == 0
    ((_what, kw),) = bootstrap.calls
    assert kw["diskparams"] == {"drbd": {"resync-rate": 2048}, "plain": {"stripes": 2}}
    assert run_cli(cluster, ["init", "-D", "drbd:-protocol", "cluster.example"]) == 1
    assert run_cli(cluster, ["init", "-D", "tape:speed=1", "cluster.example"]) == 1
    assert len(bootstrap.calls) == 1
    assert "Unknown disk template 'tape'" in capsys.readouterr().err


def test_bootstrap_stores_checked_disk_parameters() -> None:
    from gnt.admin import bootstrap as real
    from gnt.core.errors import OpPrereqError

    data = real.build_config("c.example", "198.18.0.1", "n1.example", "198.18.0.1", "",
                             ["kvm"], ["file"], "/srv/f", "/srv/s", {}, {}, {}, 10,
                             "aa:00:00", note=lambda msg: None,
                             diskparams={"drbd": {"resync-rate": "2048"}, "plain": {}})
    assert data["cluster"]["diskparams"] == {"drbd": {"resync-rate": 2048}}
    with pytest.raises(OpPrereqError, match="parameter 'protocol'"):
        real.build_config("c.example", "198.18.0.1", "n1.example", "198.18.0.1", "",
                          ["kvm"], ["file"], "/srv/f", "/srv/s", {}, {}, {}, 10,
                          "aa:00:00", note=lambda msg: None,
                          diskparams={"drbd": {"protocol": "Q"}})
