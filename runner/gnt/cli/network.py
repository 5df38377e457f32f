"""gnt-network: network commands (add, remove, modify, connect, disconnect, list, info,
list-fields, tags), with Ganeti 3.0's arguments and options (3.0 has no ``rename``)."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from gnt.cli import common
from gnt.cli._params import keyval, nic_params
from gnt.cli.common import add_command, add_list_options, add_submit_options, make_op, stdout
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes import params

LIST_DEFAULT_FIELDS = ("name", "network", "gateway", "mac_prefix", "group_list", "tags")
INFO_FIELDS = ("name", "network", "gateway", "network6", "gateway6", "mac_prefix",
               "free_count", "reserved_count", "map", "group_list", "inst_list",
               "external_reservations", "serial_no", "uuid")
# How many addresses one line of the info usage map shows.
MAP_WIDTH = 64


def _ip_list(text: str | None) -> list[str] | None:
    """``--add-reserved-ips``/``--remove-reserved-ips``: comma-separated addresses."""
    if text is None:
        return None
    return [ip.strip() for ip in text.split(",") if ip.strip()]


def add_network(args: argparse.Namespace) -> int:
    """``add``: create a network with its address pool."""
    if args.network is None:
        raise OpPrereqError("The --network option must be given", ECODE_INVAL)
    tags = [tag for tag in (args.tags or "").split(",") if tag]
    op = make_op("OP_NETWORK_ADD", args, network_name=args.network_name, network=args.network,
                 gateway=args.gateway, network6=args.network6, gateway6=args.gateway6,
                 mac_prefix=args.mac_prefix, add_reserved_ips=_ip_list(args.add_reserved_ips),
                 conflicts_check=args.conflicts_check, tags=tags)
    common.submit_or_send(op, args, name=args.network_name)
    return 0


def modify_network(args: argparse.Namespace) -> int:
    """``modify``: change a network's gateway, IPv6 data, MAC prefix or reservations."""
    changes = {"gateway": args.gateway,
               "add_reserved_ips": _ip_list(args.add_reserved_ips),
               "remove_reserved_ips": _ip_list(args.remove_reserved_ips),
               "mac_prefix": args.mac_prefix, "gateway6": args.gateway6,
               "network6": args.network6}
    if all(value is None for value in changes.values()):
        common.stderr("Please give at least one of the parameters.")
        return 1
    op = make_op("OP_NETWORK_SET_PARAMS", args, network_name=args.network_name, **changes)
    common.submit_or_send(op, args, name=args.network_name)
    return 0


def remove_network(args: argparse.Namespace) -> int:
    """``remove``: remove a network no group is connected to."""
    op = make_op("OP_NETWORK_REMOVE", args, network_name=args.network_name,
                 force=args.force or None)
    common.submit_or_send(op, args, name=args.network_name)
    return 0


def _groups(names: list[str]) -> list[str]:
    """The groups given, or every group of the cluster."""
    if names:
        return names
    result = common.get_client().call("query", what="group", fields=["name"], names=[])
    return [row[0] for row in result.get("data") or []]


def connect_network(args: argparse.Namespace) -> int:
    """``connect``: connect a network to node groups (all without arguments)."""
    given = nic_params(keyval(args.nicparams, "NIC parameters")) if args.nicparams else {}
    nicparams = {**params.defaults(params.NICPARAMS), **given}
    for group in _groups(args.groups):
        op = make_op("OP_NETWORK_CONNECT", args, group_name=group,
                     network_name=args.network_name, network_mode=nicparams["mode"],
                     network_link=nicparams["link"], network_vlan=nicparams["vlan"],
                     conflicts_check=args.conflicts_check)
        common.submit_op(op, args, name=args.network_name)
    return 0


def disconnect_network(args: argparse.Namespace) -> int:
    """``disconnect``: disconnect a network from node groups (all without arguments)."""
    for group in _groups(args.groups):
        op = make_op("OP_NETWORK_DISCONNECT", args, group_name=group,
                     network_name=args.network_name)
        common.submit_op(op, args, name=args.network_name)
    return 0


def _group_list(data: Any) -> str:
    return ", ".join(f"{name} ({mode}, {link}, {vlan})" for name, mode, link, vlan in data)


LIST_OVERRIDE = {"group_list": _group_list, "inst_list": ",".join, "tags": ",".join}


def list_networks(args: argparse.Namespace) -> int:
    """``list``: one table row per network."""
    return common.list_query("network", args, LIST_DEFAULT_FIELDS, args.names,
                             override=LIST_OVERRIDE)


def info_lines(net: dict[str, Any], nic_ips: dict[str, list[str]]) -> list[str]:
    """The ``info`` block of one network (``net``: INFO_FIELDS by name; ``nic_ips``: per
    instance using it, ``index:ip`` of its NICs in the network)."""
    free, reserved = int(net["free_count"] or 0), int(net["reserved_count"] or 0)
    size = free + reserved
    lines = [f"Network name: {net['name']}", f"UUID: {net['uuid']}",
             f"Serial number: {net['serial_no']}", f"  Subnet: {net['network']}",
             f"  Gateway: {net['gateway']}", f"  IPv6 Subnet: {net['network6']}",
             f"  IPv6 Gateway: {net['gateway6']}", f"  Mac Prefix: {net['mac_prefix']}",
             f"  Size: {size}",
             f"  Free: {free} ({100 * free / size if size else 0:.2f}%)", "  Usage map:"]
    usage = net["map"] or ""
    for start in range(0, len(usage), MAP_WIDTH):
        chunk = usage[start:start + MAP_WIDTH]
        lines.append(f"     {str(start).rjust(4)} {chunk.ljust(MAP_WIDTH)}"
                     f" {start + MAP_WIDTH - 1}")
    lines.append("         (X) used    (.) free")
    if net["external_reservations"]:
        lines.append("  externally reserved IPs:")
        lines.extend(f"    {line}"
                     for line in textwrap.wrap(net["external_reservations"], width=MAP_WIDTH))
    if net["group_list"]:
        lines.append("  connected to node groups:")
        lines.extend(f"    {group} (mode:{mode} link:{link} vlan:{vlan})"
                     for group, mode, link, vlan in net["group_list"])
    else:
        lines.append("  not connected to any node group")
    instances = net["inst_list"] or []
    if instances:
        lines.append(f"  used by {len(instances)} instances:")
        lines.extend(f"    {name}: {', '.join(nic_ips.get(name, []))}" for name in instances)
    else:
        lines.append("  not used by any instances")
    return lines


def _nic_ips(client: Any, net_uuid: str, instances: list[str]) -> dict[str, list[str]]:
    """Per instance, ``index:ip`` of each of its NICs in the network."""
    if not instances:
        return {}
    result = client.call("query", what="instance", fields=["name", "nic.ips", "nic.networks"],
                         names=list(instances))
    answer: dict[str, list[str]] = {}
    for name, ips, networks in result.get("data") or []:
        answer[name] = [f"{idx}:{ip}" for idx, (ip, net) in
                        enumerate(zip(ips or [], networks or [])) if net == net_uuid]
    return answer


def show_info(args: argparse.Namespace) -> int:
    """``info``: details of networks (all of them without arguments)."""
    client = common.get_client()
    result = client.call("query", what="network", fields=list(INFO_FIELDS),
                         names=list(args.names))
    for row in result.get("data") or []:
        net = dict(zip(INFO_FIELDS, row))
        for line in info_lines(net, _nic_ips(client, net["uuid"], net["inst_list"] or [])):
            stdout(line)
    return 0


def _address_options(parser: argparse.ArgumentParser, remove: bool) -> None:
    parser.add_argument("--gateway", default=None, help="IP address of the router (gateway)")
    parser.add_argument("--add-reserved-ips", dest="add_reserved_ips", default=None,
                        metavar="IP,...", help="Comma-separated list of reserved IPs to add")
    if remove:
        parser.add_argument("--remove-reserved-ips", dest="remove_reserved_ips", default=None,
                            metavar="IP,...",
                            help="Comma-delimited list of reserved IPs to remove")
    parser.add_argument("-m", "--mac-prefix", dest="mac_prefix", default=None,
                        metavar="PREFIX", help="Specify the mac prefix for the instance IP"
                        " addresses, in the format XX:XX:XX")
    parser.add_argument("--network6", default=None, help="IP network in CIDR notation")
    parser.add_argument("--gateway6", default=None, help="IP6 address of the router (gateway)")


def _conflicts_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-conflicts-check", dest="conflicts_check", action="store_false",
                        help="Don't check for conflicting IPs")


def build_parser() -> argparse.ArgumentParser:
    """The gnt-network argument parser."""
    parser, subs = common.new_parser("gnt-network", "Network administration")
    p = add_command(subs, "add", add_network, "Add a new IP network to the cluster")
    p.add_argument("network_name", metavar="NETWORK")
    p.add_argument("--network", default=None, help="IP network in CIDR notation")
    _address_options(p, remove=False)
    _conflicts_option(p)
    p.add_argument("--tags", default=None, metavar="TAG,...",
                   help="Comma-separated list of network tags")
    add_submit_options(p)

    p = add_command(subs, "remove", remove_network, "Remove an (empty) network from the"
                    " cluster")
    p.add_argument("network_name", metavar="NETWORK")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    add_submit_options(p)

    p = add_command(subs, "modify", modify_network, "Alters the parameters of a network")
    p.add_argument("network_name", metavar="NETWORK")
    _address_options(p, remove=True)
    add_submit_options(p)

    p = add_command(subs, "connect", connect_network, "Map a given network to the specified"
                    " node group with given mode and link (netparams)")
    p.add_argument("network_name", metavar="NETWORK")
    p.add_argument("groups", nargs="*", metavar="GROUP")
    p.add_argument("-N", "--nic-parameters", dest="nicparams", default=None,
                   metavar="KEY=VAL,...", help="NIC parameters")
    _conflicts_option(p)
    common.add_priority_option(p)

    p = add_command(subs, "disconnect", disconnect_network, "Unmap a given network from a"
                    " specified node group")
    p.add_argument("network_name", metavar="NETWORK")
    p.add_argument("groups", nargs="*", metavar="GROUP")
    common.add_priority_option(p)

    p = add_command(subs, "list", list_networks, "Lists the IP networks in the cluster")
    p.add_argument("names", nargs="*", metavar="NETWORK")
    add_list_options(p, LIST_DEFAULT_FIELDS, units=False)

    p = add_command(subs, "info", show_info, "Show information about the network(s)")
    p.add_argument("names", nargs="*", metavar="NETWORK")
    common.add_list_fields_command(subs, "network")
    common.add_tag_commands(subs, "network", "network")
    return parser


main = common.main_for(build_parser)

if __name__ == "__main__":
    main()
