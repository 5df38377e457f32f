"""The cluster's SSH key pair: every node gets it, so any node (a new master after a failover,
the source of ``gnt-instance move``) reaches every other node as root, as Ganeti's nodes share
root's key pair.

The pair lives in root's ``~/.ssh`` as ``gnt_cluster_id_ed25519`` (+ ``.pub``); its public half
is in every node's ``authorized_keys``. The master makes it at the first ``gnt-node add``
(from its own ``id_ed25519`` if it has one, so existing trust keeps working).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from gnt.core.fileutil import atomic_write

KEY_NAME = "gnt_cluster_id_ed25519"


def ssh_dir() -> Path:
    return Path.home() / ".ssh"


def key_path() -> Path:
    """This node's copy of the cluster's private key (may not exist)."""
    return ssh_dir() / KEY_NAME


def identity_args() -> list[str]:
    """``ssh`` options offering the cluster key (when this node has it) besides the defaults."""
    path = key_path()
    return ["-o", f"IdentityFile={path}"] if path.is_file() else []


def ensure_cluster_key() -> tuple[bytes, str]:
    """(private key bytes, public key line) of the cluster key, made if missing."""
    directory = ssh_dir()
    directory.mkdir(mode=0o700, exist_ok=True)
    private, public = key_path(), key_path().with_name(KEY_NAME + ".pub")
    if not private.is_file():
        own = directory / "id_ed25519"
        if own.is_file() and own.with_name("id_ed25519.pub").is_file():
            # The private key is 0600 from creation: no window where others could read it.
            atomic_write(public, own.with_name("id_ed25519.pub").read_bytes(), mode=0o644)
            atomic_write(private, own.read_bytes(), mode=0o600)
        else:
            # ssh-keygen creates the private key 0600 itself.
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "gnt-cluster", "-f", str(private)], check=True, capture_output=True)
    return private.read_bytes(), public.read_text().strip()


def master_public_keys() -> list[str]:
    """The cluster public key first, then the master's own root public keys."""
    _private, cluster_pub = ensure_cluster_key()
    keys = [cluster_pub]
    for path in sorted(ssh_dir().glob("id_*.pub")):
        line = path.read_text().strip()
        if line and line not in keys:
            keys.append(line)
    return keys
