"""What the lab tells about its nodes: a running node as the host sees it (:class:`Node`) and
what ``status`` found for one (:class:`NodeStatus`). Re-exported by ``lab``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    """One running lab node, as seen from the host (the controller)."""

    name: str                  # node1
    fqdn: str                  # node1.lab.example (its UTS host name)
    address: str               # 198.18.0.11
    netns: str                 # gntlab-node1 (ip netns)
    gnt_root: str              # GNT_ROOT: DIR/root on every node (sshd sets it in sessions)
    libvirt_uri: str           # qemu+tcp://198.18.0.11/system (from the host or any node)
    ssh: list[str]             # ["ssh", "-F", "DIR/ssh_config", "node1"]: append a command
    init_pid: int              # host PID of the node's PID 1 (SIGKILL it to crash the node)
    dir: str                   # DIR/node1 (logs, configs; fs/ holds its private views)
    local_uri: str = "qemu:///system"   # the same libvirtd, from inside the node
    root_on_host: str = ""     # DIR/node1/root: this node's GNT_ROOT as the host sees it
    kind: str = "netns"        # "guest": a QEMU guest (init_pid is its QEMU; no netns)

    def ssh_argv(self, command: str) -> list[str]:
        """argv that runs ``command`` (a shell string) on the node over SSH."""
        return [*self.ssh, command]

    def nsenter_argv(self, argv: list[str]) -> list[str]:
        """argv that runs ``argv`` inside the node's namespaces directly (no SSH)."""
        return ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-n", "-p", "--", *argv]


@dataclass
class NodeStatus:
    """What ``status`` found for one node."""

    name: str
    address: str
    init_alive: bool
    sshd: bool
    libvirtd: bool
    domains: dict[str, str] = field(default_factory=dict)   # domain name -> state
