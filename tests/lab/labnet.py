"""The lab's network: bridge ``gntlab0`` with the controller address and one network namespace
per node joined to it by a veth pair. IPv6 address generation is off on every lab link, and the
nodes get no default route: lab traffic stays in 198.18.0.0/24.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import labconf
from labconf import NodeLayout
from labproc import LabError, run


def make_network(layouts: list[NodeLayout], lab_dir: Path) -> None:
    """Bridge with the controller address, and per node a namespace with a veth and address."""
    br = labconf.BRIDGE
    host = [f"link add {br} type bridge forward_delay 0",
            f"link set {br} addrgenmode none",
            f"link set {br} alias gntlab:{lab_dir}",   # lets others find this lab
            f"addr add {labconf.CONTROLLER_ADDRESS}/{labconf.PREFIX_LEN} dev {br}",
            f"link set {br} up"]
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


def active_lab_dir() -> Path | None:
    """Directory of the lab whose bridge exists on this machine (from the bridge's alias).

    Returns ``Path("?")`` for a bridge without the alias, None when there is no lab bridge.
    """
    try:
        alias = Path(f"/sys/class/net/{labconf.BRIDGE}/ifalias").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError:
        return Path("?")
    return Path(alias.removeprefix("gntlab:")) if alias.startswith("gntlab:") else Path("?")
