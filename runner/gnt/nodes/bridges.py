"""Which clusters on this machine use a bridge a gnt cluster made.

Several clusters (GNT_ROOTs) can share one machine and one bridge. A bridge made by
``gnt-cluster init`` carries, in its interface alias (``/sys/class/net/NAME/ifalias``, kept by
the kernel with the bridge itself), a mark and the short ids of the clusters using it:
``gnt-cluster-bridge users=ID1,ID2``. Each cluster's init adds its id to a marked bridge it
uses; its destroy removes the id, and the bridge is deleted only when no cluster is left on it
and no port is attached. A bridge without the mark (made by the administrator or by another
tool) is never changed or deleted. The alias holds 255 bytes (about 17 ids): when more clusters
use a bridge, the list ends with ``+`` and the bridge is never deleted automatically.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

MARK = "gnt-cluster-bridge"
_USERS = " users="
SYS_NET = Path("/sys/class/net")
ALIAS_MAX = 255  # bytes the kernel keeps in an interface alias (IFALIASZ - 1)
MORE = "+"  # ends a list that could not hold every cluster's id


def cluster_id(uuid: str) -> str:
    """The short id a cluster is listed under on a bridge (the alias holds 256 bytes)."""
    return uuid.replace("-", "")[:12]


def exists(name: str) -> bool:
    return (SYS_NET / name).exists()


def _read_alias(name: str) -> str:
    try:
        return (SYS_NET / name / "ifalias").read_text().strip()
    except OSError:
        return ""


def _set_alias(name: str, text: str) -> None:
    (SYS_NET / name / "ifalias").write_text(text + "\n")


def users(name: str) -> list[str] | None:
    """The clusters listed on bridge ``name``; None if it is not a bridge a gnt cluster made."""
    alias = _read_alias(name)
    if not alias.startswith(MARK):
        return None
    _head, _sep, listed = alias.partition(_USERS)
    return [item for item in listed.split(",") if item]


def _users_text(ids: list[str]) -> str:
    return f"{MARK}{_USERS}{','.join(ids)}"


def _write_users(name: str, ids: list[str]) -> None:
    """Write the id list; one too long for the alias keeps what fits and ends with ``+``."""
    if len(_users_text(ids)) > ALIAS_MAX:
        kept = [item for item in ids if item != MORE]
        while kept and len(_users_text(kept + [MORE])) > ALIAS_MAX:
            kept.pop()
        ids = kept + [MORE]
    _set_alias(name, _users_text(ids))


def claim(name: str, cid: str, created: bool) -> bool:
    """Record that cluster ``cid`` uses bridge ``name`` (marking it if this cluster just
    made it); True if the bridge is now marked with ``cid``."""
    if not exists(name):
        return False
    listed = users(name)
    if listed is None:
        if not created:
            return False  # not ours: someone else's bridge, left alone
        listed = []
    if cid not in listed:
        _write_users(name, listed + [cid])
    return True


def has_ports(name: str) -> bool:
    ports = SYS_NET / name / "brif"
    return ports.is_dir() and any(ports.iterdir())


def release(name: str, cid: str) -> str:
    """Drop cluster ``cid`` from bridge ``name``; delete the bridge if no cluster is left on
    it and nothing is attached. Returns what happened, for the operator."""
    listed = users(name)
    if not exists(name):
        return f"Bridge {name} is already gone"
    if listed is None:
        return f"Bridge {name} is not marked as made by a gnt cluster: left in place"
    remaining = [item for item in listed if item != cid]
    if remaining != listed:
        _write_users(name, remaining)
    if MORE in remaining:
        return (f"Bridge {name} is used by more clusters on this machine than its alias can"
                " list: left in place")
    if remaining:
        return (f"Bridge {name} is still used by another cluster on this machine"
                f" ({', '.join(remaining)}): left in place")
    if has_ports(name):
        return f"Bridge {name} still has ports attached: left in place"
    subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
    return f"Removed bridge {name}"
