"""The cluster's master IP on this node's master netdev: added when a node becomes (or starts
as) the master, removed when it stops being the master."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from typing import Any

Feedback = Callable[[str], None]
MASTER_NETMASK = 32


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


def deactivate_master_ip(data: dict[str, Any]) -> None:
    """Remove the cluster IP from this node (no-op without a netdev or when absent)."""
    cluster = data["cluster"]
    if cluster.get("master_netdev"):
        subprocess.run(["/bin/sh", "-c", master_ip_command(
            "del", cluster["master_ip"], cluster["master_netdev"])],
            capture_output=True, check=False)
