"""gnt-network end to end: the CLI against an in-process master daemon over its socket."""

from __future__ import annotations

from test_input_validation import Cli, _refused, cli  # noqa: F401  # pylint: disable=unused-import

from gnt.cli import network


def _ok(cli: Cli, argv: list[str]) -> str:  # noqa: F811 - the fixture's name
    code, out, err = cli(network, argv)
    assert code == 0, err
    return out


def _fails(cli: Cli, argv: list[str], *needles: str) -> None:  # noqa: F811
    """A command the job refuses: exit 1, ``needles`` in stderr, the config unchanged."""
    config = cli.cluster.config_bytes()
    code, _out, err = cli(network, argv)
    assert code == 1, err
    for needle in needles:
        assert needle in err, err
    assert cli.cluster.config_bytes() == config


def test_add_connect_list_info_disconnect_remove(cli: Cli) -> None:  # noqa: F811
    _ok(cli, ["add", "--network", "198.18.5.0/28", "--gateway", "198.18.5.1",
              "--add-reserved-ips", "198.18.5.4", "--tags", "lab", "net1"])
    _ok(cli, ["connect", "-N", "mode=bridged,link=br100", "net1"])  # every group
    out = _ok(cli, ["list", "--no-headers"])
    assert out.split() == ["net1", "198.18.5.0/28", "198.18.5.1", "-", "default",
                           "(bridged,", "br100,", ")", "lab"]
    out = _ok(cli, ["info", "net1"])
    assert "  Size: 16\n  Free: 12 (75.00%)\n" in out
    assert "        0 XX..X..........X" in out
    assert "    198.18.5.0, 198.18.5.1, 198.18.5.4, 198.18.5.15\n" in out
    assert "    default (mode:bridged link:br100 vlan:)\n" in out
    assert "  not used by any instances\n" in out
    _ok(cli, ["modify", "--remove-reserved-ips", "198.18.5.4", "net1"])
    assert _ok(cli, ["list", "--no-headers", "-o", "free_count,reserved_count"]).split() == [
        "13", "3"]
    _fails(cli, ["remove", "net1"], "still connected", "default")
    _ok(cli, ["disconnect", "net1", "default"])
    _ok(cli, ["remove", "net1"])
    assert _ok(cli, ["list", "--no-headers"]) == ""


def test_bad_input_is_refused_with_config_unchanged(cli: Cli) -> None:  # noqa: F811
    _refused(cli, network, ["add", "--network", "198.18.5.0/33", "n"], "'198.18.5.0/33'")
    _refused(cli, network, ["add", "n"], "The --network option must be given")
    _fails(cli, ["add", "--network", "10.0.0.0/8", "n"], "too big", "/16")
    _ok(cli, ["add", "--network", "198.18.5.0/24", "net1"])
    _fails(cli, ["add", "--network", "198.18.6.0/24", "net1"], "'net1' already exists")
    _fails(cli, ["modify", "--gateway", "198.18.5.1", "--add-reserved-ips", "198.18.5.9",
                 "net1"], "at once")
    _fails(cli, ["modify", "--gateway", "198.18.9.1", "net1"], "198.18.9.1", "not inside")
    _fails(cli, ["connect", "net1", "nosuch"], "nosuch")
    _fails(cli, ["info", "nosuch"], "nosuch")


def test_list_unknown_field_exits_14(cli: Cli) -> None:  # noqa: F811
    code, _out, err = cli(network, ["list", "-o", "name,bogus"])
    assert code == 14 and "bogus" in err


def test_template_markers_arrive_as_data(cli: Cli) -> None:  # noqa: F811
    name = "{{lookup('pipe','id')}}"
    _ok(cli, ["add", "--network", "198.18.5.0/24", name])
    _ok(cli, ["connect", "-N", "link={{7*7}}", name, "default"])  # keyval splits at commas
    out = _ok(cli, ["list", "--no-headers", "-o", "name,group_list"])
    assert out.split() == [name, "default", "(bridged,", "{{7*7}},", ")"]
    assert "uid=" not in out and "49" not in out
