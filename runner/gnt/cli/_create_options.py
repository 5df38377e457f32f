"""The options ``gnt-instance add`` and ``gnt-backup import`` share (placement, disks, NICs,
parameters), and their translation into OP_INSTANCE_CREATE fields."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._params import (
    be_params,
    hv_params,
    ident_keyval,
    keyval,
    parse_disks,
    parse_nics,
    split_node,
)
from gnt.core.errors import ECODE_INVAL, OpPrereqError


def add_creation_options(p: argparse.ArgumentParser) -> None:
    """Placement, disk, NIC and parameter options of instance creation and import."""
    p.add_argument("-t", "--disk-template", default=None,
                   help="Disk template (diskless, file, sharedfile, plain, drbd, ...)")
    p.add_argument("--disk", dest="disks", action="append", metavar="N:size=VAL[,mode=ro|rw]",
                   help="Disk parameters (repeatable)")
    p.add_argument("-s", "--os-size", default=None, metavar="SIZE",
                   help="Size of a single disk (shorthand for --disk 0:size=SIZE)")
    p.add_argument("-n", "--node", default=None, metavar="PNODE[:SNODE]",
                   help="Target node and optional secondary node")
    p.add_argument("-I", "--iallocator", default=None,
                   help="Select nodes for the instance automatically using this iallocator")
    p.add_argument("-B", "--backend-parameters", dest="beparams", default=None,
                   metavar="KEY=VAL,...", help="Backend parameters (memory, vcpus, ...)")
    p.add_argument("-H", "--hypervisor-parameters", dest="hvparams", default=None,
                   metavar="HV[:KEY=VAL,...]", help="Hypervisor and hypervisor parameters")
    p.add_argument("--hypervisor", default=None, help="Hypervisor to use")
    p.add_argument("--net", dest="nics", action="append", metavar="N:KEY=VAL,...",
                   help="NIC parameters (repeatable)")
    p.add_argument("--no-nics", action="store_true", help="Create an instance without NICs")
    p.add_argument("--no-start", dest="start", action="store_false",
                   help="Don't start the instance after creation")
    p.add_argument("--no-ip-check", action="store_true",
                   help="Don't refuse an instance IP where a host answers")
    p.add_argument("--no-name-check", action="store_true",
                   help="Don't resolve the name through the hosts file (implies --no-ip-check)")
    p.add_argument("--no-conflicts-check", dest="conflicts_check", action="store_false",
                   help="Don't check for conflicting IPs (addresses in a network's range)")
    p.add_argument("--no-wait-for-sync", dest="wait_for_sync", action="store_false",
                   help="Don't wait for sync (DANGEROUS!)")
    p.add_argument("--file-storage-dir", default=None, metavar="DIR",
                   help="Relative path under the file storage dir for the disk files")
    p.add_argument("--file-driver", default=None, choices=("loop", "blktap", "blktap2"),
                   help="Driver to use for image files")
    p.add_argument("--tags", default=None, metavar="TAG,...", help="Instance tags")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    p.add_argument("-O", "--os-parameters", dest="osparams", default=None,
                   metavar="KEY=VAL,...", help="OS parameters")


def _hypervisor(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    hypervisor = args.hypervisor
    if not args.hvparams:
        return hypervisor, {}
    hv_name, values = ident_keyval(args.hvparams, "hypervisor parameters")
    if hypervisor and hv_name != hypervisor:
        raise OpPrereqError(f"Conflicting hypervisors: -H names '{hv_name}', --hypervisor"
                            f" '{hypervisor}'", ECODE_INVAL)
    return hv_name, hv_params(hv_name, values)


def creation_fields(args: argparse.Namespace, importing: bool = False) -> dict[str, Any]:
    """OP_INSTANCE_CREATE fields from the shared options.

    For an import, what is not given stays unset (``disk_template`` None, ``disks`` [],
    ``nics`` None) so the export's values are used.
    """
    pnode, snode = split_node(args.node)
    if args.node and args.iallocator:
        raise OpPrereqError("Give either the nodes (-n) or an iallocator (-I), not both",
                            ECODE_INVAL)
    hypervisor, hvparams = _hypervisor(args)
    template = args.disk_template
    given_disks = bool(args.disks) or args.os_size is not None
    if template is None and given_disks:
        parse_disks(args.disks, args.os_size, None)  # bad sizes fail before any daemon call
    if template is None and not importing:
        info = common.get_client().call("cluster_info") or {}
        enabled = info.get("enabled_disk_templates") or []
        if not enabled:
            raise OpPrereqError("No disk template given (-t) and the cluster has no enabled"
                                " disk templates", ECODE_INVAL)
        template = enabled[0]
    if importing and not given_disks:
        disks: list[dict[str, Any]] = []
    else:
        disks = parse_disks(args.disks, args.os_size, template)
    if importing and not args.nics and not args.no_nics:
        nics: list[dict[str, Any]] | None = None
    else:
        nics = parse_nics(args.nics, args.no_nics)
    return {
        "disk_template": template, "disks": disks, "nics": nics, "pnode": pnode,
        "snode": snode, "iallocator": args.iallocator, "start": args.start,
        "wait_for_sync": args.wait_for_sync, "hypervisor": hypervisor, "hvparams": hvparams,
        "beparams": be_params(keyval(args.beparams, "backend parameters"))
        if args.beparams else {},
        "osparams": keyval(args.osparams, "OS parameters") if args.osparams else {},
        "tags": [tag for tag in (args.tags or "").split(",") if tag],
        "file_storage_dir": args.file_storage_dir, "file_driver": args.file_driver,
        "ip_check": False if (args.no_ip_check or args.no_name_check) else None,
        "name_check": False if args.no_name_check else None,
        "conflicts_check": None if args.conflicts_check else False,
        "ignore_ipolicy": args.ignore_ipolicy or None,
    }
