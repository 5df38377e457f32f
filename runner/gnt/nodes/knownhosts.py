"""The cluster's known_hosts file: every node's SSH host keys, so the cluster's own ssh
connections (master to node, node to node) verify host keys without prompts.

Each node keeps its own host keys (nothing is shared between nodes). They are recorded in the
node's config object (``ssh_host_keys``: ``"keytype base64"`` strings) when the cluster is
initialised (the master's, read from its own sshd) and at every ``gnt-node add`` and
``--readd`` (read on the node over the first-contact SSH connection of the add, the one moment a
new key is accepted). The config is the one source of truth: it travels to the master
candidates, so a new master after a failover has every key, and verify can compare.

The file ``<data dir>/known_hosts`` (0644, root's) is derived from the config: one line
``name,primary_ip[,secondary_ip] keytype key`` per recorded key of every node. The replicator
writes it on the master and pushes it with the ssconf files to every node after each config
change (so ``gnt-cluster redist-conf`` pushes it again). Connections use it through
:func:`gnt.nodes.ssh.host_key_options`.
"""

from __future__ import annotations

import base64
import binascii
import glob
import hashlib
import shlex
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

from gnt.core.fileutil import atomic_write, ensure_dir
from gnt.nodes import rpc, ssh

FILE_MODE = 0o644
FIELD = "ssh_host_keys"         # the node object's field (absent in older configs: none)
KEYSCAN_TIMEOUT = 5
# Where a node's sshd keeps its public host keys by default (the system's, not ours): read
# when asking the node's own sshd (ssh-keyscan of its address) yields nothing.
SYSTEM_HOST_KEYS = "/etc/ssh/ssh_host_*_key.pub"
KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})
# What ssh prints (last line of stderr) when a host key does not match the file.
_REJECTED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


class HostKeyError(Exception):
    """A node's host keys could not be read."""


def recorded_keys(node: dict[str, Any]) -> list[str]:
    """The host keys recorded for ``node`` (``[]`` for a node recorded by an older version)."""
    return [str(key) for key in node.get(FIELD) or []]


def _valid_key(key_type: str, blob: str) -> bool:
    """True for a well-formed public key blob of ``key_type`` (its own type string inside)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 4:
        return False
    (length,) = struct.unpack(">I", raw[:4])
    return raw[4:4 + length] == key_type.encode()


def parse_keys(text: str) -> list[str]:
    """The public host keys in ``text`` (``ssh-keyscan`` output or ``*.pub`` files):
    ``"keytype base64"`` strings, sorted, each once. Anything else (comments, host fields,
    garbage) is ignored, so nothing but a key reaches a known_hosts line."""
    found = set()
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        for index, word in enumerate(words[:-1]):
            if word in KEY_TYPES and _valid_key(word, words[index + 1]):
                found.add(f"{word} {words[index + 1]}")
                break
    return sorted(found)


def fingerprint(key: str) -> str:
    """``ssh-ed25519 SHA256:...`` (as ``ssh-keygen -l`` shows it) for the job log."""
    key_type, blob = key.split()[:2]
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return f"{key_type} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


def host_names(node: dict[str, Any]) -> str:
    """The host field of a node's lines: its name, primary and (if other) secondary IP."""
    names = [node["name"], node["primary_ip"], node.get("secondary_ip") or node["primary_ip"]]
    return ",".join(dict.fromkeys(names))


def content(data: dict[str, Any]) -> str:
    """The known_hosts file of the config ``data``: every node's recorded keys, by name."""
    lines = ["# gnt.cluster: every node's SSH host keys, written from config.data by the"
             " master; do not edit\n"]
    for node in sorted(data["nodes"].values(), key=lambda n: n["name"]):
        lines += [f"{host_names(node)} {key}\n" for key in recorded_keys(node)]
    return "".join(lines)


def with_node(data: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``node`` added or replaced (a shallow copy; ``data`` is not changed): the
    file as it will be once a node being added is in the config."""
    return {**data, "nodes": {**data["nodes"], node["uuid"]: node}}


def write_local(data: dict[str, Any], directory: Path | None = None) -> Path:
    """Write this node's known_hosts file for the config ``data`` (atomically, mode
    :data:`FILE_MODE`, the data dir made 0700 if missing); returns its path."""
    path = (directory / ssh.KNOWN_HOSTS_NAME) if directory else ssh.known_hosts_file()
    ensure_dir(path.parent)
    atomic_write(path, content(data).encode(), mode=FILE_MODE, sync=False)
    return path


def read_command(address: str, port: int) -> str:
    """Shell command run on a node printing its public host keys: what its sshd presents at
    ``address`` (``ssh-keyscan`` of its own address), else the system's key files; it fails
    when it finds neither."""
    scan = (f"ssh-keyscan -T {KEYSCAN_TIMEOUT} -p {int(port)} {shlex.quote(address)}"
            " 2>/dev/null")
    return (f"k=$({scan}); if [ -n \"$k\" ]; then printf '%s\\n' \"$k\";"
            f" else cat {SYSTEM_HOST_KEYS}; fi")


def first_contact_target(name: str, address: str, port: int) -> ssh.Target:
    """How ``gnt-node add`` first reaches a node: its host key is accepted (then recorded)."""
    return ssh.Target(name, address, False, port, first_contact=True)


def join_check(name: str, address: str, port: int, storage_dir: str) -> dict[str, Any]:
    """:func:`gnt.nodes.rpc.join_check` over the first-contact connection of the add."""
    target = first_contact_target(name, address, port)
    return dict(rpc.call_target(target, "join-check", storage_dir=storage_dir))


def fetch_keys(name: str, address: str, port: int) -> list[str]:
    """The host keys of the joining node ``name``, read on it over the first-contact
    connection of the add; :class:`HostKeyError` (naming the node) when it cannot say."""
    result = ssh.run(first_contact_target(name, address, port), read_command(address, port),
                     timeout=KEYSCAN_TIMEOUT + 30)
    if not result.ok:
        raise HostKeyError(f"{name}: {result.reason()}")
    return parse_keys(result.stdout)


def _is_local_address(address: str) -> bool:
    """True when ``address`` is one of this machine's (a socket can be bound to it)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


def local_keys(address: str, port: int) -> list[str]:
    """This node's host keys, as its sshd presents them at ``address`` (its own address; no
    other host is asked), else from the system's key files."""
    if _is_local_address(address):
        try:
            scan = subprocess.run(["ssh-keyscan", "-T", str(KEYSCAN_TIMEOUT), "-p", str(port),
                                   address], capture_output=True, text=True, check=False,
                                  timeout=KEYSCAN_TIMEOUT + 10)
        except (OSError, subprocess.TimeoutExpired):
            scan = None
        keys = parse_keys(scan.stdout) if scan is not None else []
        if keys:
            return keys
    text = ""
    for path in sorted(glob.glob(SYSTEM_HOST_KEYS)):
        try:
            text += Path(path).read_text() + "\n"
        except OSError:
            continue
    return parse_keys(text)


def key_rejected(error: str) -> bool:
    """True when an ssh error says the node's host key did not match the known_hosts file."""
    return any(marker.lower() in error.lower() for marker in _REJECTED)
