"""Bringing a lab up: the lab-wide files once for every node, then each node's own files,
the network, the nodes and the wait until they answer.

A lab's nodes have a *kind* each: ``netns`` (namespaces on the host, ``Lab``) or ``guest``
(QEMU TCG guests, ``labguest.GuestDriver``). A lab can mix them (``Lab.up(n, guests=m)``:
node1..nodeN namespace nodes, node(N+1)..node(N+M) guests); all nodes of a lab share the slot's
bridge, subnet, hosts file, lab key, ssh configuration and ``known_hosts`` and the ``GNT_ROOT``
path, so any node reaches any other over SSH and libvirt's TCP listener.

``lab.json`` records the kind per node (``"kind"`` in each node record); state files written
before that have one lab-level ``"kind"`` (absent: namespace nodes), which :func:`record_kind`
still reads.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import labconf
from labconf import NodeLayout
from labnet import make_network
from labproc import LabError, run

NETNS, GUEST = "netns", "guest"
KINDS = (NETNS, GUEST)


def record_kind(state: dict[str, Any], rec: dict[str, Any]) -> str:
    """The kind of one node record: its own ``kind``, else the lab-level one (old state files),
    else ``netns``."""
    return str(rec.get("kind") or state.get("kind") or NETNS)


def lab_kind(kinds: list[str]) -> str:
    """The lab-level ``kind`` written to ``lab.json``: ``netns``, ``guest`` or ``mixed``."""
    return kinds[0] if len(set(kinds)) == 1 else "mixed"


@dataclass(frozen=True)
class SharedFiles:
    """The lab-wide texts every node gets a copy of (also written to ``DIR``)."""

    client: str          # DIR/ssh_config
    known_hosts: str     # DIR/known_hosts
    hosts: str           # DIR/hosts
    public_key: str      # DIR/id_ed25519.pub (root on every node accepts it)


def write_shared_files(lab: Any, layouts: list[NodeLayout]) -> SharedFiles:
    """Lab key, every node's SSH host key, ``ssh_config``, ``known_hosts`` and ``hosts`` for
    all nodes of the lab (whatever their kind), made once."""
    n, slot = len(layouts), layouts[0].slot
    (lab.dir / "cm").mkdir(mode=0o700, exist_ok=True)
    lab.shared_dir.mkdir(exist_ok=True)
    keygens = [subprocess.Popen(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                 "gnt-lab", "-f", str(lab.key)], stdin=subprocess.DEVNULL)]
    for lay in layouts:
        lay.dir.mkdir(parents=True, exist_ok=True)
        keygens.append(subprocess.Popen(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", lay.fqdn,
             "-f", str(lay.dir / "ssh_host_ed25519_key")], stdin=subprocess.DEVNULL))
    if any(proc.wait() != 0 for proc in keygens):
        raise LabError("ssh-keygen failed")
    shared = SharedFiles(client=labconf.ssh_config(lab.dir, n, lab.key, slot),
                         known_hosts=labconf.known_hosts(lab.dir, n, slot),
                         hosts=labconf.hosts_file(n, slot),
                         public_key=lab.key.with_suffix(".pub").read_text())
    lab.ssh_config.write_text(shared.client)
    (lab.dir / "known_hosts").write_text(shared.known_hosts)
    (lab.dir / "hosts").write_text(shared.hosts)
    return shared


def write_netns_files(lab: Any, lay: NodeLayout, shared: SharedFiles, venv_bin: str) -> None:
    """A namespace node's own files: private views, sshd and libvirt configuration, PID 1
    script, and copies of the lab-wide files (hosts, ssh config, lab key)."""
    lab.gnt_root.mkdir(exist_ok=True)     # mount point of every namespace node's root_on_host
    for path in labconf.PRIVATE_DIRS:
        lay.private(path).mkdir(parents=True, exist_ok=True)
    (lay.root_on_host / labconf.SHARED_STORAGE_SUBDIR).mkdir(parents=True, exist_ok=True)
    (lay.dir / "sshd_config").write_text(labconf.sshd_config(lay, venv_bin))
    (lay.dir / "init.sh").write_text(labconf.init_script(lay))
    etc = lay.private("/etc/libvirt")
    (etc / "qemu").mkdir(exist_ok=True)
    (etc / "libvirtd.conf").write_text(labconf.libvirtd_conf(lay, str(uuid.uuid4())))
    (etc / "qemu.conf").write_text(labconf.qemu_conf(lay))
    nwfilter = Path("/etc/libvirt/nwfilter")
    if nwfilter.is_dir():
        shutil.copytree(nwfilter, etc / "nwfilter", dirs_exist_ok=True)
    caps = Path("/var/cache/libvirt/qemu/capabilities")
    if caps.is_dir():   # saves each libvirtd probing QEMU (valid: same binaries)
        shutil.copytree(caps, lay.private("/var/cache/libvirt") / "qemu/capabilities",
                        dirs_exist_ok=True)
    lay.private("/etc/hosts").write_text(shared.hosts)
    lay.private("/etc/resolv.conf").write_text(labconf.resolv_conf())
    for rc_file in labconf.PRIVATE_SHELL_FILES:
        lay.private(rc_file).write_text(labconf.shell_rc(venv_bin))
    dot_ssh = lay.private("/root/.ssh")
    dot_ssh.chmod(0o700)
    (dot_ssh / "authorized_keys").write_text(shared.public_key)
    (dot_ssh / "config").write_text(shared.client)
    shutil.copy2(lab.key, dot_ssh / "id_ed25519")
    shutil.copy2(lab.key.with_suffix(".pub"), dot_ssh / "id_ed25519.pub")


def up_nodes(lab: Any, kinds: list[str], t0: float, driver: Any, venv_bin: str) -> None:
    """Make the lab's nodes: ``kinds[i]`` is the kind of node ``i + 1``.

    In order, each step recorded in ``lab.json`` before it is made: state, the guest image (if
    any guest), shared and per-node files, shared-storage binds of the namespace nodes, the
    network (bridge; veths and namespaces; taps), the namespace nodes' PID 1s, the guests'
    virtiofsd and QEMU, then the wait until every node answers (namespace nodes first: they
    are ready in well under a second, guests take a minute or more under TCG).
    """
    slot = lab._up_slot()
    layouts = [NodeLayout(i, lab.dir, slot) for i in range(1, len(kinds) + 1)]
    netns = [lay for lay, kind in zip(layouts, kinds, strict=True) if kind == NETNS]
    guests = [lay for lay, kind in zip(layouts, kinds, strict=True) if kind == GUEST]
    created = not lab.dir.exists()
    lab.dir.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "version": 3, "kind": lab_kind(kinds), "phase": "starting", "n": len(kinds),
        "created_dir": created, "slot": slot, "bridge": labconf.SlotLayout(slot).bridge,
        "host_mounts": [],
        "nodes": [{"index": lay.index, "name": lay.name, "kind": kind,
                   "netns": lay.netns if kind == NETNS else "", "veth": lay.veth,
                   "address": lay.address}
                  for lay, kind in zip(layouts, kinds, strict=True)]}
    lab._save(state)
    if guests:
        state.update(driver.state_fields())      # image (built if not cached), spec, lab id
        lab._save(state)
        lab.timings["image"] = time.monotonic() - t0
    shared = write_shared_files(lab, layouts)
    for lay in netns:
        write_netns_files(lab, lay, shared, venv_bin)
    for lay in guests:
        driver.write_node_files(state, lay, shared)
    lab.timings["files"] = time.monotonic() - t0
    # Shared storage of namespace nodes: bind mounts in the host's mount namespace, made before
    # the nodes start so every node's copy of the mount table has them (same paths everywhere).
    for lay in netns:
        point = lay.root_on_host / labconf.SHARED_STORAGE_SUBDIR
        state["host_mounts"].append(str(point))
        lab._save(state)
        run(["mount", "--bind", str(lab.shared_dir), str(point)])
    make_network(netns, lab.dir, slot, taps=guests)
    lab.timings["network"] = time.monotonic() - t0
    for lay in netns:
        lab._spawn(state["nodes"][lay.index - 1], lay)
        lab._save(state)
    for lay in guests:
        driver.spawn(state, state["nodes"][lay.index - 1], lay)
    if netns:
        lab._wait_ready(state, netns)
        lab.timings["netns_ready"] = time.monotonic() - t0
    if guests:
        driver.wait_ready(state, guests)
    state["phase"] = "up"
    lab._save(state)


def check_kinds(n: int, kind: str, guests: int) -> list[str]:
    """The kind of every node of ``Lab.up(n, kind, guests=...)`` (LabError for bad input)."""
    if kind not in KINDS:
        raise LabError(f"unknown node kind {kind!r} ({' or '.join(KINDS)})")
    if guests < 0:
        raise LabError(f"guest node count {guests} is negative")
    return [kind] * n + [GUEST] * guests
