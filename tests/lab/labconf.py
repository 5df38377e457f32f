"""Text of the files a lab node runs with: hosts file, sshd and libvirt configuration, the node's
PID 1 script and the lab's ssh client configuration.

Pure functions of the layout (no side effects), so the layout is easy to read in one place and
easy to test. See ``docs/lab.md`` for what each setting is for.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

SUBNET = "198.18.0"
# Slot K (0..SLOTS-1) owns 198.18.0.(64K)/26: several labs can run at once, one per slot.
SLOTS = 4
SLOT_SIZE = 64
PREFIX_LEN = 26
CONTROLLER_HOST = 1                 # .64K+1 on the slot's bridge
CLUSTER_NAME = "cluster.lab.example"
CLUSTER_HOST = 10                   # .64K+10
DOMAIN = "lab.example"
FIRST_NODE_HOST = 11
MAX_NODES = 30                      # node addresses .64K+11 .. .64K+40
INSTANCE_NAMES = 20                 # inst1..inst20.lab.example at .64K+41 .. .64K+60
FIRST_INSTANCE_HOST = 41
NODE_IFACE = "eth0"
SLOT_ENV = "GNT_LAB_SLOT"
LIBVIRT_TCP_PORT = 16509
SSH_PORT = 22
# The private views of host paths a node gets, as (path inside the node, directory in DIR/nodeK/fs).
PRIVATE_DIRS = ("/run", "/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt",
                "/var/log/libvirt", "/root/.ssh")
PRIVATE_FILES = ("/etc/hosts", "/etc/resolv.conf")
# Shell start-up files of root: private (when the host has them, as mount points) so the host's
# PATH changes (pyenv, cargo) do not push the venv off the front of PATH in node sessions.
PRIVATE_SHELL_FILES = ("/root/.bashrc", "/root/.profile")
SHARED_STORAGE_SUBDIR = "srv/gnt/shared-file-storage"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def check_slot(slot: int) -> int:
    """``slot`` if it is a valid slot number, else ValueError naming it."""
    if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS:
        raise ValueError(f"lab slot {slot!r} is out of range 0..{SLOTS - 1}")
    return slot


@dataclass(frozen=True)
class SlotLayout:
    """Network names and addresses of one lab slot (everything derived from its number)."""

    slot: int = 0

    def host(self, offset: int) -> str:
        """Address ``198.18.0.(64*slot + offset)``."""
        return f"{SUBNET}.{SLOT_SIZE * self.slot + offset}"

    @property
    def network(self) -> str:
        """The slot's subnet, e.g. ``198.18.0.64/26`` for slot 1."""
        return f"{self.host(0)}/{PREFIX_LEN}"

    @property
    def bridge(self) -> str:
        """The slot's bridge, ``gntlab{K}``."""
        return f"gntlab{self.slot}"

    @property
    def netns_prefix(self) -> str:
        """Prefix of the slot's network namespaces (``gntlab{K}-node1`` ...)."""
        return f"gntlab{self.slot}-"

    @property
    def veth_prefix(self) -> str:
        """Prefix of the host ends of the slot's veths (``gntlab{K}-n1`` ...; <= 15 chars)."""
        return f"gntlab{self.slot}-n"

    @property
    def controller_address(self) -> str:
        """The host's address on the slot's bridge."""
        return self.host(CONTROLLER_HOST)

    @property
    def cluster_address(self) -> str:
        """Address of ``cluster.lab.example`` (the floating master IP) in this slot."""
        return self.host(CLUSTER_HOST)

    def node_address(self, index: int) -> str:
        """Address of node ``index`` (1-based)."""
        return self.host(FIRST_NODE_HOST + index - 1)

    def instance_address(self, index: int) -> str:
        """Address of ``inst{index}.lab.example`` (1-based)."""
        return self.host(FIRST_INSTANCE_HOST + index - 1)


@dataclass(frozen=True)
class NodeLayout:
    """Names, address and paths of one lab node (everything derived from its index and slot)."""

    index: int
    lab_dir: Path
    slot: int = 0

    @property
    def net(self) -> SlotLayout:
        """The node's slot."""
        return SlotLayout(self.slot)

    @property
    def name(self) -> str:
        """Short name, e.g. ``node1``."""
        return f"node{self.index}"

    @property
    def fqdn(self) -> str:
        """Host name inside the node, e.g. ``node1.lab.example``."""
        return f"{self.name}.{DOMAIN}"

    @property
    def address(self) -> str:
        """The node's address on the lab bridge."""
        return self.net.node_address(self.index)

    @property
    def netns(self) -> str:
        """Network namespace name (``ip netns``)."""
        return f"{self.net.netns_prefix}{self.name}"

    @property
    def veth(self) -> str:
        """Host end of the node's veth pair (enslaved to the bridge)."""
        return f"{self.net.veth_prefix}{self.index}"

    @property
    def dir(self) -> Path:
        """The node's directory in the lab directory."""
        return self.lab_dir / self.name

    @property
    def fs(self) -> Path:
        """Backing directory of the node's private views (``fs/etc/libvirt`` is its /etc/libvirt)."""
        return self.dir / "fs"

    @property
    def gnt_root(self) -> Path:
        """The node's ``GNT_ROOT``: ``DIR/root``, the same path on every node.

        Inside each node, ``root_on_host`` is bind-mounted (recursively) over it, so the path is
        node-local like on real Ganeti nodes; on the host ``DIR/root`` is an empty directory.
        """
        return self.lab_dir / "root"

    @property
    def root_on_host(self) -> Path:
        """The directory behind this node's ``GNT_ROOT``, as the host sees it (``DIR/nodeK/root``)."""
        return self.dir / "root"

    @property
    def libvirt_uri(self) -> str:
        """URI of the node's libvirtd from anywhere in the lab (host or nodes)."""
        return f"qemu+tcp://{self.address}/system"

    def private(self, path: str) -> Path:
        """Backing path in DIR of the node's private view of ``path``."""
        return self.fs / path.lstrip("/")


def hosts_file(n: int, slot: int = 0) -> str:
    """The lab hosts file: controller, cluster name, nodes and spare instance names."""
    net = SlotLayout(slot)
    lines = [
        "# gnt.cluster lab: names resolve here only (no DNS in the lab)",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{net.controller_address}\tcontroller.{DOMAIN} controller",
        f"{net.cluster_address}\t{CLUSTER_NAME} cluster",
    ]
    for i in range(1, n + 1):
        node = NodeLayout(i, Path("/"), slot)
        lines.append(f"{node.address}\t{node.fqdn} {node.name}")
    for i in range(1, INSTANCE_NAMES + 1):
        lines.append(f"{net.instance_address(i)}\tinst{i}.{DOMAIN} inst{i}")
    return "\n".join(lines) + "\n"


def resolv_conf() -> str:
    """A resolver configuration that can only reach the node's own loopback (no DNS)."""
    return ("# gnt.cluster lab: no DNS; names come from /etc/hosts\n"
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def session_path(venv_bin: str) -> str:
    """``PATH`` of SSH sessions on the nodes: the venv's bin directory first, then the system's."""
    return f"{venv_bin}:{SYSTEM_PATH}"


def shell_rc(venv_bin: str) -> str:
    """A node's private ``/root/.bashrc`` and ``/root/.profile``: only the lab's PATH."""
    return ("# gnt.cluster lab node: private view; the host's shell start-up files are not used\n"
            f"export PATH={session_path(venv_bin)}\n")


def sshd_config(node: NodeLayout, venv_bin: str) -> str:
    """sshd configuration: the node's address only, own host key, key-based root login only.

    ``SetEnv`` gives every session ``GNT_ROOT`` and a ``PATH`` starting with ``venv_bin`` (sshd
    applies SetEnv after its default PATH, so it wins for non-login sessions).
    """
    return f"""# gnt.cluster lab sshd for {node.name}
ListenAddress {node.address}
Port {SSH_PORT}
HostKey {node.dir / "ssh_host_ed25519_key"}
PidFile /run/sshd.pid
AuthorizedKeysFile {node.private("/root/.ssh") / "authorized_keys"}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
PrintMotd no
AcceptEnv LANG LC_*
SetEnv GNT_ROOT={node.gnt_root} GNT_LAB_NODE={node.name} GNT_LAB_DIR={node.lab_dir} PATH={session_path(venv_bin)}
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel INFO
"""


def libvirtd_conf(node: NodeLayout, host_uuid: str) -> str:
    """libvirtd.conf: own host UUID, unauthenticated TCP listener on the node address only."""
    return f"""# gnt.cluster lab libvirtd for {node.name}
listen_tls = 0
listen_tcp = 1
listen_addr = "{node.address}"
tcp_port = "{LIBVIRT_TCP_PORT}"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
host_uuid = "{host_uuid}"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""


def qemu_conf(node: NodeLayout) -> str:
    """qemu.conf: QEMU as root without security driver or cgroups, migration on the node address."""
    return f"""# gnt.cluster lab qemu.conf for {node.name}
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
migration_host = "{node.address}"
migration_address = "{node.address}"
"""


def init_script(node: NodeLayout) -> str:
    """Bash script run as PID 1 of the node's PID namespace.

    It sets the host name, bind-mounts the node's ``root_on_host`` recursively (with the shared
    storage bind below it) over the common ``GNT_ROOT``, mounts the private views, starts libvirtd and sshd as its children and
    then only reaps: every orphan in the namespace is re-parented to it, and ``wait`` collects
    them as they exit. SIGTERM is ignored; ``down`` (or a simulated crash) sends SIGKILL, and the
    kernel then kills every process of the namespace.
    """
    q = shlex.quote
    mounts = [f"mount --bind {q(str(node.private(p)))} {q(p)}"
              for p in PRIVATE_DIRS + PRIVATE_FILES]
    mounts += [f"if [ -f {q(p)} ]; then mount --bind {q(str(node.private(p)))} {q(p)}; fi"
               for p in PRIVATE_SHELL_FILES]
    log = node.dir / "daemons.log"
    return f"""#!/bin/bash
# PID 1 of gnt.cluster lab node {node.name} (own mount, UTS, PID and network namespaces).
set -u
trap : TERM INT HUP
hostname {q(node.fqdn)} || exit 1
mount --rbind {q(str(node.root_on_host))} {q(str(node.gnt_root))} || exit 1
{chr(10).join(m + " || exit 1" for m in mounts)}
mkdir -p /run/sshd /run/libvirt /run/lock
exec </dev/null >>{q(str(log))} 2>&1
/usr/sbin/libvirtd --listen &
/usr/sbin/sshd -D -e -f {q(str(node.dir / "sshd_config"))} &
echo "$(date +%T.%N) {node.name}: PID 1 up, libvirtd and sshd started"
while :; do
  sleep 3600 &
  wait $!
done
"""


def ssh_config(lab_dir: Path, n: int, key: Path, slot: int = 0) -> str:
    """The lab's ssh client configuration (used on the host and, copied, inside every node).

    ControlPath includes the local short host name (%L) so the host and each node keep their own
    master connections even though they share the directory.
    """
    blocks = [f"# gnt.cluster lab ssh client configuration ({lab_dir})"]
    for i in range(1, n + 1):
        node = NodeLayout(i, lab_dir, slot)
        blocks.append(f"Host {node.name} {node.fqdn} {node.address}\n"
                      f"  HostName {node.address}\n  HostKeyAlias {node.name}")
    # The cluster address floats between master nodes, so its host key is not pinned.
    cluster = SlotLayout(slot).cluster_address
    blocks.append(f"Host {CLUSTER_NAME} cluster {cluster}\n  HostName {cluster}\n"
                  "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null")
    blocks.append(f"""Host *
  User root
  Port {SSH_PORT}
  IdentityFile {key}
  IdentitiesOnly yes
  UserKnownHostsFile {lab_dir / "known_hosts"}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking accept-new
  CheckHostIP no
  UpdateHostKeys no
  BatchMode yes
  PasswordAuthentication no
  GSSAPIAuthentication no
  ControlMaster auto
  ControlPersist 60
  ControlPath {lab_dir / "cm"}/%L-%h-%p
  ConnectTimeout 5
  ServerAliveInterval 5
  ServerAliveCountMax 2
  LogLevel ERROR""")
    return "\n\n".join(blocks) + "\n"


def known_hosts(lab_dir: Path, n: int, slot: int = 0) -> str:
    """known_hosts lines for every node's host key (under its HostKeyAlias, name and address)."""
    lines = []
    for i in range(1, n + 1):
        node = NodeLayout(i, lab_dir, slot)
        key = (node.dir / "ssh_host_ed25519_key.pub").read_text().split()
        lines.append(f"{node.name},{node.fqdn},{node.address} {key[0]} {key[1]}")
    return "\n".join(lines) + "\n"
