"""The lab's network: per slot K a bridge ``gntlab{K}`` with the controller address and one
network namespace per node joined to it by a veth pair. IPv6 address generation is off on every
lab link, and the nodes get no default route: a slot's traffic stays in its 198.18.0.(64K)/26,
so labs in different slots cannot reach each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import labconf
from labconf import NodeLayout
from labproc import LabError, run


def bridge_commands(net: labconf.SlotLayout, lab_dir: Path) -> list[str]:
    """``ip -batch`` lines making the slot's bridge with the controller address."""
    br = net.bridge
    return [f"link add {br} type bridge forward_delay 0",
            f"link set {br} addrgenmode none",
            f"link set {br} alias gntlab:{lab_dir}",   # lets others find this lab
            f"addr add {net.controller_address}/{labconf.PREFIX_LEN} dev {br}",
            f"link set {br} up"]


def tap_commands(lay: NodeLayout, bridge: str) -> list[str]:
    """``ip -batch`` lines making a guest node's tap (named like the node's veth) on the bridge."""
    return [f"tuntap add dev {lay.veth} mode tap",
            f"link set {lay.veth} addrgenmode none",
            f"link set {lay.veth} master {bridge} up"]


def make_network(layouts: list[NodeLayout], lab_dir: Path, slot: int = 0,
                 taps: list[NodeLayout] | None = None) -> None:
    """Bridge with the controller address, per namespace node in ``layouts`` a namespace with a
    veth and address, and per guest node in ``taps`` a tap on the bridge (the guest configures
    its address itself)."""
    net = labconf.SlotLayout(slot)
    br = net.bridge
    host = bridge_commands(net, lab_dir)
    for lay in taps or []:
        host += tap_commands(lay, br)
    for lay in layouts:
        host += [f"netns add {lay.netns}",
                 f"link add {lay.veth} type veth peer name {labconf.NODE_IFACE} "
                 f"netns {lay.netns}",
                 f"link set {lay.veth} addrgenmode none",
                 f"link set {lay.veth} master {br} up"]
    run(["ip", "-batch", "-"], input_text="\n".join(host) + "\n")
    for lay in layouts:
        inside = ["link set lo up",
                  f"link set {labconf.NODE_IFACE} addrgenmode none",
                  f"addr add {lay.address}/{labconf.PREFIX_LEN} dev {labconf.NODE_IFACE}",
                  f"link set {labconf.NODE_IFACE} up"]
        run(["ip", "-n", lay.netns, "-batch", "-"], input_text="\n".join(inside) + "\n")


def remove_network(state: dict[str, Any]) -> None:
    """Delete the recorded namespaces, veths and bridge that still exist."""
    links = run(["ip", "-o", "link", "show"]).stdout
    namespaces = {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
                  if line.strip()}
    cmds = [f"netns del {rec['netns']}" for rec in state["nodes"]
            if rec["netns"] in namespaces]
    cmds += [f"link del {rec['veth']}" for rec in state["nodes"]
             if f": {rec['veth']}@" in links or f": {rec['veth']}:" in links]
    if f": {state['bridge']}:" in links:
        cmds.append(f"link del {state['bridge']}")
    if cmds:
        # -force: a veth vanishes with its namespace; keep going past such races.
        proc = run(["ip", "-force", "-batch", "-"],
                   input_text="\n".join(cmds) + "\n", check=False)
        left = run(["ip", "netns", "list"]).stdout
        if any(rec["netns"] in left.split() for rec in state["nodes"]):
            raise LabError(f"could not delete lab namespaces: {proc.stderr.strip()}")


def active_lab_dir(slot: int = 0) -> Path | None:
    """Directory of the lab whose bridge exists in ``slot`` (from the bridge's alias).

    Returns ``Path("?")`` for a bridge without the alias, None when the slot's bridge is absent.
    """
    try:
        bridge = labconf.SlotLayout(slot).bridge
        alias = Path(f"/sys/class/net/{bridge}/ifalias").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError:
        return Path("?")
    return Path(alias.removeprefix("gntlab:")) if alias.startswith("gntlab:") else Path("?")


def free_slots() -> list[int]:
    """Slots whose bridge does not exist (no lab is up in them)."""
    return [k for k in range(labconf.SLOTS) if active_lab_dir(k) is None]
