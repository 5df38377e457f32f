"""The cluster's master IP on this node's master netdev: added when a node becomes (or starts
as) the master, removed when it stops being the master."""

from __future__ import annotations

import ipaddress
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Feedback = Callable[[str], None]
MASTER_NETMASK = 32
ANNOUNCEMENTS, ANNOUNCE_GAP = 3, 1.1   # gratuitous ARPs, spaced past Linux's neigh locktime
ETH_P_ARP = 0x0806


def master_ip_command(action: str, ip: str, netdev: str) -> str:
    """``ip addr add|del`` of the master IP (idempotent)."""
    addr = f"{ip}/{MASTER_NETMASK}"
    if action == "add":
        return (f"ip -o addr show dev {shlex.quote(netdev)} | grep -qF ' {addr} ' ||"
                f" ip addr add {addr} dev {shlex.quote(netdev)}")
    return (f"! ip -o addr show dev {shlex.quote(netdev)} | grep -qF ' {addr} ' ||"
            f" ip addr del {addr} dev {shlex.quote(netdev)}")


def activate_master_ip(data: dict[str, Any], feedback: Feedback) -> None:
    """Put the cluster IP on this node's master netdev (no-op without a netdev)."""
    cluster = data["cluster"]
    if not cluster.get("master_netdev"):
        return
    proc = subprocess.run(["/bin/sh", "-c", master_ip_command(
        "add", cluster["master_ip"], cluster["master_netdev"])],
        capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        feedback(f"WARNING: could not add the master IP {cluster['master_ip']} to"
                 f" {cluster['master_netdev']}: {proc.stderr.strip()}")
        return
    # As Ganeti's master IP script (arping -U): tell the segment the IP moved here, so
    # clients do not keep sending to the old master's MAC address.
    threading.Thread(target=announce, args=(cluster["master_ip"], cluster["master_netdev"]),
                     name="master-ip-announce", daemon=True).start()


def gratuitous_arp(ip: str, mac: str) -> bytes:
    """An Ethernet broadcast frame: ARP request from ``ip``/``mac`` for ``ip`` itself."""
    hw = bytes.fromhex(mac.replace(":", ""))
    addr = ipaddress.IPv4Address(ip).packed
    header = b"\xff" * 6 + hw + ETH_P_ARP.to_bytes(2, "big")
    arp = (b"\x00\x01" b"\x08\x00" b"\x06" b"\x04" b"\x00\x01" + hw + addr
           + b"\x00" * 6 + addr)
    return header + arp


def announce(ip: str, netdev: str) -> bool:
    """Send gratuitous ARPs for ``ip`` on ``netdev``; False if that cannot be done here."""
    try:
        mac = Path(f"/sys/class/net/{netdev}/address").read_text().strip()
        frame = gratuitous_arp(ip, mac)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
            sock.bind((netdev, 0))
            for index in range(ANNOUNCEMENTS):
                if index:
                    time.sleep(ANNOUNCE_GAP)
                sock.send(frame)
    except (OSError, ValueError):
        return False
    return True


def deactivate_master_ip(data: dict[str, Any]) -> None:
    """Remove the cluster IP from this node (no-op without a netdev or when absent)."""
    cluster = data["cluster"]
    if cluster.get("master_netdev"):
        subprocess.run(["/bin/sh", "-c", master_ip_command(
            "del", cluster["master_ip"], cluster["master_netdev"])],
            capture_output=True, check=False)
