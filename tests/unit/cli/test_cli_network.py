"""gnt-network: options -> opcodes, submission, list/info/list-fields output, errors."""

from __future__ import annotations

from typing import Any

import pytest
from gntcli_fakes import FakeClient, rstripped, run_cli

from gnt.cli import network
from gnt.query.engine import field_list


def _fields(*names: str) -> list[dict[str, Any]]:
    known = {f["name"]: f for f in field_list("network")}
    return [known[name] for name in names]


def test_every_command_has_help(capsys: pytest.CaptureFixture) -> None:
    parser = network.build_parser()
    subs = next(a for a in parser._actions if a.dest == "command")
    assert set(subs.choices) == {"add", "remove", "modify", "connect", "disconnect", "list",
                                 "info", "list-fields", "list-tags", "add-tags",
                                 "remove-tags"}  # Ganeti 3.0: no rename
    for name in subs.choices:
        with pytest.raises(SystemExit) as exc:
            run_cli(network, [name, "--help"])
        assert exc.value.code == 0, name
    capsys.readouterr()


def test_add(fake: FakeClient) -> None:
    argv = ["add", "--network", "198.18.5.0/24", "--gateway", "198.18.5.1",
            "--add-reserved-ips", "198.18.5.2,198.18.5.3", "-m", "aa:00:01",
            "--network6", "2001:db8::/64", "--gateway6", "2001:db8::1",
            "--no-conflicts-check", "--tags", "a,b", "net1"]
    assert run_cli(network, argv) == 0
    (op,) = fake.submitted_ops()
    assert op["OP_ID"] == "OP_NETWORK_ADD" and op["_summary"] == "net1"
    assert (op["network_name"], op["network"], op["gateway"]) == (
        "net1", "198.18.5.0/24", "198.18.5.1")
    assert op["add_reserved_ips"] == ["198.18.5.2", "198.18.5.3"]
    assert (op["mac_prefix"], op["network6"], op["gateway6"]) == (
        "aa:00:01", "2001:db8::/64", "2001:db8::1")
    assert op["conflicts_check"] is False and op["tags"] == ["a", "b"]


def test_add_defaults_submit_and_dry_run(fake: FakeClient,
                                         capsys: pytest.CaptureFixture) -> None:
    assert run_cli(network, ["add", "--submit", "--network", "10.1.0.0/16", "n"]) == 0
    assert capsys.readouterr().out == "JobID: 1\n"
    assert run_cli(network, ["add", "--dry-run", "--network", "10.1.0.0/16", "n"]) == 0
    first, second = fake.submitted_ops()
    assert first["conflicts_check"] is True and first["gateway"] is None
    assert first["add_reserved_ips"] is None and first["tags"] == []
    assert second["dry_run"] is True


@pytest.mark.parametrize(("argv", "needle"), [
    (["add", "net1"], "The --network option must be given"),
    (["add", "--network", "198.18.5.1/24", "net1"], "'198.18.5.1/24'"),
    (["add", "--network", "198.18.5.0/24", "--gateway", "gw", "net1"], "'gw'"),
    (["add", "--network", "198.18.5.0/24", "-m", "aa:zz:00", "net1"], "aa:zz:00"),
    (["add", "--network", "198.18.5.0/24", "--add-reserved-ips", "1.2.3", "net1"], "1.2.3"),
    (["modify", "--gateway6", "nope", "net1"], "'nope'"),
    (["connect", "-N", "mode=tunnel", "net1", "default"], "tunnel"),
    (["connect", "-N", "colour=red", "net1", "default"], "colour"),
])
def test_bad_input_fails_before_submitting(fake: FakeClient, capsys: pytest.CaptureFixture,
                                           argv: list[str], needle: str) -> None:
    assert run_cli(network, argv) == 1
    assert needle in capsys.readouterr().err
    assert fake.submitted_ops() == []


def test_modify(fake: FakeClient) -> None:
    assert run_cli(network, ["modify", "--gateway", "none", "--mac-prefix", "aa:bb:cc",
                             "net1"]) == 0
    assert run_cli(network, ["modify", "--add-reserved-ips", "10.0.0.5",
                             "--remove-reserved-ips", "10.0.0.6,10.0.0.7", "net1"]) == 0
    first, second = fake.submitted_ops()
    assert first["OP_ID"] == "OP_NETWORK_SET_PARAMS"
    assert (first["gateway"], first["mac_prefix"], first["add_reserved_ips"]) == (
        "none", "aa:bb:cc", None)
    assert second["add_reserved_ips"] == ["10.0.0.5"]
    assert second["remove_reserved_ips"] == ["10.0.0.6", "10.0.0.7"]


def test_modify_without_changes_fails(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(network, ["modify", "net1"]) == 1
    assert capsys.readouterr().err == "Please give at least one of the parameters.\n"
    assert fake.calls == []


def test_remove(fake: FakeClient) -> None:
    assert run_cli(network, ["remove", "net1"]) == 0
    assert run_cli(network, ["remove", "--force", "--dry-run", "net1"]) == 0
    first, second = fake.submitted_ops()
    assert first["OP_ID"] == "OP_NETWORK_REMOVE" and first["force"] is False
    assert second["force"] is True and second["dry_run"] is True


def test_connect_named_groups_with_nic_parameters(fake: FakeClient) -> None:
    argv = ["connect", "--nic-parameters", "mode=routed,link=rt1,vlan=100",
            "--no-conflicts-check", "net1", "g1", "g2"]
    assert run_cli(network, argv) == 0
    ops = fake.submitted_ops()
    assert [(op["OP_ID"], op["group_name"], op["network_name"]) for op in ops] == [
        ("OP_NETWORK_CONNECT", "g1", "net1"), ("OP_NETWORK_CONNECT", "g2", "net1")]
    assert {(op["network_mode"], op["network_link"], op["network_vlan"],
             op["conflicts_check"]) for op in ops} == {("routed", "rt1", "100", False)}
    assert fake.methods().count("wait_for_job_change") >= 2  # one job per group, waited for


def test_connect_and_disconnect_default_to_every_group(fake: FakeClient) -> None:
    fake.handlers["query"] = {"fields": [], "data": [["default"], ["rack1"]]}
    assert run_cli(network, ["connect", "net1"]) == 0
    assert run_cli(network, ["disconnect", "net1"]) == 0
    ops = fake.submitted_ops()
    assert [(op["OP_ID"], op["group_name"]) for op in ops] == [
        ("OP_NETWORK_CONNECT", "default"), ("OP_NETWORK_CONNECT", "rack1"),
        ("OP_NETWORK_DISCONNECT", "default"), ("OP_NETWORK_DISCONNECT", "rack1")]
    # Ganeti's NIC defaults: bridged on the default bridge, no vlan
    assert (ops[0]["network_mode"], ops[0]["network_link"], ops[0]["network_vlan"]) == (
        "bridged", "gnt-br0", "")
    assert ("query", {"what": "group", "fields": ["name"], "names": []}) in fake.calls


def test_job_failure(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    message = "Network 'net1' is still connected to node group(s) default; disconnect it first"
    fake.outcome = ("error", {"type": "OpPrereqError", "message": message,
                              "args": [message, "wrong_state"]})
    assert run_cli(network, ["remove", "net1"]) == 1
    assert capsys.readouterr().err == (
        "Failure: prerequisites not met for this operation:\n"
        f"error type: wrong_state, error details:\n{message}\n")


def test_list(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fields = _fields(*network.LIST_DEFAULT_FIELDS)
    fake.handlers["query"] = {"fields": fields, "data": [
        ["net1", "198.18.5.0/24", "198.18.5.1", None,
         [["default", "bridged", "br100", ""], ["rack1", "routed", "rt", "7"]], ["a", "b"]],
        ["net2", "10.1.0.0/16", None, "aa:00:00", [], []]]}
    assert run_cli(network, ["list"]) == 0
    groups = "default (bridged, br100, ), rack1 (routed, rt, 7)"
    assert rstripped(capsys.readouterr().out) == (
        f"Network Subnet        Gateway    MacPrefix {'GroupList'.ljust(len(groups))} Tags\n"
        f"net1    198.18.5.0/24 198.18.5.1 -         {groups} a,b\n"
        "net2    10.1.0.0/16   -          aa:00:00\n")
    assert fake.calls[0] == ("query", {"what": "network", "fields": list(
        network.LIST_DEFAULT_FIELDS), "names": []})


def test_list_options(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query"] = {"fields": _fields("name", "inst_list", "free_count"),
                              "data": [["net1", ["i1", "i2"], 250]]}
    assert run_cli(network, ["list", "--no-headers", "--separator", "|", "-o",
                             "name,inst_list,free_count", "net1"]) == 0
    assert capsys.readouterr().out == "net1|i1,i2|250\n"
    assert fake.calls[0][1] == {"what": "network", "fields": ["name", "inst_list",
                                                              "free_count"], "names": ["net1"]}


def test_list_fields(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.handlers["query_fields"] = field_list
    assert run_cli(network, ["list-fields", "free_count", "group_list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "free_count Number FreeCount Number of available addresses" in out
    assert "group_list Custom GroupList List of nodegroups (group name, NIC mode, NIC link)" \
        in out


def _info_row(**over: Any) -> dict[str, Any]:
    row = {"name": "net1", "network": "198.18.5.0/25", "gateway": "198.18.5.1",
           "network6": None, "gateway6": None, "mac_prefix": "aa:00:01", "free_count": 124,
           "reserved_count": 4, "map": "XXX" + "." * 124 + "X",
           "group_list": [["default", "bridged", "br100", ""]], "inst_list": ["web"],
           "external_reservations": "198.18.5.0, 198.18.5.1, 198.18.5.127", "serial_no": 3,
           "uuid": "net-u"}
    row.update(over)
    return row


def test_info(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    row = _info_row()

    def query(what: str, fields: list[str], names: list[str]) -> dict[str, Any]:
        if what == "network":
            return {"data": [[row[f] for f in fields]]}
        assert (what, fields, names) == ("instance", ["name", "nic.ips", "nic.networks"],
                                         ["web"])
        return {"data": [["web", ["10.0.0.9", "198.18.5.2"], [None, "net-u"]]]}
    fake.handlers["query"] = query
    assert run_cli(network, ["info", "net1"]) == 0
    assert rstripped(capsys.readouterr().out) == (
        "Network name: net1\n"
        "UUID: net-u\n"
        "Serial number: 3\n"
        "  Subnet: 198.18.5.0/25\n"
        "  Gateway: 198.18.5.1\n"
        "  IPv6 Subnet: None\n"
        "  IPv6 Gateway: None\n"
        "  Mac Prefix: aa:00:01\n"
        "  Size: 128\n"
        "  Free: 124 (96.88%)\n"
        "  Usage map:\n"
        "        0 XXX" + "." * 61 + " 63\n"
        "       64 " + "." * 63 + "X 127\n"
        "         (X) used    (.) free\n"
        "  externally reserved IPs:\n"
        "    198.18.5.0, 198.18.5.1, 198.18.5.127\n"
        "  connected to node groups:\n"
        "    default (mode:bridged link:br100 vlan:)\n"
        "  used by 1 instances:\n"
        "    web: 1:198.18.5.2\n")


def test_info_unconnected_unused(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    row = _info_row(group_list=[], inst_list=[], external_reservations="")
    fake.handlers["query"] = lambda what, fields, names: {"data": [[row[f] for f in fields]]}
    assert run_cli(network, ["info"]) == 0
    out = capsys.readouterr().out
    assert "  not connected to any node group\n  not used by any instances\n" in out
    assert "externally reserved" not in out
    assert fake.calls[0][1]["names"] == []


def test_tags(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", ["a", "b"])
    assert run_cli(network, ["list-tags", "net1"]) == 0
    assert capsys.readouterr().out == "a\nb\n"
    fake.outcome = ("success", None)
    assert run_cli(network, ["add-tags", "net1", "x", "y"]) == 0
    assert run_cli(network, ["remove-tags", "net1", "x"]) == 0
    ops = fake.submitted_ops()
    assert [(op["OP_ID"], op["kind"], op["name"]) for op in ops] == [
        ("OP_TAGS_GET", "network", "net1"), ("OP_TAGS_SET", "network", "net1"),
        ("OP_TAGS_DEL", "network", "net1")]


@pytest.mark.parametrize(("argv", "message"), [
    (["add", "--network", "10.1.0.0/16"], "Error: Command add expects 1 argument(s)"),
    (["remove", "a", "b"], "Error: Command remove expects 1 argument(s)"),
    (["connect"], "Error: Command connect expects at least 1 argument(s)"),
    (["disconnect"], "Error: Command disconnect expects at least 1 argument(s)"),
])
def test_argument_count(fake: FakeClient, capsys: pytest.CaptureFixture, argv: list[str],
                        message: str) -> None:
    assert run_cli(network, argv) == 1
    assert capsys.readouterr().err == f"{message}\n"
    assert fake.calls == []


def test_bad_option_is_a_usage_error(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(network, ["connect", "--submit", "net1"]) == 2  # Ganeti: no --submit here
    assert "no such option: --submit" in capsys.readouterr().err
    assert fake.calls == []
