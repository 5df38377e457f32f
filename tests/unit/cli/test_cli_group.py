"""gnt-group: options -> opcodes, submission, list/info/list-fields output, errors."""

from __future__ import annotations

from typing import Any

import pytest
from gntcli_fakes import FakeClient, rstripped, run_cli

from gnt.cli import group
from gnt.query.engine import field_list


def _fields(*names: str) -> list[dict[str, Any]]:
    known = {f["name"]: f for f in field_list("group")}
    return [known[name] for name in names]


def test_every_command_has_help(capsys: pytest.CaptureFixture) -> None:
    parser = group.build_parser()
    subs = next(a for a in parser._actions if a.dest == "command")
    assert {"add", "remove", "rename", "assign-nodes", "modify", "list", "info", "list-fields",
            "list-tags", "add-tags", "remove-tags"} <= set(subs.choices)
    for name in subs.choices:
        with pytest.raises(SystemExit) as exc:
            run_cli(group, [name, "--help"])
        assert exc.value.code == 0, name
    capsys.readouterr()


def test_add(fake: FakeClient) -> None:
    argv = ["add", "--alloc-policy", "last_resort", "--node-parameters",
            "spindle_count=4,ssh_port=2222", "--tags", "a,b", "rack1"]
    assert run_cli(group, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["OP_ID"] == "OP_GROUP_ADD"
    assert op["group_name"] == "rack1" and op["alloc_policy"] == "last_resort"
    assert op["ndparams"] == {"spindle_count": "4", "ssh_port": "2222"}
    assert op["tags"] == ["a", "b"] and op["_summary"] == "rack1"
    assert "wait_for_job_change" in fake.methods()


def test_add_defaults_and_submit(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(group, ["add", "--submit", "rack2"]) == 0
    (op,) = fake.submitted_ops()
    assert op["alloc_policy"] is None and op["ndparams"] == {} and op["tags"] == []
    assert capsys.readouterr().out == "JobID: 1\n"
    assert "wait_for_job_change" not in fake.methods()


def test_bad_alloc_policy_is_a_usage_error(fake: FakeClient,
                                           capsys: pytest.CaptureFixture) -> None:
    for argv in (["add", "--alloc-policy", "sometimes", "g"],
                 ["modify", "--alloc-policy", "sometimes", "g"]):
        assert run_cli(group, argv) == 2  # optparse's exit code for a bad option value
        assert "'sometimes'" in capsys.readouterr().err
    assert fake.calls == []


def test_remove_rename_assign(fake: FakeClient) -> None:
    assert run_cli(group, ["remove", "rack1"]) == 0
    assert run_cli(group, ["rename", "rack1", "rack2"]) == 0
    assert run_cli(group, ["assign-nodes", "rack2", "node1", "node2"]) == 0
    assert run_cli(group, ["assign-nodes", "--force", "--dry-run", "rack2", "node3"]) == 0
    ops = fake.submitted_ops()
    assert [op["OP_ID"] for op in ops] == ["OP_GROUP_REMOVE", "OP_GROUP_RENAME",
                                           "OP_GROUP_ASSIGN_NODES", "OP_GROUP_ASSIGN_NODES"]
    assert ops[0]["group_name"] == "rack1"
    assert (ops[1]["group_name"], ops[1]["new_name"]) == ("rack1", "rack2")
    assert ops[2]["nodes"] == ["node1", "node2"] and ops[2]["force"] is False
    assert ops[3]["nodes"] == ["node3"] and ops[3]["force"] is True
    assert ops[3]["dry_run"] is True


def test_assign_needs_a_node(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(group, ["assign-nodes", "rack1"]) == 1
    assert capsys.readouterr().err == "Error: Command assign-nodes expects at least 2 argument(s)\n"


def test_modify(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["alloc_policy", "unallocable"]])
    assert run_cli(group, ["modify", "--alloc-policy", "unallocable",
                           "--node-parameters=-ssh_port", "rack1"]) == 0
    (op,) = fake.submitted_ops()
    assert op["OP_ID"] == "OP_GROUP_SET_PARAMS"
    assert op["alloc_policy"] == "unallocable" and op["ndparams"] == {"ssh_port": "default"}
    assert capsys.readouterr().out == ("Modified node group rack1\n"
                                       " - alloc_policy -> unallocable\n")


def test_modify_without_changes_fails(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(group, ["modify", "rack1"]) == 1
    assert "at least one" in capsys.readouterr().err
    assert fake.calls == []


def test_job_failure_names_the_value(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    message = "Group 'default' not empty, has the following node(s): node1"
    fake.outcome = ("error", {"type": "OpPrereqError", "message": message,
                              "args": [message, "wrong_state"]})
    assert run_cli(group, ["remove", "default"]) == 1
    assert capsys.readouterr().err == (
        "Failure: prerequisites not met for this operation:\n"
        f"error type: wrong_state, error details:\n{message}\n")


def test_list(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fields = _fields("name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams")
    fake.handlers["query"] = {"fields": fields, "data": [
        ["default", 1, 2, "preferred", {"spindle_count": 1}],
        ["rack10", 0, 0, "last_resort", {"spindle_count": 4}]]}
    assert run_cli(group, ["list"]) == 0
    assert capsys.readouterr().out == (
        "Group   Nodes Instances AllocPolicy NDParams\n"
        "default     1         2 preferred   spindle_count=1\n"
        "rack10      0         0 last_resort spindle_count=4\n")
    assert fake.calls[0] == ("query", {"what": "group", "fields": [
        "name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"], "names": []})


def test_list_options(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"fields": _fields("name", "node_list"),
                              "data": [["rack1", ["n1", "n2"]]]}
    assert run_cli(group, ["list", "--no-headers", "--separator", "|", "-o",
                           "name,node_list", "rack1"]) == 0
    assert capsys.readouterr().out == "rack1|n1,n2\n"
    assert fake.calls[0][1] == {"what": "group", "fields": ["name", "node_list"],
                                "names": ["rack1"]}


def test_list_fields(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query_fields"] = field_list
    assert run_cli(group, ["list-fields", "name", "pinst_cnt"]) == 0
    out = rstripped(capsys.readouterr().out)
    assert out.splitlines()[0].split() == ["Name", "Type", "Title", "Description"]
    # Ganeti's type names (Number, not the internal kind "number")
    assert "pinst_cnt Number Instances Number of primary instances" in " ".join(out.split())
    assert fake.calls == [("query_fields", {"what": "group"})]


def test_info(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    row = {"name": "rack1", "uuid": "u-1", "alloc_policy": "preferred",
           "node_list": ["node1"], "pinst_list": [],
           "ndparams": {"spindle_count": 4, "ssh_port": 22},
           "custom_ndparams": {"spindle_count": 4}, "diskparams": {},
           "custom_diskparams": {}, "custom_ipolicy": {"vcpu-ratio": 8.0}, "tags": ["a"],
           "ipolicy": {"minmax": [{"min": {"cpu-count": 1}, "max": {"cpu-count": 8}}],
                       "std": {"cpu-count": 1}, "disk-templates": ["file", "plain"],
                       "vcpu-ratio": 8.0, "spindle-ratio": 32.0}}
    fake.handlers["query"] = lambda what, fields, names: {
        "data": [[row[f] for f in fields]]}
    assert run_cli(group, ["info", "rack1"]) == 0
    assert rstripped(capsys.readouterr().out) == (
        "- Node group: rack1\n"
        "  UUID: u-1\n"
        "  Allocation policy: preferred\n"
        "  Nodes:\n"
        "    - node1\n"
        "  Primary instances:\n"
        "  Node parameters:\n"
        "    spindle_count: 4\n"
        "    ssh_port: default (22)\n"
        "  Disk parameters:\n"
        "  Instance policy - limits for instances:\n"
        "    bounds specs:\n"
        "      - max/0:\n"
        "          cpu-count: 8\n"
        "        min/0:\n"
        "          cpu-count: 1\n"
        "    std:\n"
        "      cpu-count: 1\n"
        "    allowed disk templates: default (file, plain)\n"
        "    vcpu-ratio: 8\n"
        "    spindle-ratio: default (32)\n"
        "  Tags:\n"
        "    - a\n")
    assert fake.calls[0][1]["names"] == ["rack1"]


def test_tags(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", ["a", "b"])
    assert run_cli(group, ["list-tags", "rack1"]) == 0
    assert capsys.readouterr().out == "a\nb\n"
    fake.outcome = ("success", None)
    assert run_cli(group, ["add-tags", "rack1", "x", "y"]) == 0
    assert run_cli(group, ["remove-tags", "rack1", "x"]) == 0
    ops = fake.submitted_ops()
    assert [(op["OP_ID"], op["kind"], op["name"]) for op in ops] == [
        ("OP_TAGS_GET", "nodegroup", "rack1"), ("OP_TAGS_SET", "nodegroup", "rack1"),
        ("OP_TAGS_DEL", "nodegroup", "rack1")]
    assert ops[1]["tags"] == ["x", "y"]


def test_ipolicy_options(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(group, ["add", "--ipolicy-vcpu-ratio", "8", "--ipolicy-disk-templates",
                           "file,diskless", "rack1"]) == 0
    assert run_cli(group, ["modify", "--ipolicy-spindle-ratio", "default",
                           "--ipolicy-vcpu-ratio=2.5", "rack1"]) == 0
    add, modify = fake.submitted_ops()
    assert add["ipolicy"] == {"vcpu-ratio": 8.0, "disk-templates": ["diskless", "file"]}
    assert modify["ipolicy"] == {"spindle-ratio": None, "vcpu-ratio": 2.5}
    fake.calls.clear()
    assert run_cli(group, ["modify", "--ipolicy-vcpu-ratio", "fast", "rack1"]) == 1
    assert run_cli(group, ["add", "--ipolicy-vcpu-ratio", "default", "rack2"]) == 1
    err = capsys.readouterr().err
    assert "'vcpu-ratio'" in err and "'fast'" in err
    assert "only resets a group's own value" in err
    assert fake.calls == []


def test_info_shows_the_policy_with_inherited_values_as_default() -> None:
    from gnt.cli._output import format_generic_info, format_ipolicy
    from gnt.opcodes import params

    own = {"vcpu-ratio": 2.0}
    policy = params.full_ipolicy({"enabled_disk_templates": ["file"]}, {"ipolicy": own})
    text = format_generic_info(format_ipolicy(policy, own))
    assert "allowed disk templates: default (file)" in text
    assert "vcpu-ratio: 2\n" in text and "spindle-ratio: default (32)" in text
    assert "  - max/0: \n      cpu-count: 256" in text


def test_disk_parameters(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    """-D on add and modify (modify with only -D is a change); bad values refused locally."""
    fake.outcome = ("success", [["diskparams", {"drbd": {"protocol": "A"}}]])
    assert run_cli(group, ["add", "-D", "drbd:protocol=A", "rack1"]) == 0
    assert run_cli(group, ["modify", "-D", "drbd:-protocol", "rack1"]) == 0
    add, mod = fake.submitted_ops()
    assert add["diskparams"] == {"drbd": {"protocol": "A"}}
    assert mod["diskparams"] == {"drbd": {"protocol": "default"}}
    assert run_cli(group, ["add", "-D", "drbd:-protocol", "rack2"]) == 1
    assert run_cli(group, ["modify", "-D", "plain:stripes=x", "rack1"]) == 1
    assert len(fake.submitted_ops()) == 2
    assert "parameter 'stripes'" in capsys.readouterr().err
