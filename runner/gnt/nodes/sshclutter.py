"""What ``gnt-cluster verify --verify-ssh-clutter`` asks a node (node call ``ssh-clutter``): which
``user@host`` of a cluster node has more than one key in root's ``authorized_keys`` here.

A node's key is added to ``authorized_keys`` by line (role ``node_ssh_keys``); when that node's
key changes (a reinstall, a failed or repeated operation), the old line stays beside the new
one. Ganeti reports such clutter for the host names of the cluster's nodes only (other systems
may keep several keys for their own hosts there). A key names its owner in its comment,
``user@host``, where ``host`` is what that machine's ``hostname`` says: its full name or, often,
its first label; both forms of a node's name count.

Runs on the node: standard library and :mod:`gnt.nodes.sshkeys` only.
"""

from __future__ import annotations

from pathlib import Path

from gnt.nodes.sshkeys import ssh_dir

# How the key types of OpenSSH's key lines begin (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256,
# sk-ssh-ed25519@openssh.com ...).
KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-")


def _owner(words: list[str]) -> str | None:
    """The ``user@host`` a key line's comment names: the first word with an '@' after the
    key type and key (any word, as Ganeti reads it, when no key type is known)."""
    for index, word in enumerate(words):
        if word.startswith(KEY_TYPE_PREFIXES):
            words = words[index + 2:]
            break
    return next((word for word in words if "@" in word), None)


def key_owners(text: str) -> dict[str, list[int]]:
    """``user@host`` -> the line numbers (from 1) of the keys whose comment names it, for the
    key lines of an ``authorized_keys`` text (comments, blank lines and keys without a
    ``user@host`` word are skipped)."""
    owners: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        owner = _owner(words)
        if owner is not None:
            owners.setdefault(owner, []).append(number)
    return owners


def multiple_keys(node_names: list[str], path: str | None = None) -> dict[str, list[int]]:
    """``user@host`` -> its line numbers, for each owner with more than one key line in
    ``path`` (default: root's ``authorized_keys``) whose host is one of ``node_names`` or the
    first label of one. A missing file has no clutter."""
    hosts = set(node_names) | {name.split(".")[0] for name in node_names}
    file = Path(path) if path else ssh_dir() / "authorized_keys"
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    return {owner: lines for owner, lines in sorted(key_owners(text).items())
            if len(lines) > 1 and owner.rpartition("@")[2] in hosts}
