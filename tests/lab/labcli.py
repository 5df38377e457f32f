"""Command line of the lab (``tests/lab/lab.py up|down|status|kill|start``); see ``lab.py``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

import labconf
from guestconf import GuestSpec
from lab import DEFAULT_DIR, Lab
from labnet import active_lab_dir
from labproc import LabError


def _print_status(lab: Lab, as_json: bool) -> int:
    status = lab.status()
    if as_json:
        print(json.dumps({"dir": str(lab.dir), "slot": lab.slot,
                          "nodes": [asdict(s) for s in status]}, indent=1))
        return 0
    if not status:
        up = {k: d for k in range(labconf.SLOTS) if (d := active_lab_dir(k)) is not None}
        print(f"no lab in {lab.dir}" + ("; labs up: " + ", ".join(
            f"slot {k} in {d}" for k, d in up.items()) if up else ""))
        return 1
    print(f"slot {lab.slot} ({lab.net.network}, bridge {lab.net.bridge}), dir {lab.dir}")
    word = {True: "up", False: "DOWN"}
    kinds = {node.name: node.kind for node in lab.nodes}
    for s in status:
        init = "qemu" if kinds.get(s.name) == "guest" else "init"
        doms = ", ".join(f"{d} ({st})" for d, st in sorted(s.domains.items())) or "-"
        print(f"{s.name:<7} {s.address:<13} {init} {word[s.init_alive]:<4} sshd {word[s.sshd]:<4} "
              f"libvirtd {word[s.libvirtd]:<4} domains: {doms}")
    return 0


def _print_guest_up(lab: Lab, nodes: list) -> None:
    """What ``up`` made, for a lab with guest nodes (all guests, or mixed)."""
    t = lab.timings
    guests = sum(node.kind == "guest" for node in nodes)
    what = f"{len(nodes)} guest nodes" if guests == len(nodes) else \
        f"{len(nodes) - guests} namespace + {guests} guest nodes"
    print(f"lab up: {what} in slot {lab.slot} ({lab.net.network}) in "
          f"{t['up']:.1f} s (image {t['image']:.1f} s, files and disks "
          f"{t['files'] - t['image']:.1f} s, boot to SSH and libvirtd "
          f"{t['up'] - t['network']:.1f} s); dir {lab.dir}")
    for node in nodes:
        boot = (f"  boot to SSH {t[f'ssh_{node.name}']:.1f} s, libvirtd "
                f"{t[f'ready_{node.name}']:.1f} s") if node.kind == "guest" else ""
        print(f"  {node.name}  {node.kind:<5}  {node.address}  {' '.join(node.ssh)}  "
              f"{node.libvirt_uri}  GNT_ROOT={node.gnt_root}{boot}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    common = argparse.ArgumentParser(add_help=False)     # --dir before or after the command
    common.add_argument("--dir", default=argparse.SUPPRESS,
                        help=f"lab directory (default {DEFAULT_DIR} for slot 0, "
                             f"{DEFAULT_DIR}K for slot K)")
    common.add_argument("--slot", type=int, default=argparse.SUPPRESS,
                        choices=range(labconf.SLOTS),
                        help=f"lab slot 0..{labconf.SLOTS - 1} (bridge gntlabK, 198.18.0.(64K)/26; "
                             f"default ${labconf.SLOT_ENV}, else 0); only up needs it")
    parser = argparse.ArgumentParser(description="A gnt.cluster lab: N nodes on this machine (docs/lab.md)", parents=[common])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start N nodes", parents=[common])
    p_up.add_argument("n", type=int)
    p_up.add_argument("--guest", action="store_true",
                      help="nodes are QEMU TCG guests with LVM and DRBD (labguest, docs/lab.md)")
    p_up.add_argument("--guests", type=int, default=0, metavar="M",
                      help="add M guest nodes after the N nodes: node(N+1)..node(N+M) "
                           "(a mixed lab, docs/lab.md)")
    spec = GuestSpec()
    p_up.add_argument("--memory", type=int, default=spec.memory_mb,
                      help=f"guest RAM in MiB ({spec.memory_mb})")
    p_up.add_argument("--cpus", type=int, default=spec.cpus, help=f"guest vCPUs ({spec.cpus})")
    p_up.add_argument("--data-size", type=int, default=spec.data_gib,
                      help=f"guest data disk in GiB ({spec.data_gib})")
    p_up.add_argument("--vg", default=spec.vg, help=f"guest volume group name ({spec.vg})")
    sub.add_parser("down", help="stop and remove everything the lab made", parents=[common])
    p_status = sub.add_parser("status", help="show the nodes", parents=[common])
    p_status.add_argument("--json", action="store_true")
    p_kill = sub.add_parser("kill", help="crash a node (SIGKILL its PID 1)", parents=[common])
    p_kill.add_argument("node")
    p_start = sub.add_parser("start", help="boot a crashed node again", parents=[common])
    p_start.add_argument("node")
    args = parser.parse_args(argv)
    try:
        import libvirt  # its errors become exceptions here; don't also print them
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    except ImportError:
        pass
    try:
        lab = Lab(getattr(args, "dir", None), slot=getattr(args, "slot", None))
        if args.cmd == "up" and (args.guest or args.guests):
            nodes = lab.up(args.n, kind="guest" if args.guest else "netns", guests=args.guests,
                           memory_mb=args.memory, cpus=args.cpus, data_gib=args.data_size,
                           vg=args.vg)
            _print_guest_up(lab, nodes)
        elif args.cmd == "up":
            nodes = lab.up(args.n)
            t = lab.timings
            print(f"lab up: {len(nodes)} nodes in slot {lab.slot} ({lab.net.network}) "
                  f"in {t['up']:.2f} s (files {t['files']:.2f} s, "
                  f"network {t['network'] - t['files']:.2f} s, daemons ready "
                  f"{t['up'] - t['network']:.2f} s); dir {lab.dir}")
            for node in nodes:
                print(f"  {node.name}  {node.address}  {' '.join(node.ssh)}  {node.libvirt_uri}  "
                      f"GNT_ROOT={node.gnt_root}")
        elif args.cmd == "down":
            lab.down()
            if "down" in lab.timings:
                print(f"lab down in {lab.timings['down']:.2f} s "
                      f"(processes {lab.timings['down_kill']:.2f} s)")
            else:
                print(f"no lab in {lab.dir}")
        elif args.cmd == "status":
            return _print_status(lab, args.json)
        elif args.cmd == "kill":
            lab.kill_node(args.node)
            print(f"{args.node}: PID 1 killed")
        elif args.cmd == "start":
            node = lab.start_node(args.node)
            took = lab.timings.get(f"ssh_{node.name}")
            print(f"{node.name}: up" + (f" (boot to SSH {took:.1f} s)" if took else ""))
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0
