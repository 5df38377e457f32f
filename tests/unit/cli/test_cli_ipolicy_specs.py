"""--ipolicy-bounds-specs / --ipolicy-std-specs (gnt-cluster, gnt-group), the deprecated
--specs-* of gnt-cluster init and how info shows the bounds; --ignore-ipolicy of the instance
commands and of gnt-node migrate."""

from __future__ import annotations

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import cluster, group, instance, node
from gnt.opcodes import ipolicy

MIN = "cpu-count=1,disk-count=1,disk-size=32M,memory-size=64M,nic-count=0,spindle-use=0"
MAX = "cpu-count=4,disk-count=4,disk-size=4G,memory-size=1G,nic-count=4,spindle-use=8"
SPEC_MIN = {"cpu-count": 1, "disk-count": 1, "disk-size": 32, "memory-size": 64,
            "nic-count": 0, "spindle-use": 0}
SPEC_MAX = {"cpu-count": 4, "disk-count": 4, "disk-size": 4096, "memory-size": 1024,
            "nic-count": 4, "spindle-use": 8}


def test_cluster_modify_bounds_and_std(fake: FakeClient) -> None:
    assert run_cli(cluster, ["modify", "--ipolicy-bounds-specs",
                             f"min:{MIN}/max:{MAX}//min:{MIN}/max:{MIN}",
                             "--ipolicy-std-specs", "memory-size=128M,cpu-count=2"]) == 0
    (op,) = fake.submitted_ops()
    assert op["ipolicy"] == {"minmax": [{"min": SPEC_MIN, "max": SPEC_MAX},
                                        {"min": SPEC_MIN, "max": SPEC_MIN}],
                             "std": {"memory-size": 128, "cpu-count": 2}}


@pytest.mark.parametrize("argv, text", [
    (["--ipolicy-bounds-specs", f"min:{MIN}"], "Missing instance specification: max"),
    (["--ipolicy-bounds-specs", f"min:{MIN}/max:cpu-count=2"],
     "Missing parameters in ipolicy spec max: disk-count, disk-size"),
    (["--ipolicy-bounds-specs", f"min:{MAX}/max:{MIN}"],
     "Invalid specification of min/max values for cpu-count: 4/1"),
    (["--ipolicy-bounds-specs", f"min:{MIN}/max:{MAX},foo=2"],
     "Unknown instance spec parameter(s) foo in max"),
    (["--ipolicy-bounds-specs", f"min:{MIN}//max:{MAX}"], "Missing instance specification"),
    (["--ipolicy-bounds-specs", f"min:{MIN}/min:{MIN}"], "Duplicated parameter 'min'"),
    (["--ipolicy-bounds-specs", f"min:{MIN}/"], "Empty section in option"),
    (["--ipolicy-bounds-specs", "default"], "Can't unset ipolicy attribute 'minmax'"),
    (["--ipolicy-std-specs", "memory-size=big"], "Invalid value 'big' for memory-size"),
])
def test_cluster_modify_bad_specs_refused_before_submitting(
        fake: FakeClient, capsys: pytest.CaptureFixture, argv: list[str], text: str) -> None:
    assert run_cli(cluster, ["modify", *argv]) == 1
    assert text in capsys.readouterr().err
    assert fake.submitted_ops() == []


@pytest.fixture
def init_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The keyword arguments of each cluster bootstrap gnt-cluster init asks for."""
    from gnt.admin import bootstrap

    called: list[dict] = []
    monkeypatch.setattr(bootstrap, "init_cluster", lambda **kw: called.append(kw))
    return called


def test_cluster_init_checks_std_against_the_bounds(capsys: pytest.CaptureFixture,
                                                    init_calls: list[dict]) -> None:
    called = init_calls
    assert run_cli(cluster, ["init", "--ipolicy-bounds-specs", f"min:{MIN}/max:{MAX}",
                             "--ipolicy-std-specs", "memory-size=2G", "cluster.example"]) == 1
    err = capsys.readouterr().err
    assert "Invalid std specifications" in err and not called
    assert run_cli(cluster, ["init", "--ipolicy-bounds-specs", f"min:{MIN}/max:{MAX}",
                             "--ipolicy-std-specs", "disk-size=1G,spindle-use=1",
                             "cluster.example"]) == 0
    assert called[0]["ipolicy"]["std"] == {"disk-size": 1024, "spindle-use": 1}


def test_cluster_init_deprecated_split_specs(init_calls: list[dict]) -> None:
    """Ganeti's --specs-*: one min/max pair, the bounds not given built-in, std as given."""
    assert run_cli(cluster, ["init", "--specs-mem-size", "min=64M,max=1G,std=128M",
                             "--specs-cpu-count", "max=4", "--specs-disk-size", "std=2G",
                             "cluster.example"]) == 0
    assert init_calls[0]["ipolicy"] == {
        "minmax": [{"min": dict(ipolicy.DEFAULT_MIN, **{"memory-size": 64}),
                    "max": dict(ipolicy.DEFAULT_MAX, **{"memory-size": 1024, "cpu-count": 4})}],
        "std": {"memory-size": 128, "disk-size": 2048}}


@pytest.mark.parametrize("argv, text", [
    (["--specs-mem-size", "max=1G", "--ipolicy-bounds-specs", f"min:{MIN}/max:{MAX}"],
     "A --specs-xxx option cannot be specified together with any --ipolicy-xxx-specs option"),
    (["--specs-nic-count", "max=2", "--ipolicy-std-specs", "nic-count=1"],
     "A --specs-xxx option cannot be specified together with any --ipolicy-xxx-specs option"),
    (["--specs-cpu-count", "avg=2"],
     "Unknown parameter 'avg' in the cpu-count specs (valid: min, max, std)"),
    (["--specs-mem-size", "min=big"], "Invalid value 'big' for memory-size in min instance"),
    (["--specs-disk-count", "min=3,max=2"],
     "Invalid specification of min/max values for disk-count: 3/2"),
    (["--specs-mem-size", "max=256M,std=512M"], "Invalid std specifications"),
])
def test_cluster_init_bad_split_specs_refused(capsys: pytest.CaptureFixture,
                                              init_calls: list[dict], argv: list[str],
                                              text: str) -> None:
    assert run_cli(cluster, ["init", *argv, "cluster.example"]) == 1
    assert text in capsys.readouterr().err and init_calls == []


@pytest.mark.parametrize("module, argv", [
    (cluster, ["modify", "--specs-mem-size", "max=1G"]),
    (group, ["add", "--specs-mem-size", "max=1G", "rack1"]),
    (group, ["modify", "--specs-cpu-count", "max=2", "rack1"]),
])
def test_split_specs_only_on_cluster_init(fake: FakeClient, capsys: pytest.CaptureFixture,
                                          module, argv: list[str]) -> None:
    """As in Ganeti 3.0, gnt-cluster modify and gnt-group have no --specs-* options."""
    assert run_cli(module, argv) == 2
    assert argv[1] in capsys.readouterr().err and fake.submitted_ops() == []


def test_group_bounds_default_and_no_std(fake: FakeClient, capsys: pytest.CaptureFixture
                                         ) -> None:
    assert run_cli(group, ["add", "--ipolicy-bounds-specs", f"min:{MIN}/max:{MAX}",
                           "rack1"]) == 0
    assert run_cli(group, ["modify", "--ipolicy-bounds-specs", "default", "rack1"]) == 0
    add, mod = fake.submitted_ops()
    assert add["ipolicy"] == {"minmax": [{"min": SPEC_MIN, "max": SPEC_MAX}]}
    assert mod["ipolicy"] == {"minmax": None}
    fake.calls.clear()       # Ganeti's gnt-group has no --ipolicy-std-specs
    assert run_cli(group, ["modify", "--ipolicy-std-specs", "cpu-count=1", "rack1"]) == 2
    assert "--ipolicy-std-specs" in capsys.readouterr().err and fake.submitted_ops() == []


def test_info_shows_the_bounds(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    policy = ipolicy.fill({"minmax": [{"min": SPEC_MIN, "max": SPEC_MAX}],
                           "std": {"cpu-count": 2}})
    policy.update({"disk-templates": ["file"], "vcpu-ratio": 4.0, "spindle-ratio": 32.0})
    fake.handlers["cluster_info"] = {"name": "cluster.example", "ipolicy": policy}
    assert run_cli(cluster, ["info"]) == 0
    out = capsys.readouterr().out
    assert ("Instance policy - limits for instances: \n  bounds specs: \n"
            "    - max/0: \n        cpu-count: 4\n        disk-count: 4\n"
            "        disk-size: 4096\n        memory-size: 1024\n") in out
    assert "      min/0: \n        cpu-count: 1\n" in out
    assert "  std: \n    cpu-count: 2\n" in out


@pytest.mark.parametrize("argv", [
    ["add", "-t", "file", "-o", "noop", "-n", "node1", "--disk", "0:size=1G", "--no-start",
     "--ignore-ipolicy", "inst1"],
    ["modify", "-B", "memory=4G", "--ignore-ipolicy", "inst1"],
    ["grow-disk", "--ignore-ipolicy", "inst1", "0", "1G"],
    ["failover", "-f", "--ignore-ipolicy", "inst1"],
    ["migrate", "-f", "--ignore-ipolicy", "inst1"],
    ["move", "-f", "-n", "node2", "--ignore-ipolicy", "inst1"],
    ["replace-disks", "-n", "node3", "--ignore-ipolicy", "inst1"],
])
def test_instance_commands_send_ignore_ipolicy(fake: FakeClient, argv: list[str]) -> None:
    assert run_cli(instance, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["ignore_ipolicy"] is True
    fake.calls.clear()
    without = [arg for arg in argv if arg != "--ignore-ipolicy"]
    assert run_cli(instance, without) == 0
    (op,) = fake.submitted_ops()
    assert op.get("ignore_ipolicy", False) is False


def test_node_migrate_sends_ignore_ipolicy(fake: FakeClient) -> None:
    """Ganeti's gnt-node migrate (only it of the node commands) takes --ignore-ipolicy."""
    fake.handlers["query"] = lambda what, fields, names: {
        "data": [[{"name": "node2", "pinst_list": ["inst1"]}[field] for field in fields]]}
    fake.outcome = ("success", {"jobs": []})
    assert run_cli(node, ["migrate", "-f", "--ignore-ipolicy", "node2"]) == 0
    assert run_cli(node, ["migrate", "-f", "node2"]) == 0
    assert [op["ignore_ipolicy"] for op in fake.submitted_ops()] == [True, False]
    assert run_cli(node, ["evacuate", "-f", "--ignore-ipolicy", "node2"]) == 2
